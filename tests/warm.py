"""`python -m MODULE ARGS` without paying for its imports every time.

A `vitrina` command spends about a second of CPU importing before it does anything, and a test
of the CLI runs a dozen. `WarmPython` starts one helper process that imports what the command
imports at startup (`python -m app` imports `app.cli`), then forks a child per command. Each
command is still a process of its own: its own environment, working directory, stdin, stdout,
stderr and exit code, the lazy imports of its subcommand, nothing shared with the test process
or with the commands before it. Only the startup imports are inherited, already done. Where
starting cold is the point, tests run the real thing (tests/test_cli.py, tests/test_signals.py).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

# The helper: import the modules named in argv, then for each request line fork a child that
# becomes `python -m MODULE ARGS` (runpy is what `-m` uses). The child leaves through the
# helper's top level, so an exception or sys.exit ends it as it ends `python -m`: traceback
# or message on stderr, the same exit code, atexit handlers run and the streams flushed.
_HELPER = r"""
import importlib, json, os, runpy, sys

for _name in sys.argv[1:]:
    importlib.import_module(_name)
# Requests and answers on descriptors of their own: 0, 1 and 2 are the children's to replace.
_requests = os.fdopen(os.dup(0), "r")
_answers = os.fdopen(os.dup(1), "w")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.dup2(2, 1)
for _line in _requests:
    _job = json.loads(_line)
    _pid = os.fork()
    if _pid == 0:
        _requests.close()
        _answers.close()
        for _fd, _path in ((1, _job["stdout"]), (2, _job["stderr"])):
            _file = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(_file, _fd)
            os.close(_file)
        os.chdir(_job["cwd"])
        os.environ.clear()
        os.environ.update(_job["env"])
        sys.argv = ["-m", *_job["args"]]
        runpy.run_module(_job["module"], run_name="__main__", alter_sys=True)
        sys.exit(0)
    print(json.dumps({"pid": _pid}), file=_answers, flush=True)
    _status = os.waitpid(_pid, 0)[1]
    print(json.dumps({"code": os.waitstatus_to_exitcode(_status)}), file=_answers, flush=True)
"""


class WarmPython:
    """Runs `python -m MODULE ARGS` as a child forked from a helper that imported `preload`."""

    def __init__(self, *preload: str) -> None:
        self._helper = subprocess.Popen(
            [sys.executable, "-c", _HELPER, *preload], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._pending = b""

    def run(
        self, module: str, *args: str, env: Mapping[str, str], timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """As `subprocess.run([sys.executable, "-m", module, *args], env=env, text=True,
        capture_output=True, timeout=timeout)` would answer."""
        argv = [sys.executable, "-m", module, *args]
        with tempfile.TemporaryDirectory(prefix="vitrina-warm-") as scratch:
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            job = {
                "module": module,
                "args": list(args),
                "env": dict(env),
                "cwd": os.getcwd(),
                "stdout": str(out),
                "stderr": str(err),
            }
            self._send(json.dumps(job).encode() + b"\n")
            pid = self._answer(within=30)["pid"]
            try:
                code = self._answer(within=timeout)["code"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._answer(within=30)  # reaped: the next command's answers come next
                raise subprocess.TimeoutExpired(argv, timeout) from None
            return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())

    def _send(self, line: bytes) -> None:
        requests = self._pipe(self._helper.stdin)
        requests.write(line)
        requests.flush()

    def _answer(self, *, within: float) -> dict[str, Any]:
        # Read the raw descriptor: a buffered reader could hold the second answer where
        # select() no longer sees it.
        answers = self._pipe(self._helper.stdout).fileno()
        deadline = time.monotonic() + within
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([answers], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(answers, 4096)
            if not chunk:
                raise RuntimeError(f"the warm python helper ended ({self._helper.wait()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    @staticmethod
    def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
        assert pipe is not None  # both are PIPE (__init__)
        return pipe

    def close(self) -> None:
        self._pipe(self._helper.stdin).close()  # the helper's loop ends at end of input
        try:
            self._helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._helper.kill()
            self._helper.wait()
        self._pipe(self._helper.stdout).close()

    def __enter__(self) -> WarmPython:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
