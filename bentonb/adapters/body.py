"""Reading untrusted request bodies, and writing strict JSON.

Every reader here returns a checked value or raises :class:`BadInput` (400) with
a message naming what is wrong; no decoder's own exception (RecursionError,
UnicodeEncodeError, ValueError from a 5,000-digit number...) gets through to
become a 500. The limits come from :class:`RequestLimits`, which the server sets
on each request. Never imports the server or Tornado.
"""

from __future__ import annotations

import codecs
import email.parser
import email.policy
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bentonb.adapters.base import HttpRequest, RequestLimits
from bentonb.errors import BadInput, OutputError

_DEFAULT_LIMITS = RequestLimits()
#: A JSON string, escapes included (only applied to text that already parsed as JSON).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: orjson refuses documents nested deeper than this, whatever our own limit says.
_ORJSON_MAX_DEPTH = 1024


def load_json(data: bytes | str, limits: RequestLimits = _DEFAULT_LIMITS,
              what: str = "request body") -> Any:
    """Parse strict RFC 8259 JSON, at most ``limits.max_json_depth`` levels deep.

    Refused with :class:`BadInput`: an empty body, bad UTF-8 or lone surrogates,
    ``NaN``/``Infinity`` literals, numbers beyond a 64-bit float, syntax errors
    (with line and column), and nesting beyond the limit. A UTF-8 byte order
    mark is ignored, as RFC 8259 allows.
    """
    import orjson

    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if not data or data.isspace():
        raise BadInput(f"{what} is empty; send a JSON document")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(_json_error(exc, data, what, limits.max_json_depth)) from exc
    _check_depth(data, value, limits.max_json_depth, what)
    return value


def _json_error(exc: Any, data: bytes, what: str, limit: int) -> str:
    message = exc.msg
    if "depth limit" in message or "recursion" in message.lower():
        return _too_deep(what, min(limit, _ORJSON_MAX_DEPTH))
    if "UTF-8" in message:
        try:  # orjson's own wording does not say which byte is wrong
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"{what} is not valid UTF-8 text: {bad.reason} at byte {bad.start}"
        return f"{what} is not valid UTF-8 text: {message}"
    if "infinity" in message:
        return (f"{what} holds a number too large for a 64-bit float at line {exc.lineno} "
                f"column {exc.colno}")
    return f"{what} is not valid JSON: {message} at line {exc.lineno} column {exc.colno}"


def _too_deep(what: str, limit: int) -> str:
    return (f"{what} is nested deeper than {limit} levels of arrays/objects; "
            "this server accepts at most that")


def _check_depth(data: bytes, value: Any, limit: int, what: str) -> None:
    # Cheap bounds first: the count of '[' and '{' (strings included) is at least
    # the number of containers, so a small count proves a small depth, and a table
    # whose rows account for every container is two levels deep.
    openers = data.count(b"[") + data.count(b"{")
    if openers <= limit:
        return
    items = value if isinstance(value, list) else \
        value.values() if isinstance(value, dict) else ()
    if limit >= 2 and openers == len(items) + 1 and \
            all(isinstance(v, (list, dict)) for v in items):
        return
    if json_depth(data) > limit:
        raise BadInput(_too_deep(what, limit))


def json_depth(data: bytes) -> int:
    """The nesting depth of arrays and objects in a document that is valid JSON."""
    import numpy as np

    if b"\\" in data:  # escaped quotes: drop whole strings so brackets in them don't count
        data = _JSON_STRING.sub(b'""', data)
    raw = np.frombuffer(data, np.uint8)
    # Outside strings the count of '"' so far is even: brackets after an odd count are text.
    in_string = np.logical_xor.accumulate(raw == ord('"'))
    steps = (((raw == ord("[")) | (raw == ord("{"))).view(np.int8)
             - ((raw == ord("]")) | (raw == ord("}"))).view(np.int8))
    steps[in_string] = 0
    steps = steps[steps != 0]
    return int(np.cumsum(steps, dtype=np.int32).max()) if steps.size else 0


