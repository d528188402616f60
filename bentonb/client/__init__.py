"""Python clients of a bentonb server: :class:`Client` (blocking) and
:class:`AsyncClient` (asyncio), over httpx.

    with bentonb.Client("http://127.0.0.1:5000", api_key=key) as client:
        client.predict(df)

The clients learn the APIs from the server's ``/docs.json`` and ``/metadata`` and
encode each value as its input adapter reads it. This package sits beside
server/: it never imports bentonb.server or tornado.
"""

from bentonb.client._async import ApiCall, AsyncClient
from bentonb.client._core import ApiInfo
from bentonb.client._sync import Client

__all__ = ["ApiCall", "ApiInfo", "AsyncClient", "Client"]
