"""A stop from systemd, docker or k8s (SIGTERM) ends every `vitrina` command as Ctrl-C does.

Each command runs as a real process on its own data directory with the embedded redis. Once it
is up, its descendants are read from /proc; after SIGTERM the command must exit with code 0
within the deadline and leave none of them running (no orphaned redis-server or API worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.redis_setup import free_port
from tests.conftest import cli_env, copy_sqlite

STARTUP_SECONDS = 120  # `dev` migrates and loads the demo catalogue first; the CPU is shared
STOP_SECONDS = 20  # nothing is in flight: well inside the workers' 10 s grace plus the API's


@dataclass(frozen=True)
class Proc:
    """A process as /proc names it: the pid and its start time (pids are reused)."""

    pid: int
    started: int
    name: str

    @classmethod
    def read(cls, pid: int) -> Proc | None:
        fields = _stat(pid)
        return None if fields is None else cls(pid, int(fields[19]), _name(pid))

    def running(self) -> bool:
        fields = _stat(self.pid)
        # a zombie (Z) or a dead task (X) is gone; only its reaping is left to its new parent
        return fields is not None and int(fields[19]) == self.started and fields[0] not in "ZX"


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): state is field 0."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def descendants(pid: int) -> set[Proc]:
    """Children, grandchildren, …, of `pid`, from every thread's children list."""
    found: set[Proc] = set()
    parents = [pid]
    while parents:
        parent = parents.pop()
        for listing in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(p) for p in listing.read_text().split()]
            except OSError:
                continue
            for child in pids:
                if (proc := Proc.read(child)) is not None and proc not in found:
                    found.add(proc)
                    parents.append(child)
    return found


@dataclass
class Command:
    process: subprocess.Popen[str]
    port: int
    log: Path
    children: set[Proc] = field(default_factory=set)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def data_dir(tmp_path: Path, migrated_sqlite: Path) -> Path:
    copy_sqlite(migrated_sqlite, tmp_path)
    return tmp_path


@pytest.fixture
def start(data_dir: Path) -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:  # a failed test must not leave its processes behind either
        if command.process.poll() is None:
            command.children |= descendants(command.process.pid)
            command.process.kill()
            command.process.wait(timeout=10)
        for proc in command.children:
            _kill(proc)


def _kill(proc: Proc) -> None:
    if proc.running():
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGKILL)


def _run(start: list[Command], data_dir: Path, *args: str) -> Command:
    port = free_port()
    log = data_dir / "output.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            env={**cli_env(data_dir), "PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    command = Command(process, port, log)
    start.append(command)
    return command


def _wait_live(command: Command) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert command.process.poll() is None, command.output()
        try:
            if httpx.get(f"http://127.0.0.1:{command.port}/health/live").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer on /health/live:\n{command.output()}")


def _wait_workers(command: Command, count: int = 4) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while command.output().count("worker.started") < count:
        assert command.process.poll() is None, command.output()
        assert time.monotonic() < deadline, f"the workers did not start:\n{command.output()}"
        time.sleep(0.2)


def _stop_with(command: Command, stop: signal.Signals = signal.SIGTERM) -> tuple[set[Proc], float]:
    """Send `stop`; return the descendants it had then and how long it took to exit."""
    children = command.children = descendants(command.process.pid)
    assert children, "the command runs no child: nothing under test"
    sent = time.monotonic()
    command.process.send_signal(stop)
    try:
        code = command.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"still running {STOP_SECONDS} s after {stop.name}:\n{command.output()}"
        ) from None
    took = time.monotonic() - sent
    assert code == 0, f"exit code {code}:\n{command.output()}"
    return children, took


def _left_running(children: set[Proc]) -> list[Proc]:
    # a grandchild whose parent has just exited may need a moment to see EOF on its pipe
    deadline = time.monotonic() + 3
    while (left := [c for c in children if c.running()]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _names(children: set[Proc]) -> list[str]:
    return sorted(c.name for c in children)


def test_dev_stops_its_workers_redis_and_api_on_sigterm(
    start: list[Command], data_dir: Path
) -> None:
    command = _run(start, data_dir, "dev")
    _wait_live(command)
    _wait_workers(command)
    children, took = _stop_with(command)
    assert "redis-server" in _names(children)
    assert _left_running(children) == []
    output = command.output()
    assert "shutdown.requested" in output and "signal=SIGTERM" in output
    assert "Traceback" not in output
    assert took < STOP_SECONDS


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_serve_stops_the_api_and_its_redis_on_sigterm_as_on_ctrl_c(
    start: list[Command], data_dir: Path, stop: signal.Signals
) -> None:
    command = _run(start, data_dir, "serve")
    _wait_live(command)
    children, _ = _stop_with(command, stop)
    assert _names(children) == ["redis-server"]
    assert _left_running(children) == []
    output = command.output()
    assert f"signal={stop.name}" in output and "Application shutdown complete" in output
    assert "Traceback" not in output


def test_serve_with_workers_stops_every_api_process_and_redis_on_sigterm(
    start: list[Command], data_dir: Path
) -> None:
    command = _run(start, data_dir, "serve", "--workers", "2")
    _wait_live(command)
    # both API processes up: each answers from its own pid, so wait until two have started
    deadline = time.monotonic() + STARTUP_SECONDS
    while command.output().count("Application startup complete") < 2:
        assert time.monotonic() < deadline, command.output()
        time.sleep(0.2)
    children, _ = _stop_with(command)
    names = _names(children)
    assert "redis-server" in names and len(children) >= 3, names
    assert _left_running(children) == []
    assert "Traceback" not in command.output()


def test_worker_stops_its_redis_on_sigterm(start: list[Command], data_dir: Path) -> None:
    command = _run(start, data_dir, "worker")
    _wait_workers(command)
    children, _ = _stop_with(command)
    assert _names(children) == ["redis-server"]
    assert _left_running(children) == []
    output = command.output()
    assert "shutdown.requested" in output and "signal=SIGTERM" in output
    assert "Traceback" not in output
