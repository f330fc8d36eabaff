"""What a 200 MB request body costs a real uvicorn server: the time to its 413 and its memory.

Starts `uvicorn --factory app.main:app_from_environment` (ENVIRONMENT=prod, a throwaway data
directory, the given redis) and sends a body of --mb megabytes to /graphql and to the payment
webhook over a plain socket, once declared (Content-Length) and once chunked, the way an
attacker would: as fast as the socket takes it. Prints, for each, the answer, the time from the
first byte sent to the answer, how much the client got to send, and the server's RSS (VmRSS
in /proc/<pid>/status) before and after. Usage:

    uv run python bench/body_limits.py [--mb 200] [--redis redis://127.0.0.1:6379/6]
                                       [--unlimited]  # caps raised to 1 GiB, for comparison
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.redis_setup import free_port

BLOCK = 64 * 1024
PATHS = ("/graphql", "/integrations/payments/yookassa")


@dataclass(frozen=True)
class Server:
    pid: int
    port: int


@dataclass(frozen=True)
class Outcome:
    status: int
    seconds: float  # first byte sent → status line received
    sent: int  # body bytes the client managed to send
    rss_before_kib: int
    rss_after_kib: int
    peak_after_kib: int  # VmHWM: the highest RSS the server has had

    @property
    def growth_kib(self) -> int:
        return self.rss_after_kib - self.rss_before_kib


@contextmanager
def uvicorn_server(redis_url: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """The production app in its own uvicorn process, until the block ends."""
    data_dir = Path(tempfile.mkdtemp(prefix="vitrina-limits-"))
    port = free_port()
    environment = {
        **os.environ,
        "ENVIRONMENT": "prod",
        "TRUSTED_DOCUMENTS": "permissive",  # the bench sends its own documents
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite://{data_dir / 'vitrina.sqlite3'}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:app_from_environment"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_live(port, process)
        yield Server(process.pid, port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_live(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not start within 60 s")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """The resident memory of a process (VmHWM: its peak so far), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def send_body(server: Server, path: str, size: int, *, chunked: bool) -> Outcome:
    """POST `size` bytes as fast as the socket takes them; stop at the server's answer."""
    framing = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n".encode()
        + framing
        + b"\r\n\r\n"
    )
    before = rss_kib(server.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        sent = _stream(sock, size, chunked=chunked)
        answer = _read_status(sock)
        seconds = time.perf_counter() - started
    return Outcome(answer, seconds, sent, before, rss_kib(server.pid), rss_kib(server.pid, "VmHWM"))


def _stream(sock: socket.socket, size: int, *, chunked: bool) -> int:
    block = b"x" * BLOCK
    frame = f"{BLOCK:x}\r\n".encode() + block + b"\r\n" if chunked else block
    sent = 0
    while sent < size:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:  # the server has answered (or hung up): stop sending
            return sent
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            return sent
        sent += BLOCK
    if chunked:
        sock.sendall(b"0\r\n\r\n")
    return sent


def _read_status(sock: socket.socket) -> int:
    try:
        line = sock.recv(64)
    except ConnectionResetError:
        return 0  # hung up without an answer
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"))
    parser.add_argument("--unlimited", action="store_true", help="caps raised to 1 GiB")
    args = parser.parse_args()
    size = args.mb * 1000 * 1000
    caps = {"MAX_BODY_BYTES": str(2**30), "MAX_WEBHOOK_BODY_BYTES": str(2**30)}
    with uvicorn_server(args.redis, caps if args.unlimited else None) as server:
        for path in PATHS:
            for chunked in (False, True):
                o = send_body(server, path, size, chunked=chunked)
                print(
                    f"{path:34} {'chunked ' if chunked else 'declared'}  {o.status}  "
                    f"{o.seconds * 1000:8.1f} ms  sent {o.sent / 1e6:7.1f} MB  "
                    f"RSS {o.rss_before_kib / 1024:6.1f} → {o.rss_after_kib / 1024:6.1f} MiB"
                    f" (peak {o.peak_after_kib / 1024:6.1f} MiB)"
                )


if __name__ == "__main__":
    main()
