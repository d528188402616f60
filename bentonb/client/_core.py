"""What :class:`~bentonb.Client` and :class:`~bentonb.AsyncClient` share: the
description of a server's APIs, request encoding, answer decoding, errors, the
503 retry policy and the Server-Sent Events reader. No I/O happens here, so the
sync and async clients differ only in how they send.

Encoding follows what each API's input adapter declares in ``/docs.json`` (its
media types, whether it takes a multipart ``image`` or ``file`` field), never
its class name. Never imports bentonb.server or tornado.
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bentonb.adapters.body import dump_json
from bentonb.adapters.json_output import to_jsonable
from bentonb.errors import BentonbError, InvalidArgument, NotFound, ServerError, did_you_mean

#: The OpenAPI operation key that marks an API whose answer is a stream of items.
STREAMING_KEY = "x-bentonb-streaming"


@dataclass(frozen=True)
class ApiInfo:
    """One API of a server as the client sees it."""

    name: str
    route: str
    #: How a value is sent: table, json, text, image (multipart), file (multipart/raw).
    kind: str
    streaming: bool = False
    input_config: Mapping[str, Any] = field(default_factory=dict)
    output_config: Mapping[str, Any] = field(default_factory=dict)


def describe(openapi: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, ApiInfo]:
    """The APIs of a server from its ``/docs.json`` and ``/metadata`` documents."""
    apis = {}
    for spec in metadata.get("apis", []):
        op = openapi.get("paths", {}).get(f"/{spec['route']}", {}).get("post", {})
        content = op.get("requestBody", {}).get("content", {})
        apis[spec["name"]] = ApiInfo(
            name=spec["name"], route=spec["route"], kind=_kind(content),
            streaming=bool(op.get(STREAMING_KEY)),
            input_config=spec.get("input_config") or {},
            output_config=spec.get("output_config") or {})
    return apis


def _kind(content: Mapping[str, Any]) -> str:
    form = content.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
    if "image" in form:
        return "image"
    if "file" in form or "application/octet-stream" in content:
        return "file"
    if "text/csv" in content:
        return "table"
    if next(iter(content), "") == "text/plain":
        return "text"
    return "json"


@dataclass
class Encoded:
    """What one request sends: the ``content`` bytes or multipart ``files``."""

    headers: dict[str, str]
    content: bytes | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None

    def httpx_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.files is not None:
            kwargs["files"] = self.files
        else:
            kwargs["content"] = self.content
        return kwargs


def encode(api: ApiInfo, data: Any) -> Encoded:
    """The request that sends ``data`` to ``api``, as its input adapter reads it."""
    if api.kind in ("image", "file"):
        name, payload = _file_bytes(data, api)
        if api.kind == "file" and not isinstance(data, (str, os.PathLike)):
            return Encoded({"Content-Type": "application/octet-stream"}, payload)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Encoded({}, files={api.kind: (name, payload, media)})
    if api.kind == "text" and isinstance(data, (str, bytes)):
        body = data.encode("utf-8") if isinstance(data, str) else data
        return Encoded({"Content-Type": "text/plain; charset=utf-8"}, body)
    if api.kind == "table" and isinstance(data, str):
        return Encoded({"Content-Type": "text/csv; charset=utf-8"}, data.encode("utf-8"))
    if api.kind == "table" and _is_pandas_table(data):
        frame = data.to_frame() if hasattr(data, "to_frame") else data
        orient = api.input_config.get("orient") or "split"
        # split keeps column order and names; its index is not part of the input
        body = frame.to_json(orient=orient, index=False) if orient == "split" \
            else frame.to_json(orient=orient)
        return Encoded({"Content-Type": "application/json"}, body.encode("utf-8"))
    if hasattr(data, "model_dump") and callable(data.model_dump):
        data = data.model_dump(mode="json")
    try:
        body = dump_json(to_jsonable(data))
    except BentonbError as exc:
        raise InvalidArgument(f"API '{api.name}' takes JSON; {type(data).__name__} cannot be "
                              f"sent as JSON ({exc})") from exc
    return Encoded({"Content-Type": "application/json"}, body)


def _is_pandas_table(value: Any) -> bool:
    """True for a pandas DataFrame or Series (without importing pandas)."""
    if "pandas" not in sys.modules:
        return False
    import pandas as pd

    return isinstance(value, (pd.DataFrame, pd.Series))


def _file_bytes(data: Any, api: ApiInfo) -> tuple[str, bytes]:
    """(file name, bytes) of a path, bytes, a binary stream, a PIL image or an array."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data).expanduser()
        if not path.is_file():
            raise InvalidArgument(f"API '{api.name}' takes a file; {str(data)[:200]!r} is not "
                                  "an existing file (give a path, bytes, or a PIL image)")
        return path.name, path.read_bytes()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return ("image.png" if api.kind == "image" else "upload"), bytes(data)
    if hasattr(data, "read"):
        return Path(getattr(data, "name", "upload") or "upload").name, data.read()
    if type(data).__module__ == "numpy" and api.kind == "image":
        from PIL import Image

        data = Image.fromarray(data)
    if hasattr(data, "save") and hasattr(data, "mode"):  # a PIL image
        buffer = io.BytesIO()
        data.save(buffer, format="PNG")
        return "image.png", buffer.getvalue()
    raise InvalidArgument(f"API '{api.name}' takes a file: give a path, bytes, a binary "
                          f"stream{', a PIL image or an array' if api.kind == 'image' else ''}; "
                          f"got {type(data).__name__}")


