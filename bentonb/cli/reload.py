"""``bentonb serve module:svc --reload``: serve the newest version of a service's code.

A daemon thread polls the modification times of the ``*.py`` files under the
folder the target is imported from (no dependency on a file-watching package).
When one changes, the modules imported from that folder are forgotten and the
target is imported afresh; the new service is swapped in on the same port. A
version that fails to import (a syntax error, an exception at import, a missing
attribute) leaves the previous one serving and logs one line naming the error.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bentonb.sdk.target import load_target
from bentonb.server.logs import SERVER

#: Folders never watched: caches, virtual environments, VCS data.
_SKIPPED = {"__pycache__", "node_modules", "site-packages"}


def python_files(folder: Path) -> dict[str, int]:
    """``{path: mtime_ns}`` of the ``*.py`` files under ``folder``, hidden folders,
    caches and virtual environments left out."""
    found: dict[str, int] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED
                   and not (Path(root) / d / "pyvenv.cfg").exists()]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                try:
                    found[path] = os.stat(path).st_mtime_ns
                except OSError:  # removed between the listing and the stat
                    continue
    return found


def describe_failure(exc: BaseException, folder: Path) -> str:
    """One line naming the error and where in the user's files it happened."""
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    ours = [f for f in traceback.extract_tb(exc.__traceback__)
            if f.filename.startswith(str(folder))]
    where = f"{ours[-1].filename}, line {ours[-1].lineno}: " if ours else ""
    return f"{where}{type(exc).__name__}: {message}"


class ModuleReloader:
    """Loads ``module:attribute`` from ``folder`` and reloads it when a file changes.

    :meth:`load` is the serve command's loader (the first import); :meth:`start`
    takes the server's ``swap`` and starts polling every ``interval`` seconds.
    """

    def __init__(self, module: str, attribute: str, folder: str | Path | None = None,
                 interval: float = 0.25) -> None:
        self.module, self.attribute = module, attribute
        self.folder = Path(folder or Path.cwd()).resolve()
        self.interval = interval
        self._seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._swap: Callable[[Any], None] | None = None
        self._preloaded: set[str] = set()
        # A bytecode cache keyed on whole-second mtimes and sizes could serve an edit
        # made within the same second as stale code: read the sources every time.
        sys.dont_write_bytecode = True

    def load(self) -> Any:
        """The first import of the target (run by the server's loading thread)."""
        self._preloaded = set(sys.modules)
        self._seen = python_files(self.folder)
        return load_target(self.module, self.attribute, self.folder)

    def start(self, swap: Callable[[Any], None]) -> None:
        """Poll for changes on a daemon thread; a new version is handed to ``swap``."""
        self._swap = swap
        SERVER.info("reloading %s:%s when a .py file under %s changes", self.module,
                    self.attribute, self.folder)
        threading.Thread(target=self._poll, daemon=True, name="bentonb-reload").start()

    def stop(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            current = python_files(self.folder)
            if current == self._seen:
                continue
            changed = sorted(p for p in set(current) | set(self._seen)
                             if current.get(p) != self._seen.get(p))
            self._seen = current
            self.reload(changed)

    def _forget_user_modules(self) -> None:
        """Drop the modules imported from the watched folder since the server started,
        so the next import reads their files again (bentonb itself is never dropped)."""
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if (name in self._preloaded or name.split(".")[0] == "bentonb" or not file
                    or not Path(file).resolve().is_relative_to(self.folder)):
                continue
            del sys.modules[name]
        importlib.invalidate_caches()

    def reload(self, changed: list[str]) -> bool:
        """Import the target afresh and serve it; True when the new version is served."""
        self._forget_user_modules()
        names = ", ".join(Path(p).name for p in changed[:3])
        try:
            service = load_target(self.module, self.attribute, self.folder)
        except Exception as exc:  # noqa: BLE001 - any import failure keeps the old version
            SERVER.error("reload failed after a change to %s: %s; still serving the previous "
                         "version", names, describe_failure(exc, self.folder))
            return False
        # Said before the swap: a request answered by the new version follows the line.
        SERVER.info("reloaded %s:%s after a change to %s", self.module, self.attribute, names)
        if self._swap is not None:
            self._swap(service)
        return True
