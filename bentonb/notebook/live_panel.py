"""The serving widget's live panel: requests per second, p50/p99 latency and errors
over the last minute, and the last 20 requests, refreshed once a second.

:class:`RequestWindow` listens to the server's own metrics
(:attr:`ServerMetrics.listeners`, called on the server's loop after each answered
request) and keeps the last minute of (time, API, status, seconds). It holds at most
``max_items`` requests: beyond that rate the oldest go first and the numbers cover
less than a minute. :class:`LivePanel` renders it into one HTML widget from a timer
thread, and only when the text changed, so an idle server sends no widget messages.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bentonb.notebook.loadgen import percentile


@dataclass(frozen=True)
class WindowStats:
    """What the panel shows for the last minute."""

    requests: int
    errors: int
    req_per_s: float
    p50_ms: float | None
    p99_ms: float | None


class RequestWindow:
    """The requests answered in the last ``window`` seconds, and the last ``recent``."""

    def __init__(self, window: float = 60.0, recent: int = 20, max_items: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.window, self.clock = window, clock
        self.started = clock()
        self._items: deque[tuple[float, str, int, float]] = deque(maxlen=max_items)
        self._recent: deque[tuple[float, str, int, float]] = deque(maxlen=recent)
        self._lock = threading.Lock()

    def record(self, api: str, status: int, seconds: float) -> None:
        """One answered request (a :attr:`ServerMetrics.listeners` callback)."""
        item = (self.clock(), api, status, seconds)
        with self._lock:
            self._items.append(item)
            self._recent.append(item)

    def stats(self) -> WindowStats:
        """Requests, errors (status >= 400), req/s and latency of the last minute; the
        rate is over the time the window has existed when that is under a minute."""
        now = self.clock()
        with self._lock:
            while self._items and self._items[0][0] < now - self.window:
                self._items.popleft()
            items = list(self._items)
        latencies = sorted(i[3] for i in items)
        span = max(min(self.window, now - self.started), 1e-3)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        return WindowStats(
            requests=len(items), errors=sum(i[2] >= 400 for i in items),
            req_per_s=len(items) / span,
            p50_ms=None if p50 is None else p50 * 1000,
            p99_ms=None if p99 is None else p99 * 1000)

    def recent(self) -> list[tuple[float, str, int, float]]:
        """The last requests, newest first: (time, API, status, seconds)."""
        with self._lock:
            return list(reversed(self._recent))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def render(stats: WindowStats, recent: list[tuple[float, str, int, float]]) -> str:
    """The panel's HTML."""
    color = "#b00" if stats.errors else "#080"
    head = (f"<b>last minute</b>: {stats.req_per_s:.1f} req/s &middot; "
            f"p50 {_ms(stats.p50_ms)} &middot; p99 {_ms(stats.p99_ms)} &middot; "
            f"<span style='color:{color}'>{stats.errors} errors</span> "
            f"of {stats.requests} requests")
    rows = "".join(
        f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(t))}.{int(t * 1000) % 1000:03d}"
        f"</td><td>{html.escape(api)}</td><td>{status}</td><td>{s * 1000:.1f} ms</td></tr>"
        for t, api, status, s in recent)
    table = (f"<table style='font-size:smaller'><tr><th>time</th><th>API</th><th>status"
             f"</th><th>latency</th></tr>{rows}</table>" if rows else "")
    return f"<div>{head}{table}</div>"


class LivePanel:
    """One HTML widget kept current by a timer thread until :meth:`stop`."""

    def __init__(self, window: RequestWindow, running: Callable[[], bool],
                 interval: float = 1.0) -> None:
        import ipywidgets as widgets

        self.window, self.running, self.interval = window, running, interval
        self.html = widgets.HTML()
        self._stopped = threading.Event()
        self.refresh()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="bentonb-live-panel")
        self._thread.start()

    def refresh(self) -> None:
        """Render now; sends a widget message only when the text changed."""
        text = render(self.window.stats(), self.window.recent())
        if text != self.html.value:
            self.html.value = text

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval) and self.running():
            self.refresh()

    def stop(self, timeout: float | None = 5) -> None:
        """Stop the timer (the server stopped, or the widget is gone)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def attach(metrics: Any) -> RequestWindow:
    """A window fed by ``metrics`` (a :class:`ServerMetrics`) from now on."""
    window = RequestWindow()
    metrics.listeners.append(window.record)
    return window

