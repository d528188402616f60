"""What adapters read and write: a request as a plain value, its limits, a response,
and the bytes a CLI ``--input`` names.

These types are transport-neutral: the server, the CLI, the batch runner and the
Ray replicas build them, and the adapters never see Tornado or a socket. It
imports nothing of bentonb's but its errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bentonb.errors import InvalidArgument


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask of the server beyond its size in bytes.

    Adapters check these before the expensive step (decoding an image, walking a
    JSON document), so a small body cannot cost seconds of CPU or gigabytes.
    """

    #: An image whose width x height is above this is refused (413) before decoding.
    max_image_pixels: int = 50_000_000
    #: JSON nested deeper than this (arrays and objects) is refused (400).
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_image_pixels", "max_json_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"RequestLimits({name}=...) must be a positive int, "
                                      f"got {value!r}")


@dataclass
class HttpRequest:
    """A transport-neutral HTTP request: what an adapter needs, nothing more.

    ``limits`` is set by the server from its options; adapters read it, so one
    process may serve several servers with different limits.
    """

    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    query: Mapping[str, list[str]] = field(default_factory=dict)
    limits: RequestLimits = field(default_factory=RequestLimits)

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)  # a server's header maps are case-insensitive
        if value is not None:
            return value
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lowercased (``""`` when absent)."""
        return self.header("Content-Type").split(";")[0].strip().lower()

    @property
    def charset(self) -> str:
        """The ``charset`` parameter of the Content-Type as sent (``"utf-8"`` when absent);
        :func:`bentonb.adapters.body.text_codec` checks that it names a text codec."""
        for part in self.header("Content-Type").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"


@dataclass
class HttpResponse:
    """What an output adapter produces for one request."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


def read_cli_input(value: str) -> tuple[bytes, str | None]:
    """Return the bytes named by a CLI ``--input`` and the file suffix when it is a file.

    As in the tutorials, ``--input`` is either the data itself or the path of
    an existing file (``--input=./iris_data.csv``, ``--input=dog.jpg``).
    """
    try:
        path = Path(value).expanduser()
        if len(value) < 4096 and path.is_file():
            return path.read_bytes(), path.suffix.lower()
    except OSError:
        pass
    return value.encode("utf-8"), None
