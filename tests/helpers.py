"""Helpers the tests share: fresh interpreters, the real console script, waiting on a
condition with a deadline, and ``bentonb serve`` processes on a port the OS picks."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: The line `bentonb serve` prints once it listens: "bentonb serving TAG at URL (...".
STARTUP_LINE = re.compile(r"bentonb serving \S+ at (http://[^\s:]+:(\d+)) \(")


def wait_until(condition: Callable[[], T], timeout: float, interval: float = 0.01,
               message: str | Callable[[], str] = "the condition") -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy,
    and return that; after ``timeout`` seconds fail with an AssertionError naming
    ``message`` (a string, or a function called then, e.g. to show a process's output)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g} s waiting for {text}")
        time.sleep(interval)


@contextlib.contextmanager
def records_of(name: str, level: int = logging.INFO) -> Iterator[list[logging.LogRecord]]:
    """The records logger ``name`` emits inside the block, caught by a handler on that
    logger itself (whatever propagates where), at ``level`` and above."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.getEffectiveLevel()))
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def run_python(code: str, cwd: Path | None = None, timeout: float = 180) -> str:
    """Run ``code`` in a fresh interpreter (that never saw the test's classes)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd or "/",
                            capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, f"subprocess failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def bentonb_cli(*args: str, cwd: Path | None = None, input: str | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real ``bentonb`` console script."""
    exe = Path(sys.executable).with_name("bentonb")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, input=input)


def free_port() -> int:
    """A port that was free a moment ago. Only for a process that must be told its port
    before it binds (it races with anything else picking ports): everything else binds
    port 0 and reads the port back."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``bentonb serve ARGS`` in a child process, its stdout and stderr collected as one
    text by a reader thread (so the child never blocks on a full pipe).

    Give ``--port 0`` (or ``BENTONB_PORT=0``) and read the bound port from ``.port``
    once ``wait_started()`` has seen the startup line.
    """

    command = "serve"

    def __init__(self, *args: str, exe: Path | None = None, env: dict | None = None,
                 cwd: Path | None = None) -> None:
        exe = exe or Path(sys.executable).with_name("bentonb")
        self.proc = subprocess.Popen([str(exe), self.command, *args], cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self.pid = self.proc.pid
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        self.port = 0

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        """Everything the process wrote so far."""
        return "".join(self._lines)

    def _startup(self) -> re.Match | None:
        match = STARTUP_LINE.search(self.output)
        if match is None and self.proc.poll() is not None and not self._reader.is_alive():
            raise AssertionError(f"bentonb serve exited with {self.proc.returncode}:\n"
                                 f"{self.output}")
        return match

    def wait_started(self, timeout: float = 60) -> ServeProcess:
        """Wait for the startup line; then ``.url`` and ``.port`` name the bound port."""
        try:
            match = wait_until(self._startup, timeout, interval=0.02,
                               message=lambda: f"bentonb serve to start:\n{self.output}")
        except AssertionError:
            self.proc.kill()
            raise
        self.url, self.port = match.group(1), int(match.group(2))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig``, wait for the exit and the last output; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def snapshot(home: Path) -> list[tuple[str, int]] | None:
    """Every path under ``home`` with its size (None when it does not exist): two equal
    snapshots mean nothing was added, removed or changed in size."""
    if not home.exists():
        return None
    return sorted((str(p.relative_to(home)), 0 if p.is_dir() else p.stat().st_size)
                  for p in home.rglob("*"))


#: The line `bentonb dashboard` prints once it listens.
DASHBOARD_LINE = re.compile(r"bentonb dashboard at (http://[^\s:]+:(\d+)) \(")


class DashboardProcess(ServeProcess):
    """``bentonb dashboard ARGS`` (give ``--port 0``) in a child process; ``.url`` and
    ``.port`` are known once ``wait_started()`` has seen its startup line."""

    command = "dashboard"

    def _startup(self) -> re.Match | None:
        match = DASHBOARD_LINE.search(self.output)
        if match is None and self.proc.poll() is not None and not self._reader.is_alive():
            raise AssertionError(f"bentonb dashboard exited with {self.proc.returncode}:\n"
                                 f"{self.output}")
        return match
