"""The same three workloads served by BentoML 1.4 with batching on (run in its own venv)."""

from __future__ import annotations

import os
import sys

import bentoml
import numpy as np
from PIL.Image import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@bentoml.service(workers=1)
class IrisBento:
    def __init__(self) -> None:
        from workloads import iris_model

        self.model = iris_model()

    @bentoml.api(batchable=True, max_batch_size=1000, max_latency_ms=10000)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)


@bentoml.service(workers=1)
class SyntheticBento:
    @bentoml.api(batchable=True, max_batch_size=1000, max_latency_ms=10000)
    def predict(self, input: list[float]) -> list[float]:
        from workloads import synthetic_model

        return synthetic_model(input)


@bentoml.service(workers=1)
class CifarBento:
    def __init__(self) -> None:
        from workloads import cifar_net

        self.net = cifar_net()

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=10000)
    def predict(self, images: list[Image]) -> list[str]:
        import torch
        from workloads import CLASSES, cifar_batch

        arrays = [np.asarray(i.convert("RGB")) for i in images]
        with torch.no_grad():
            classes = self.net(cifar_batch(arrays)).argmax(dim=1)
        return [CLASSES[c] for c in classes]
