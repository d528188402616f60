"""``bentonb.AsyncClient``: call a bentonb server's APIs from asyncio code.

Never imports bentonb.server or tornado.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
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


class ApiCall:
    """One call of an API through :class:`AsyncClient`: ``await`` it for the answer
    (a streaming API's items as a list), or ``async for`` over it for the items of a
    streaming API as they arrive."""

    def __init__(self, client: AsyncClient, api_name: str, data: Any) -> None:
        self._client, self._name, self._data = client, api_name, data

    def __await__(self) -> Generator[Any, None, Any]:
        return self._client._answer(self._name, self._data).__await__()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._client.stream(self._name, self._data)


class AsyncClient:
    """The asyncio twin of :class:`bentonb.Client`, with the same behaviour:
    ``await client.predict(df)``, ``await client.call("predict", df)``,
    ``async for item in client.generate(prompt)``. Use ``async with``, or
    ``await client.aclose()``."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, *,
                 max_retries: int = 3, max_retry_wait: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.retry = RetryPolicy(max_retries, max_retry_wait)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)
        self._apis: dict[str, ApiInfo] | None = None
        self._loading: asyncio.Lock | None = None

    async def apis(self) -> dict[str, ApiInfo]:
        """The server's APIs by name (read from the server once, even when many calls
        start at the same time)."""
        if self._apis is None:
            self._loading = self._loading or asyncio.Lock()
            async with self._loading:
                if self._apis is None:
                    docs = await self._send("GET", "/docs.json", {})
                    metadata = await self._send("GET", "/metadata", {})
                    self._apis = describe(docs.json(), metadata.json())
        return self._apis

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._apis is not None and name not in self._apis:
            raise AttributeError(str(unknown_api(name, self._apis)))
        return lambda data: ApiCall(self, name, data)

    def call(self, api_name: str, data: Any) -> ApiCall:
        """Send ``data`` to API ``api_name``: await the result for the answer."""
        return ApiCall(self, api_name, data)

    async def _answer(self, api_name: str, data: Any) -> Any:
        api = await self._api(api_name)
        if api.streaming:
            return [item async for item in self.stream(api_name, data)]
        response = await self._send("POST", f"/{api.route}", encode(api, data).httpx_kwargs())
        return decode(api, response.headers.get("Content-Type", ""), response.content)

    async def stream(self, api_name: str, data: Any) -> AsyncIterator[Any]:
        """Yield the items of a streaming API's answer as they arrive."""
        api = await self._api(api_name)
        kwargs = encode(api, data).httpx_kwargs()
        kwargs["headers"] = {**kwargs["headers"], "Accept": "text/event-stream"}
        where = f"POST {self.url}/{api.route}"
        attempt, waited = 0, 0.0
        while True:
            async with self._http.stream("POST", f"/{api.route}", **kwargs) as response:
                if response.status_code == 503:
                    delay = self.retry.delay(response.headers, attempt, waited)
                    if delay is not None:
                        attempt, waited = attempt + 1, waited + delay
                        await asyncio.sleep(delay)
                        continue
                if response.status_code >= 400:
                    await response.aread()
                    raise server_error(response.status_code, response.headers,
                                       response.content, where)
                if "event-stream" not in response.headers.get("Content-Type", ""):
                    await response.aread()
                    yield decode(api, response.headers.get("Content-Type", ""),
                                 response.content)
                    return
                reader = SseReader()
                async for line in response.aiter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield stream_item(api, *event, where)
                return

    async def _api(self, name: str) -> ApiInfo:
        apis = await self.apis()
        if name not in apis:
            raise unknown_api(name, apis)
        return apis[name]

    async def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        attempt, waited = 0, 0.0
        while True:
            response = await self._http.request(method, path, **kwargs)
            if response.status_code == 503:
                delay = self.retry.delay(response.headers, attempt, waited)
                if delay is not None:
                    attempt, waited = attempt + 1, waited + delay
                    await asyncio.sleep(delay)
                    continue
            if response.status_code >= 400:
                raise server_error(response.status_code, response.headers, response.content,
                                   f"{method} {self.url}{path}")
            return response

    async def aclose(self) -> None:
        """Close the connections; the client cannot be used afterwards."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<bentonb.AsyncClient {self.url}>"
