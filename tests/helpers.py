"""Helpers the tests share: fresh interpreters and the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


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
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def snapshot(home: Path) -> list[tuple[str, int]] | None:
    """Every path under ``home`` with its size (None when it does not exist): two equal
    snapshots mean nothing was added, removed or changed in size."""
    if not home.exists():
        return None
    return sorted((str(p.relative_to(home)), 0 if p.is_dir() else p.stat().st_size)
                  for p in home.rglob("*"))