def decode(api: ApiInfo, content_type: str, body: bytes) -> Any:
    """The Python value of one answer (or one streamed item) of ``api``."""
    media = content_type.split(";")[0].strip().lower()
    table = "output_format" in api.output_config and _has_pandas()
    if media == "text/csv" and table:
        import pandas as pd

        return pd.read_csv(io.BytesIO(body))
    if media in ("application/json", "application/x-ndjson"):
        value = json.loads(body)
        if table:
            return _frame(value, api.output_config.get("orient") or "records")
        return value
    if media.startswith("text/"):
        return body.decode("utf-8", "replace")
    return body


def _frame(value: Any, orient: str) -> Any:
    import pandas as pd

    return pd.read_json(io.StringIO(json.dumps(value)), orient=orient) \
        if orient != "records" else pd.DataFrame(value)


def _has_pandas() -> bool:
    import importlib.util

    return importlib.util.find_spec("pandas") is not None


def server_error(status: int, headers: Mapping[str, str], body: bytes,
                 where: str) -> ServerError:
    """The :class:`ServerError` for an error answer, with the server's own message."""
    text = body.decode("utf-8", "replace")
    message = text.strip()[:1000] or f"HTTP {status}"
    request_id = headers.get("X-Request-Id")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "error" in parsed:
            message = str(parsed["error"])
            request_id = parsed.get("request_id") or request_id
    except ValueError:
        pass
    return ServerError(f"{where} answered {status}: {message}", status, text, request_id)


def unknown_api(name: str, apis: Mapping[str, ApiInfo]) -> NotFound:
    return NotFound(f"the server has no API '{name}' (its APIs: {', '.join(apis) or 'none'})"
                    f"{did_you_mean(name, apis)}")


@dataclass
class RetryPolicy:
    """Retry a 503 at most ``max_retries`` times, waiting what ``Retry-After`` says,
    and never more than ``max_wait`` seconds in all."""

    max_retries: int = 3
    max_wait: float = 30.0

    def delay(self, headers: Mapping[str, str], attempt: int, waited: float) -> float | None:
        """Seconds to wait before the next try, or None to give up and raise."""
        if attempt >= self.max_retries:
            return None
        try:
            seconds = max(0.0, float(headers.get("Retry-After", "1")))
        except ValueError:
            seconds = 1.0
        return seconds if waited + seconds <= self.max_wait else None


class SseReader:
    """Turns the lines of a ``text/event-stream`` answer into (event, data) pairs."""

    def __init__(self) -> None:
        self._event, self._data = "message", []

    def feed(self, line: str) -> tuple[str, str] | None:
        """The event completed by ``line`` (a blank line ends one), else None."""
        if not line:
            if not self._data:
                return None
            done = (self._event, "\n".join(self._data))
            self._event, self._data = "message", []
            return done
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            self._event = value
        elif key == "data":
            self._data.append(value)
        return None


def stream_item(api: ApiInfo, event: str, data: str, where: str) -> Any:
    """One streamed item, or the :class:`ServerError` that ended the stream (raised)."""
    if event == "error":
        raise server_error(500, {}, data.encode("utf-8"), where)
    return decode(api, "application/json", data.encode("utf-8"))
