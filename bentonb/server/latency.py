"""The batch-time model of the micro-batcher: T(n) = a*n + b, fitted as batches run.

It holds plain arithmetic over recent samples: it never imports tornado, asyncio,
the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

from collections import deque


class LatencyModel:
    """Fits T(n) = a*n + b by least squares over the most recent batches."""

    def __init__(self, window: int = 64) -> None:
        self._samples: deque[tuple[int, float]] = deque(maxlen=window)
        self.a = 0.0
        self.b = 0.0
        self._spread = False  # batches of more than one size were timed: b is known

    def record(self, n: int, seconds: float) -> None:
        self._samples.append((n, seconds))
        self._fit()

    @property
    def samples(self) -> int:
        """How many batch times the fit is made of (at most the window)."""
        return len(self._samples)

    @property
    def overhead(self) -> float:
        """Seconds each batch costs whatever its size: b once batches of different
        sizes were timed; until then the whole mean batch time (an upper bound)."""
        if self._spread or not self._samples:
            return self.b
        return sum(t for _, t in self._samples) / len(self._samples)

    def estimate(self, n: int) -> float:
        return max(0.0, self.a * n + self.b)

    def _fit(self) -> None:
        ns = [n for n, _ in self._samples]
        ts = [t for _, t in self._samples]
        per_item = sum(ts) / max(1, sum(ns))
        mean_n, mean_t = sum(ns) / len(ns), sum(ts) / len(ts)
        var = sum((n - mean_n) ** 2 for n in ns)
        self._spread = var > 0
        if var == 0:
            self.a, self.b = per_item, 0.0
            return
        a = sum((n - mean_n) * (t - mean_t) for n, t in self._samples) / var
        b = mean_t - a * mean_n
        if a < 0:
            a, b = 0.0, mean_t
        elif b < 0:
            a, b = per_item, 0.0
        self.a, self.b = a, b
