"""The one grammar of names, versions, tags and labels.

Every boundary that receives a name or a version from outside (a save, an
archive's manifest, a bundle read from disk, a tag on the command line) checks
it here, before anything is read or written, so no name can become a path that
leaves the store. Names and versions are single path components by
construction: no separators, no ``..``, never hidden (``.x``) because hidden
names are the store's own temporary directories.

Imports only :mod:`bentonb.errors`: every layer above may use it.
"""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Mapping
from typing import Any

from bentonb.errors import InvalidArgument

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_LABEL_KEY = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]{0,127}")
_MAX_LABEL_VALUE = 1024
LATEST = "latest"


def check_name(name: Any, kind: str = "bundle") -> str:
    """Return ``name`` if it is a valid name of a ``kind`` (bundle, model), else raise
    :class:`InvalidArgument` naming the field."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidArgument(
            f"invalid {kind} name {name!r}: a name starts with a letter or '_' and holds up "
            "to 128 letters, digits, '_', '.' or '-' (no '..'), e.g. IrisClassifier")
    return name


def check_version(version: Any, kind: str = "bundle") -> str:
    """Return ``version`` if it is a valid version, else raise :class:`InvalidArgument`."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version) or ".." in version:
        raise InvalidArgument(
            f"invalid {kind} version {version!r}: a version starts with a letter, digit or "
            "'_' and holds up to 64 letters, digits, '_', '.' or '-' (no '..'), e.g. v1 or "
            "20240101120000_AB12CD")
    return version


def new_version() -> str:
    """``YYYYMMDDHHMMSS_XXXXXX``: the UTC time and 6 random hex digits."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%Y%m%d%H%M%S}_{secrets.token_hex(3).upper()}"


def parse_tag(tag: Any, kind: str = "bundle") -> tuple[str, str | None]:
    """Split ``Name[:version]`` into a checked name and version; ``latest`` or no
    version gives ``None``, meaning the newest."""
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidArgument(f"a {kind} tag looks like Name:version, Name:latest or Name; "
                              f"got {tag!r}")
    name, _, version = tag.strip().partition(":")
    try:
        check_name(name, kind)
        if not version or version == LATEST:
            return name, None
        return name, check_version(version, kind)
    except InvalidArgument as exc:
        raise InvalidArgument(f"invalid tag {tag!r}: {exc}") from None


def check_label_key(key: Any) -> str:
    if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
        raise InvalidArgument(f"invalid label key {key!r}: up to 128 letters, digits, '_', "
                              "'.', '-' or '/', e.g. stage or team/owner")
    return key


def check_label_value(key: str, value: Any) -> str:
    """Label values are text (numbers and booleans become text); control characters,
    which could rewrite a terminal that lists them, are refused."""
    if isinstance(value, (bool, int, float)):
        value = str(value)
    if not isinstance(value, str) or len(value) > _MAX_LABEL_VALUE or \
            any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidArgument(f"invalid value for label '{key}': text of up to "
                              f"{_MAX_LABEL_VALUE} printable characters, got {value!r:.80}")
    return value


def check_labels(labels: Any) -> dict[str, str]:
    """A checked copy of ``labels`` (``None`` gives ``{}``)."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidArgument(f"labels must be a dict of strings, got {labels!r:.80}")
    return {check_label_key(k): check_label_value(k, v) for k, v in labels.items()}


def parse_labels(text: str | None) -> dict[str, str]:
    """``k=v,k2=v2`` (from a flag or a magic) -> checked labels."""
    labels: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"--labels takes key=value pairs separated by commas; "
                                  f"'{pair}' is not key=value (e.g. stage=dev)")
        labels[key.strip()] = value.strip()
    return check_labels(labels)


class Tag:
    """A checked ``name:version`` pair, as models carry it: ``str(tag)`` is
    ``name:version``; ``tag.name`` and ``tag.version`` are its parts."""

    __slots__ = ("name", "version")

    def __init__(self, name: str, version: str | None = None, kind: str = "model") -> None:
        self.name = check_name(name, kind)
        self.version = check_version(version, kind) if version is not None else None

    @classmethod
    def from_str(cls, text: Any, kind: str = "model") -> Tag:
        """``Name[:version]``; ``latest`` (or no version) leaves the version unset."""
        name, version = parse_tag(text, kind)
        return cls(name, version, kind)

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version else self.name

    def __repr__(self) -> str:
        return f"Tag(name={self.name!r}, version={self.version!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        return isinstance(other, Tag) and (self.name, self.version) == (other.name,
                                                                        other.version)

    def __hash__(self) -> int:
        return hash((self.name, self.version))
