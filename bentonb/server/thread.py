"""Serve from a daemon thread with its own event loop: the caller keeps running.

This is how a notebook kernel (or a test, or a script) serves without blocking:
``BackgroundServer(service, config)`` returns once the port is listening. The
application, its limits and its shutdown are the CLI's own. It never imports
notebook/ or the CLI.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bentonb.errors import BentonbError
from bentonb.server.app import ServerConfig, make_app
from bentonb.server.connections import drain
from bentonb.server.runner import listen, local_url, make_http_server


class BackgroundServer:
    """A running server on a daemon thread; ``.url``, ``.swap(svc)``, ``.stop()``."""

    def __init__(self, service: Any, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._sockets = listen(self.config.host, self.config.port)
        self.port = self._sockets[0].getsockname()[1]
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, args=(service,), daemon=True,
                                        name=f"bentonb-server-{self.port}")
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise BentonbError(f"server failed to start: {self._error}") from self._error

    @property
    def url(self) -> str:
        return local_url(self.config.host, self.port)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def state(self):
        return self.app.state

    def _run(self, service: Any) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self.app = make_app(service, self.config)
            self._server = make_http_server(self.app, self.config)
            self._server.add_sockets(self._sockets)
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    def _call(self, func: Any, timeout: float | None = None) -> Any:
        """Run ``func()`` (sync or coroutine function) on the server's loop and wait."""
        async def wrapper():
            result = func()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def allow_host(self, host: str) -> None:
        """Answer requests whose Host is ``host`` from now on (a tunnel's public name)."""
        self._call(lambda: self.app.state.guard.allow_host(host))

    def swap(self, service: Any) -> None:
        """Serve ``service`` from now on, on the same port; no request is dropped."""
        self._call(lambda: self.app.state.swap(service))

    @property
    def service(self) -> Any:
        return self.app.state.runtime.service

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C interrupts the wait)."""
        self._thread.join()

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, close idle connections, let requests in flight finish (up to
        ``timeout``, by default the config's ``graceful_timeout``), free the port."""
        if not self.running:
            return
        if timeout is None:
            timeout = self.config.graceful_timeout

        try:
            self._call(lambda: drain(self.app, self._server, timeout), timeout + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
