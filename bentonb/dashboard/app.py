"""The standalone dashboard (``bentonb yatai-service-start``): a Tornado application
over the store, behind the service's Host/Origin guard.

Reading is open to whoever the guard lets in; deleting needs the API key when one
is set, and otherwise a request from this machine (loopback). A page of another
origin is refused outright, so a web page cannot make the browser delete.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import tornado.web

from bentonb.dashboard.catalog import Catalog
from bentonb.dashboard.handlers import ROUTES, SETTING, Dashboard, NotFoundRoute
from bentonb.server.guards import RequestGuard, request_id
from bentonb.store import LocalStore


class StandaloneHandler(tornado.web.RequestHandler):
    """Request ids, the Host/Origin guard, and the delete rule of the standalone app."""

    def prepare(self) -> None:
        self.request_id = request_id(self.request.headers.get("X-Request-Id"))
        self.set_header("X-Request-Id", self.request_id)
        guard: RequestGuard = self.settings["bentonb_guard"]
        host = self.request.headers.get("Host")
        if not guard.host_allowed(host):
            self.write_json_error(403, f"Host '{host[:100]}' is not served here; start the "
                                       "dashboard with --host NAME to serve it")
            return
        origin = self.request.headers.get("Origin")
        allowed, _cors = guard.origin(origin, host, self.request.protocol)
        if not allowed or _cors:
            self.write_json_error(403, f"requests from pages of origin '{origin[:100]}' are "
                                       "refused by the dashboard")

    def may_delete(self) -> str | None:
        key = self.settings["bentonb_api_key"]
        if key:
            given = self.request.headers.get("X-API-Key") or ""
            auth = self.request.headers.get("Authorization") or ""
            if auth[:7].lower() == "bearer ":
                given = auth[7:].strip()
            if hmac.compare_digest(given.encode(), key.encode()):
                return None
            return "deleting needs the dashboard's API key: send 'Authorization: Bearer KEY'"
        try:
            if ipaddress.ip_address(self.request.remote_ip).is_loopback:
                return None
        except ValueError:
            pass
        return ("deleting is allowed only from this machine when the dashboard has no API "
                "key; start it with --api-key to delete from elsewhere")


def make_dashboard_app(home: Any = None, host: str = "127.0.0.1",
                       api_key: str | None = None,
                       allow_hosts: tuple[str, ...] = ()) -> tornado.web.Application:
    """The dashboard over the store at ``home`` (default ``$BENTONB_HOME``), answering
    the Host names of a server bound to ``host`` (and ``allow_hosts``)."""
    dashboard = Dashboard(Catalog(LocalStore(home)), "/")
    handlers = [(f"/{pattern}", type(mixin.__name__, (mixin, StandaloneHandler), {}))
                for pattern, mixin in ROUTES]
    return tornado.web.Application(
        handlers, default_handler_class=type("NotFound", (NotFoundRoute, StandaloneHandler),
                                             {}),
        **{SETTING: dashboard, "bentonb_guard": RequestGuard(host, allow_hosts),
           "bentonb_api_key": api_key})


def run_dashboard(home: Any = None, host: str = "127.0.0.1", port: int = 3000,
                  api_key: str | None = None, allow_hosts: tuple[str, ...] = (),
                  ready: Any = None) -> None:
    """Serve the dashboard until SIGINT or SIGTERM; ``ready(url)`` is called once the
    port is bound (port 0: the OS picks one, and the URL names it)."""
    import asyncio
    import signal

    import tornado.httpserver
    import tornado.netutil

    async def main() -> None:
        sockets = tornado.netutil.bind_sockets(port, host)
        app = make_dashboard_app(home, host, api_key, allow_hosts)
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        # Read every manifest once now, off the loop, so the first page is as fast as
        # the next ones (later reads come from the cache until a manifest changes).
        asyncio.get_running_loop().run_in_executor(None, app.settings[SETTING].catalog.entries)
        bound = sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        if ready is not None:
            ready(f"http://{shown}:{bound}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()

    asyncio.run(main())
