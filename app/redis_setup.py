"""Redis for the API and the worker: external via REDIS_URL, else an embedded redis-server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from arq.connections import RedisSettings
from redis.asyncio import Redis
from redis.exceptions import RedisError


@dataclass
class EmbeddedRedis:
    """A real redis-server child process on a free loopback port, data kept in `directory`."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop it (it saves its data first) and reap it; kill it if it takes over 10 s."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_embedded_redis(directory: Path, *, persist: bool = True) -> EmbeddedRedis:
    """Start redis-server (from PATH) and wait until it answers PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not on PATH: install it (apt-get install redis-server) "
            "or set REDIS_URL to an external redis"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(directory.resolve()),
        "--save",
        "60 1" if persist else "",
        "--appendonly",
        "yes" if persist else "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--logfile",
        "",
    ]
    # Its own process group: Ctrl-C in a terminal signals the whole foreground group, and
    # redis must outlive the workers finishing their jobs; the command stops it last.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, process_group=0)
    embedded = EmbeddedRedis(process, port)
    try:
        if await _answers(embedded.url):
            return embedded
    except BaseException:  # a stop (Ctrl-C, SIGTERM, a cancel) while it starts
        embedded.stop()
        raise
    embedded.stop()
    raise RuntimeError(f"embedded redis-server on port {port} did not start")


async def _answers(url: str, attempts: int = 100) -> bool:
    client = Redis.from_url(url)
    try:
        for _ in range(attempts):
            try:
                if await client.ping():
                    return True
            except (OSError, RedisError):
                await asyncio.sleep(0.05)
        return False
    finally:
        await client.aclose()


def arq_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)
