"""Real PostgreSQL and redis for the tests: use the machine's, or start what is missing."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.redis_setup import free_port, start_embedded_redis

PG_HOST = "127.0.0.1"


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


REDIS_DATABASES = 16  # redis' default `databases`: numbers 0..15


def _xdist_worker() -> tuple[int, int]:
    """(this worker's index, how many workers) under pytest-xdist; (0, 1) in a plain run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw")), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def worker_redis_url(base: str | None) -> str:
    """The redis database of this test process: each pytest-xdist worker has one of its own,
    since tests flush theirs (FLUSHDB) and count the keys and commands in it.

    Worker gwN of a run uses the database of `base` plus N: TEST_REDIS_URL=redis://host/8
    gives 8 to a plain run, 8 and 9 to `-n 2`. Without TEST_REDIS_URL (`base` None) the
    machine's redis lends the last databases, one per worker: 15 to a plain run, 14 and 15
    to `-n 2`. A number past 15 is refused rather than wrapped onto another worker's."""
    index, count = _xdist_worker()
    if base is None:
        base = f"redis://127.0.0.1:6379/{REDIS_DATABASES - count}"
    parts = urlsplit(base)
    first = int(parts.path.strip("/") or 0)
    if first + index >= REDIS_DATABASES:
        raise RuntimeError(
            f"{count} test workers need redis databases {first}..{first + count - 1} from "
            f"{base}, but redis has only 0..{REDIS_DATABASES - 1}: lower the number in "
            "TEST_REDIS_URL or run fewer workers (-n)"
        )
    return urlunsplit(parts._replace(path=f"/{first + index}"))


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """This worker's database of TEST_REDIS_URL, else of the machine's redis on 6379, else a
    redis-server we start (one per worker: database 0 is then its own)."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield worker_redis_url(url)
        return
    if _listening("127.0.0.1", 6379):
        yield worker_redis_url(None)
        return
    embedded = await start_embedded_redis(
        Path(tempfile.mkdtemp(prefix="vitrina-redis-")), persist=False
    )
    try:
        yield embedded.url
    finally:
        embedded.stop()


@asynccontextmanager
async def postgres_server() -> AsyncIterator[str]:
    """A server URL (no database): TEST_POSTGRES_URL, the machine's, or a throwaway cluster."""
    if url := os.environ.get("TEST_POSTGRES_URL"):
        yield url.rstrip("/")
        return
    if not _listening(PG_HOST, 5432):
        _try_start_machine_cluster()
    if _listening(PG_HOST, 5432):
        yield f"postgres://postgres@{PG_HOST}:5432"
        return
    async with _throwaway_cluster() as url:
        yield url


def _try_start_machine_cluster() -> None:
    if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )


@asynccontextmanager
async def _throwaway_cluster() -> AsyncIterator[str]:
    bindir = _pg_bindir()
    data = Path(tempfile.mkdtemp(prefix="vitrina-pg-"))
    port = free_port()
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(data, "postgres")
    subprocess.run(
        [*user, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *user,
            f"{bindir}/pg_ctl",
            "-D",
            str(data),
            "-w",
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -h {PG_HOST}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        while not _listening(PG_HOST, port):
            await asyncio.sleep(0.1)
        yield f"postgres://postgres@{PG_HOST}:{port}"
    finally:
        subprocess.run(
            [*user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def _pg_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not running and initdb is not installed")
    return str(Path(initdb).parent)
