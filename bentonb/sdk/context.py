"""``bentonb.Context``: what a 1.x API function sees of its request and sets on its
response (``ctx.request.headers``, ``ctx.response.status_code``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Headers(dict):
    """Header names compare without regard to case, as in HTTP."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__()
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class ContextRequest:
    """The request an API is answering: method, headers, query parameters, cookies."""

    method: str = "POST"
    headers: Headers = field(default_factory=Headers)
    query_params: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    path: str = "/"


@dataclass
class Cookie:
    key: str
    value: str
    max_age: int | None = None
    path: str = "/"
    httponly: bool = False
    secure: bool = False


@dataclass
class ContextResponse:
    """What the function sets on its answer; the server applies it."""

    status_code: int | None = None
    headers: Headers = field(default_factory=Headers)
    cookies: list[Cookie] = field(default_factory=list)

    def set_cookie(self, key: str, value: str, max_age: int | None = None, path: str = "/",
                   httponly: bool = False, secure: bool = False) -> None:
        self.cookies.append(Cookie(key, value, max_age, path, httponly, secure))


class Context:
    """Given to an API function that declares a ``ctx: bentonb.Context`` parameter."""

    def __init__(self, request: ContextRequest | None = None) -> None:
        self.request = request or ContextRequest()
        self.response = ContextResponse()
        self.state: dict[str, Any] = {}

    @classmethod
    def from_http(cls, method: str, headers: Mapping[str, str],
                  query: Mapping[str, list], path: str = "/") -> Context:
        """The context of an HTTP request (the server calls this)."""
        query_params = {k: (v[-1].decode("utf-8", "replace") if isinstance(v[-1], bytes)
                            else v[-1]) for k, v in query.items() if v}
        cookies: dict[str, str] = {}
        for part in (headers.get("Cookie") or "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key:
                cookies[key] = value
        return cls(ContextRequest(method, Headers(dict(headers.items())), query_params,
                                  cookies, path))
