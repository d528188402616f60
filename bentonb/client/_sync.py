"""``bentonb.Client``: call a bentonb server's APIs from Python, blocking.

Never imports bentonb.server or tornado.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from bentonb.client._core import (
    ApiInfo,
    RetryPolicy,
    SseReader,
    decode,
    describe,
    encode,
    server_error,
    stream_item,
    unknown_api,
)


class Client:
    """A client of one bentonb server: ``Client("http://127.0.0.1:5000")``.

    It reads ``/docs.json`` and ``/metadata`` once (on first use) and then offers one
    method per API: ``client.predict(df)``, ``client.classify("cat.png")``; or
    ``client.call("predict", df)``. A streaming API's method returns an iterator
    that yields items as the server sends them. A 503 is retried as its
    ``Retry-After`` says (``max_retries`` times, ``max_retry_wait`` seconds in all);
    any other error status raises :class:`bentonb.errors.ServerError`. ``api_key``
    is sent as ``Authorization: Bearer``. Use it as a context manager, or
    :meth:`close` it.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, *,
                 max_retries: int = 3, max_retry_wait: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.retry = RetryPolicy(max_retries, max_retry_wait)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._apis: dict[str, ApiInfo] | None = None

    # -- the description --------------------------------------------------------------
    @property
    def apis(self) -> dict[str, ApiInfo]:
        """The server's APIs by name (read from the server once)."""
        if self._apis is None:
            docs = self._send("GET", "/docs.json", {})
            metadata = self._send("GET", "/metadata", {})
            self._apis = describe(docs.json(), metadata.json())
        return self._apis

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self.apis:
            raise AttributeError(str(unknown_api(name, self.apis)))
        return functools.partial(self.call, name)

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *(self._apis or {})]

    # -- calling ------------------------------------------------------------------------
    def call(self, api_name: str, data: Any) -> Any:
        """Send ``data`` to API ``api_name`` and return its answer as Python (a
        DataFrame for a table output when pandas is installed); for a streaming API,
        an iterator over its items."""
        api = self._api(api_name)
        if api.streaming:
            return self.stream(api_name, data)
        response = self._send("POST", f"/{api.route}", encode(api, data).httpx_kwargs())
        return decode(api, response.headers.get("Content-Type", ""), response.content)

    def stream(self, api_name: str, data: Any) -> Iterator[Any]:
        """Yield the items of a streaming API's answer as they arrive (read as
        Server-Sent Events); an error the server sends mid-stream is raised as
        :class:`ServerError`. Leaving the loop early closes the connection, which
        stops the API function on the server."""
        api = self._api(api_name)
        kwargs = encode(api, data).httpx_kwargs()
        kwargs["headers"] = {**kwargs["headers"], "Accept": "text/event-stream"}
        where = f"POST {self.url}/{api.route}"
        attempt, waited = 0, 0.0
        while True:
            with self._http.stream("POST", f"/{api.route}", **kwargs) as response:
                if response.status_code == 503:
                    delay = self.retry.delay(response.headers, attempt, waited)
                    if delay is not None:
                        attempt, waited = attempt + 1, waited + delay
                        time.sleep(delay)
                        continue
                if response.status_code >= 400:
                    response.read()
                    raise server_error(response.status_code, response.headers,
                                       response.content, where)
                if "event-stream" not in response.headers.get("Content-Type", ""):
                    response.read()  # not a streaming answer: one value
                    yield decode(api, response.headers.get("Content-Type", ""),
                                 response.content)
                    return
                reader = SseReader()
                for line in response.iter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield stream_item(api, *event, where)
                return

    def _api(self, name: str) -> ApiInfo:
        if name not in self.apis:
            raise unknown_api(name, self.apis)
        return self.apis[name]

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        attempt, waited = 0, 0.0
        while True:
            response = self._http.request(method, path, **kwargs)
            if response.status_code == 503:
                delay = self.retry.delay(response.headers, attempt, waited)
                if delay is not None:
                    attempt, waited = attempt + 1, waited + delay
                    time.sleep(delay)
                    continue
            if response.status_code >= 400:
                raise server_error(response.status_code, response.headers, response.content,
                                   f"{method} {self.url}{path}")
            return response

    # -- lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<bentonb.Client {self.url}>"
