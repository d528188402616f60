"""What the models can do in-process, without a server: the ceilings servers are held to.

``best_rate`` gives a model's items per second at its best batch size;
``synthetic_fit`` fits the synthetic model's cost T(n) = a + b*n, from which
the throughput of ideal batching at n items per call is n / T(n).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import workloads


def best_rate(call: Callable, make_batch: Callable[[int], object], sizes: list[int],
              seconds: float = 2.0) -> tuple[float, int]:
    """Items per second of ``call`` at its best batch size, and that size."""
    best = (0.0, 1)
    for n in sizes:
        batch = make_batch(n)
        call(batch)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(sizes):
            call(batch)
            done += n
        best = max(best, (done / (time.perf_counter() - start), n))
    return best


def iris_ceiling() -> tuple[float, int]:
    model = workloads.iris_model()
    return best_rate(model.predict, lambda n: np.tile([[5.1, 3.5, 1.4, 0.2]], (n, 1)),
                     [1, 16, 128, 1000])


def synthetic_ceiling() -> tuple[float, int]:
    return best_rate(workloads.synthetic_model, lambda n: [1.0] * n, [1, 100, 1000])


def cifar_ceiling(seconds: float = 4.0) -> tuple[float, int]:
    import torch
    from PIL import Image

    net = workloads.cifar_net()
    image = np.asarray(Image.open(io.BytesIO(workloads.png_bytes())).convert("RGB"))

    def call(images):
        with torch.no_grad():
            net(workloads.cifar_batch(images)).argmax(dim=1)

    return best_rate(call, lambda n: [image] * n, [1, 8, 32, 64], seconds=seconds)


CEILINGS = {"iris": iris_ceiling, "synthetic": synthetic_ceiling,
            "synthetic16": synthetic_ceiling, "cifar": cifar_ceiling}


@dataclass
class LinearCost:
    """T(n) = a + b*n seconds for one call on n items, fitted by least squares."""

    a_s: float
    b_s: float
    sizes: list[int]

    def ideal_rate(self, n: int) -> float:
        """Items per second if every call carried ``n`` items."""
        return n / (self.a_s + self.b_s * n)


def synthetic_fit(sizes: tuple[int, ...] = (1, 16, 64, 256, 1000), repeats: int = 5) -> LinearCost:
    """Time the synthetic model at several batch sizes (best of ``repeats``) and fit a + b*n."""
    times = []
    for n in sizes:
        items = [1.0] * n
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            workloads.synthetic_model(items)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    b, a = np.polyfit(np.asarray(sizes, dtype=float), np.asarray(times), 1)
    return LinearCost(float(a), float(b), list(sizes))
