"""What a user names a bundle by: a tag of the store, a bundle directory, or an
archive made by ``bentonb export``, and the bundle directory it stands for.

:func:`open_bundle` is the one way in for commands that use a bundle for a
while (``bentonb serve``, ``bentonb run``): an archive is checked and extracted
into a temporary directory that is removed when the block ends, also when the
process is stopped with SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bentonb.bundle.archive import ArchiveLimits, extracted, is_archive
from bentonb.bundle.loader import load_bundle
from bentonb.errors import BundleError, NotFound
from bentonb.store import MANIFEST_FILE, LocalStore


def resolve(tag_or_path: str | Path, store: LocalStore | None = None) -> Path:
    """The bundle directory of a tag (``Name:latest``) or a path to a bundle directory.
    An archive has no directory yet: open it with :func:`open_bundle` or import it."""
    text = str(tag_or_path)
    path = Path(text).expanduser()
    if is_archive(path):
        raise BundleError(f"{path} is a bundle archive: import it first (bentonb import "
                          f"{path}) and use its tag")
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise BundleError(f"{path} is not a bentonb bundle: it has no {MANIFEST_FILE}")
        return path
    if ":" not in text and ("/" in text or os.sep in text or text.startswith(".")):
        raise NotFound(f"no bundle directory at {path}")
    return (store or LocalStore()).get(text).path


@contextlib.contextmanager
def open_bundle(tag_or_path: str | Path, store: LocalStore | None = None,
                limits: ArchiveLimits | None = None) -> Iterator[Path]:
    """The bundle directory of a tag, a directory or an archive, for the duration of
    the block. An archive's extraction is removed when the block ends."""
    path = Path(str(tag_or_path)).expanduser()
    if not is_archive(path):
        yield resolve(tag_or_path, store)
        return
    with _sigterm_unwinds(), extracted(path, limits) as root:
        yield root


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While held, SIGTERM (by default: die at once, skipping every ``finally``) raises
    SystemExit in this process instead, so temporary files are removed. Processes
    forked meanwhile (server workers) keep dying by the signal as before."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    owner = os.getpid()

    def unwind(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is unwind:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def load(tag_or_path: str | Path) -> Any:
    """Load a saved service by tag, bundle directory or archive, with every artifact
    ready to use. Loading runs the bundle's code: load only bundles you trust."""
    with open_bundle(tag_or_path) as path:
        return load_bundle(path)
