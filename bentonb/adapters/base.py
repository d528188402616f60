"""The common shape of input and output adapters.

An input adapter turns one request (HTTP, CLI or a Python value) into the
Python value the API function works on, and merges many such values into one
batch. An output adapter turns the function's result back into a response.
Adapters are framework-free: the server hands them a plain :class:`HttpRequest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bentonb.adapters.messages import (  # noqa: F401 - importable from here as before
    HttpRequest,
    HttpResponse,
    RequestLimits,
    read_cli_input,
)
from bentonb.errors import InvalidArgument, UnsupportedMediaType

_INPUTS: dict[str, type[BaseInputAdapter]] = {}
_OUTPUTS: dict[str, type[BaseOutputAdapter]] = {}


class BaseInputAdapter:
    """Turns requests into the Python values an API function receives.

    Subclasses set ``media_types`` and implement :meth:`from_http`,
    :meth:`from_bytes` and :meth:`example`; the rest has working defaults.
    """

    #: Content types :meth:`from_http` reads; the first is the documented one.
    media_types: ClassVar[tuple[str, ...]] = ("application/json",)
    #: True when one request carries many items (a DataFrame of N rows counts N).
    items_are_rows: ClassVar[bool] = False
    #: True when the API is a batch API whatever its ``batch=`` says.
    always_batch: ClassVar[bool] = False
    #: True when a request is a file upload (raw bytes or multipart), not typed text.
    accepts_files: ClassVar[bool] = False
    #: True when ``GET /route?query`` is a request too (the value comes from the query).
    accepts_query: ClassVar[bool] = False
    #: True when parsing decodes heavy media (images): parse off the event loop always.
    heavy_parse: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("Base"):
            _INPUTS[cls.__name__] = cls

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def config(self) -> dict[str, Any]:
        """The adapter's options, as recorded in the bundle manifest."""
        return {}

    def check_media_type(self, request: HttpRequest) -> None:
        media = request.media_type
        if media and media not in self.media_types and not self._accepts_prefix(media):
            raise UnsupportedMediaType(
                f"{self.type_name} does not read Content-Type '{media}'; "
                f"send one of: {', '.join(self.media_types)}"
            )

    def _accepts_prefix(self, media: str) -> bool:
        return any(t.endswith("/*") and media.startswith(t[:-1]) for t in self.media_types)

    def from_http(self, request: HttpRequest) -> Any:
        """Turn one HTTP request into one request's value."""
        self.check_media_type(request)
        return self.from_bytes(request.body, request.media_type)

    def parse_http(self, request: HttpRequest) -> Any:
        """What the server queues for one request: checked input that :meth:`count` and
        :meth:`merge` accept. By default the value itself; an adapter may keep a
        cheaper form and build the batch value once, in :meth:`merge`."""
        return self.from_http(request)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        raise NotImplementedError

    def from_cli(self, value: str, fmt: str | None = None) -> Any:
        """Turn a CLI ``--input`` (data or a file path) into one request's value."""
        data, suffix = read_cli_input(value)
        return self.from_bytes(data, self._media_for_format(fmt or (suffix or "").lstrip(".")))

    def _media_for_format(self, fmt: str) -> str:
        return {"json": "application/json", "jsonl": "application/json", "csv": "text/csv",
                "txt": "text/plain"}.get(fmt, "")

    def from_python(self, value: Any) -> Any:
        """Normalise a value given in Python to what an HTTP request would give."""
        return value

    def count(self, value: Any) -> int:
        """How many items one request's value holds."""
        return len(value) if self.items_are_rows else 1

    def merge(self, values: Sequence[Any]) -> Any:
        """Merge many requests' values into the batch a batch API function receives."""
        return list(values)

    def schema(self, value: Any) -> dict[str, str] | None:
        """The columns of one request's value and the kind of data each holds
        (``number``, ``bool``, ``text``); None for adapters that do not read tables.

        The batcher compares the schema of a request that failed alone with that of
        requests that succeeded, to answer 400 naming the difference rather than 500.
        """
        return None

    def example(self) -> str:
        """A valid request body for this adapter, as text (used in docs and the UI)."""
        return "{}"

    def openapi_request(self) -> dict[str, Any]:
        """The OpenAPI ``requestBody.content`` mapping for this adapter."""
        return {self.media_types[0]: {"schema": {"type": "object"}}}


class BaseOutputAdapter:
    """Turns an API function's result for one request into a response."""

    media_type: ClassVar[str] = "application/json"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("Base"):
            _OUTPUTS[cls.__name__] = cls

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def config(self) -> dict[str, Any]:
        return {}

    def validate(self, value: Any) -> Any:
        """Check (and possibly convert) one request's result before it is sent."""
        return value

    def to_http(self, value: Any) -> HttpResponse:
        raise NotImplementedError

    def to_cli(self, value: Any) -> str:
        return self.to_http(value).body.decode("utf-8")

    def openapi_response(self) -> dict[str, Any]:
        return {self.media_type: {"schema": {}}}


def schema_difference(failed: dict[str, str], good: dict[str, str]) -> str | None:
    """How a failing request's table differs from one that worked, or None. Kinds are
    "number", "bool", "text", each maybe followed by " or null" (some cells are
    null), or "null" (every cell is)."""
    missing = [c for c in good if c not in failed]
    if missing:
        return (f"the input is missing column(s) {', '.join(map(repr, missing))} that other "
                "requests to this API send")
    extra = [c for c in failed if c not in good]
    if extra:
        return (f"the input has column(s) {', '.join(map(repr, extra))} that other "
                "requests to this API do not send")
    for column, kind in failed.items():
        expected = good[column]
        if expected == "null":
            continue  # the request that worked says nothing of this column's values
        sent, wanted = kind.removesuffix(" or null"), expected.removesuffix(" or null")
        if sent not in ("null", wanted):
            return (f"column {column!r} holds {sent} values where other requests to this "
                    f"API send {wanted} values")
        nulls, had_nulls = kind == "null" or kind != sent, expected != wanted
        if nulls and not had_nulls:
            return (f"column {column!r} has null cells where other requests to this API "
                    f"send {wanted} values")
    return None


def input_adapter(spec: Any) -> BaseInputAdapter:
    """Accept an adapter instance, an adapter class, or a registered name."""
    return _resolve(spec, _INPUTS, BaseInputAdapter, "input")


def output_adapter(spec: Any) -> BaseOutputAdapter:
    return _resolve(spec, _OUTPUTS, BaseOutputAdapter, "output")


def _resolve(spec: Any, registry: dict[str, type], base: type, role: str) -> Any:
    if isinstance(spec, base):
        return spec
    if isinstance(spec, type) and issubclass(spec, base):
        return spec()
    if isinstance(spec, str) and spec in registry:
        return registry[spec]()
    raise InvalidArgument(
        f"{role}= must be an {role} adapter such as {', '.join(sorted(registry))}; "
        f"got {spec!r}"
    )