def dump_json(value: Any) -> bytes:
    """Strict RFC 8259 JSON (UTF-8) of a plain value: dicts with str keys, lists, str,
    int, float, bool, None. NaN and +-Infinity become ``null``; text that is not
    valid Unicode (lone surrogates) is an :class:`OutputError`."""
    import orjson

    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise OutputError(f"result cannot be sent as JSON: {exc}") from exc
    try:  # integers beyond 64 bits: the standard library writes them exactly
        return json.dumps(_finite(value), allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError) as exc:
        raise OutputError(f"result cannot be sent as JSON: {exc}") from exc


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def text_codec(charset: str) -> str:
    """The Python codec for a Content-Type ``charset``; :class:`BadInput` when it names
    no text encoding (``charset=nope``, ``charset=zlib``)."""
    try:
        info = codecs.lookup(charset)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise BadInput(f"unknown charset '{charset}' in Content-Type; send utf-8 "
                       "(or another text encoding such as latin-1, utf-16)")
    return info.name


def require_utf8(request: HttpRequest, what: str = "JSON") -> None:
    """JSON is UTF-8 (RFC 8259): refuse a Content-Type that says otherwise."""
    charset = request.charset
    try:
        codec = text_codec(charset)
    except BadInput:
        codec = None
    if codec != "utf-8":
        raise BadInput(f"{what} must be UTF-8, but Content-Type says charset={charset}; "
                       "send it as utf-8")


def decode_text(data: bytes, charset: str = "utf-8", what: str = "request body") -> str:
    """``data`` decoded with ``charset``; :class:`BadInput` for an unknown charset, bytes
    that are not valid in it, or a decoding with unpaired surrogates (not text)."""
    codec = text_codec(charset)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid {charset} text: {exc.reason} at byte "
                       f"{exc.start}") from exc
    if codec != "utf-8" and not text.isascii():  # utf-8 never decodes to surrogates
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadInput(f"{what} decoded as {charset} holds unpaired surrogates at "
                           f"character {exc.start}; it is not text") from exc
    return text


@dataclass
class FormPart:
    """One part of a ``multipart/form-data`` body."""

    name: str
    filename: str | None
    content: bytes
    #: The part's own Content-Type header, parameters included (``""`` when none).
    content_type: str = ""


def multipart_parts(request: HttpRequest) -> list[FormPart]:
    """Every part of a multipart body; :class:`BadInput` saying what is broken."""
    content_type = request.header("Content-Type")
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        header + request.body)
    boundary = message.get_boundary()
    if boundary is None:
        raise BadInput("multipart Content-Type has no boundary parameter; send "
                       "'multipart/form-data; boundary=...'")
    defects = {type(d).__name__ for d in message.defects}
    if "StartBoundaryNotFoundDefect" in defects or not message.is_multipart():
        raise BadInput(f"multipart body does not contain its boundary '--{boundary}' "
                       "(from the Content-Type)")
    if "CloseBoundaryNotFoundDefect" in defects:
        raise BadInput(f"multipart body ends without its closing boundary "
                       f"'--{boundary}--' (was it cut short?)")
    parts = [FormPart(part.get_param("name", header="content-disposition") or "",
                      part.get_filename(), part.get_payload(decode=True) or b"",
                      str(part.get("Content-Type", "")))
             for part in message.iter_parts()]
    if not parts:
        raise BadInput("multipart body has no parts")
    return parts


def multipart_file(request: HttpRequest, field: str, what: str) -> FormPart:
    """The part named ``field``, else the first file upload; :class:`BadInput` naming the
    parts that were sent when there is neither."""
    parts = multipart_parts(request)
    for part in parts:
        if part.name == field:
            return part
    for part in parts:
        if part.filename is not None:
            return part
    sent = ", ".join(repr(p.name) for p in parts)
    raise BadInput(f"multipart body has no '{field}' part and no file upload (parts sent: "
                   f"{sent}); send the {what} as form field '{field}'")
