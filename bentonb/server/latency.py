"""The batch-time model of the micro-batcher: T(n) = a*n + b, fitted as batches run.

It holds plain arithmetic over recent samples: it never imports tornado, asyncio,
the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

from collections import deque


class LatencyModel:
    """Fits T(n) = a*n + b by least squares over the most recent batches.

    The sums the fit needs are kept as batches come and go, so a batch costs the same
    few operations whatever the window (sizes sum exactly as integers; the sums of
    times are made afresh once per window, so that rounding cannot build up)."""

    def __init__(self, window: int = 64) -> None:
        self._samples: deque[tuple[int, float]] = deque(maxlen=window)
        self.a = 0.0
        self.b = 0.0
        self._spread = False  # batches of more than one size were timed: b is known
        self._sum_n = self._sum_nn = 0
        self._sum_t = self._sum_nt = 0.0
        self._until_resum = window

    def record(self, n: int, seconds: float) -> None:
        samples = self._samples
        if len(samples) == samples.maxlen:
            old_n, old_t = samples[0]
            self._sum_n -= old_n
            self._sum_nn -= old_n * old_n
            self._sum_t -= old_t
            self._sum_nt -= old_n * old_t
        samples.append((n, seconds))
        self._until_resum -= 1
        if self._until_resum <= 0:
            self._until_resum = samples.maxlen or 1
            self._sum_t = sum(t for _, t in samples)
            self._sum_nt = sum(k * t for k, t in samples)
        else:
            self._sum_t += seconds
            self._sum_nt += n * seconds
        self._sum_n += n
        self._sum_nn += n * n
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
        count, sum_n, sum_t = len(self._samples), self._sum_n, self._sum_t
        per_item = sum_t / max(1, sum_n)
        mean_n, mean_t = sum_n / count, sum_t / count
        # count * sum((n - mean_n)^2), exact: sizes are integers.
        scaled_var = count * self._sum_nn - sum_n * sum_n
        self._spread = scaled_var > 0
        if scaled_var == 0:
            self.a, self.b = per_item, 0.0
            return
        a = (count * self._sum_nt - sum_n * sum_t) / scaled_var
        b = mean_t - a * mean_n
        if a < 0:
            a, b = 0.0, mean_t
        elif b < 0:
            a, b = per_item, 0.0
        self.a, self.b = a, b
