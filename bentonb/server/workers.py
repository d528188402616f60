"""Worker processes: ``--workers N`` forked servers accepting on one shared socket.

This module owns the parent process's job: fork the workers (each loads its own
models after the fork), forward SIGTERM/SIGINT to them, replace a worker that
dies (killed, crashed) with a logged line, and give up - stopping the others, exit
code 1 - when a worker cannot start or workers keep dying. It never imports
notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from bentonb.server.app import ServerConfig
from bentonb.server.logs import SERVER, configure_logging, stop_logging

#: A worker exits with this code when it could not load its models or serve.
WORKER_FAILED = 1
#: More than this many deaths within RESTART_WINDOW seconds: stop replacing workers.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
_SIGNALS = {signal.SIGTERM, signal.SIGINT}

Serve = Callable[[Callable[[Any], None] | None], Coroutine[Any, Any, bool]]


def _child(serve: Serve, config: ServerConfig, index: int,
           on_ready: Callable[[Any], None] | None) -> None:
    """The worker's life; never returns."""
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_DFL)  # not the parent's forwarding handler
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    code = 0
    try:
        configure_logging(config.log_format)  # the writer thread did not fork
        asyncio.run(serve(on_ready))
    except KeyboardInterrupt:
        # Ctrl-C reaches a worker twice (from the terminal and forwarded by the parent);
        # the second may land after the loop gave SIGINT back to Python: still a stop.
        pass
    except BaseException as exc:  # noqa: BLE001 - a child must never return
        SERVER.error("worker %d failed: %s", index, exc)
        code = WORKER_FAILED
    finally:
        stop_logging()
        # Also ends a model call that outlived the grace period.
        os._exit(code)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def prefork(serve: Serve, config: ServerConfig, workers: int,
            on_ready: Callable[[Any], None] | None) -> int:
    """Run ``workers`` processes, each ``asyncio.run(serve(on_ready))``, until they stop;
    return the exit code (0 when all stopped cleanly on a signal)."""
    children: dict[int, int] = {}
    forwarded: list[int] = []
    deaths: deque[float] = deque()

    def forward(signum: int, _frame: Any = None) -> None:
        forwarded.append(signum)
        for child in list(children):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    def spawn(index: int, ready: Callable[[Any], None] | None) -> None:
        # Signals wait until the child has dropped the parent's handler.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _child(serve, config, index, ready)
            children[pid] = index
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)

    for sig in _SIGNALS:
        signal.signal(sig, forward)
    for index in range(workers):
        spawn(index, on_ready if index == 0 else None)
    failed = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if forwarded:
            # A worker stopped by the signal we forwarded, before it could handle it, is fine.
            failed += code != 0 and -code not in forwarded
            continue
        if code == WORKER_FAILED:
            SERVER.error("worker %d (pid %d) could not start or serve; stopping the others",
                         index, pid)
            failed += 1
            forward(signal.SIGTERM)
            continue
        now = time.monotonic()
        deaths.append(now)
        while now - deaths[0] > RESTART_WINDOW:
            deaths.popleft()
        if len(deaths) > MAX_RESTARTS:
            SERVER.error("worker %d (pid %d) died (%s), the %d-th death in %g s; "
                         "stopping", index, pid, _describe(code), len(deaths), RESTART_WINDOW)
            failed += 1
            forward(signal.SIGTERM)
            continue
        SERVER.warning("worker %d (pid %d) died (%s); starting a new one", index, pid,
                       _describe(code))
        spawn(index, None)
    return 1 if failed else 0
