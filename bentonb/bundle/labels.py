"""Change a saved bundle's labels in place, in both copies of its manifest.

A bundle keeps its manifest twice: ``bento.yaml`` at the bundle root (what the
store indexes) and the package copy (what an installed bundle reads). Both are
rewritten the same way: the new text goes to a temporary file in the same
directory, is flushed to disk, and replaces the old file in one rename, so a
reader sees the old manifest or the new one, never half of one. Two relabels of
one bundle at once are serialised by a lock on the bundle directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from bentonb.bundle.manifest import MANIFEST_FILE, BundleManifest
from bentonb.errors import InvalidArgument
from bentonb.store import fsync_dir
from bentonb.tags import check_label_key, check_labels


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably (temp file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def relabel(bundle_dir: Path, add: Mapping[str, str] | None = None,
            remove: Iterable[str] = ()) -> BundleManifest:
    """Set the labels ``add`` and drop the keys ``remove`` of the bundle at ``bundle_dir``
    (its root); return the new manifest. Every key and value is checked by the tag
    grammar before anything is written; removing a key that is not there is an error."""
    add = check_labels(dict(add or {}))
    remove = [check_label_key(key) for key in remove]
    clash = sorted(set(add) & set(remove))
    if clash:
        raise InvalidArgument(f"label '{clash[0]}' is both set and removed; give it once")
    fd = os.open(bundle_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        manifest = BundleManifest.read(bundle_dir)
        missing = [key for key in remove if key not in manifest.labels]
        if missing:
            have = ", ".join(sorted(manifest.labels)) or "none"
            raise InvalidArgument(f"{manifest.tag} has no label '{missing[0]}' to remove "
                                  f"(its labels: {have})")
        labels = {k: v for k, v in manifest.labels.items() if k not in remove}
        labels.update(add)
        manifest.labels = labels
        text = yaml.safe_dump(manifest.to_dict(), sort_keys=False, allow_unicode=True)
        package_copy = bundle_dir / manifest.package / MANIFEST_FILE
        # The package copy first: the root copy is what the store indexes, so once it
        # changes, both have.
        if package_copy.is_file() and not package_copy.is_symlink():
            _replace(package_copy, text)
        _replace(bundle_dir / MANIFEST_FILE, text)
        return manifest
    finally:
        os.close(fd)  # releases the lock
