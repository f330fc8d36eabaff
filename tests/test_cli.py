"""The `vitrina` command as a newcomer runs it: a real process on a fresh data directory."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx

from app.redis_setup import free_port
from tests.conftest import Vitrina, cli_env
from tests.warm import WarmPython

CATALOG = "{ products(first: 100) { totalCount } shops { id } collections { slug } }"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**cli_env(tmp_path), **extra}


def _vitrina(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, text=True, capture_output=True, timeout=120
    )


def test_create_token_prints_a_token_once_migrated(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _vitrina("migrate", env=env).returncode == 0
    made = _vitrina("create-token", "--name", "1c", "--scope", "stock:write", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("vit_") and len(made.stdout.strip()) > 40
    bad = _vitrina("create-token", "--name", "1c", "--scope", "root", env=env)
    assert bad.returncode != 0 and "unknown scopes" in bad.stderr


def test_dev_runs_redis_worker_and_api_with_demo_data(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "dev"],
        env=_env(tmp_path, PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the service did not become ready")
        data = httpx.post(f"{base}/graphql", json={"query": CATALOG}).json()["data"]
        assert data["products"]["totalCount"] >= 30  # the upcoming drop is hidden
        assert len(data["shops"]) >= 2 and len(data["collections"]) >= 2
        assert (tmp_path / "demo-token.txt").read_text().startswith("vit_")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "GraphiQL: http://" in output
    assert "simulated Slack, with a page to click on: http://" in output
    assert process.returncode in (0, -signal.SIGINT)


def test_a_failed_migration_exits_with_its_error_instead_of_hanging(
    tmp_path: Path, warm_python: WarmPython
) -> None:
    database = tmp_path / "taken.sqlite3"
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE warehouse (x INTEGER)")  # the first migration's table, taken
    env = _env(tmp_path, DATABASE_URL=f"sqlite://{database}")

    failed = Vitrina(warm_python, env)("migrate")  # before: hung on aiosqlite's thread

    assert failed.returncode != 0
    assert 'table "warehouse" already exists' in failed.stderr
