"""The three benchmark workloads as plain models (no bentonb import: BentoML uses them too).

1. iris: the tutorial's SVC, one row per request (HTTP overhead bound);
2. synthetic: a model that costs 2 ms + 0.1 ms per item (dispatcher bound);
3. cifar: the PyTorch tutorial's CIFAR-10 ``Net`` on 32x32 PNGs (model bound).
"""

from __future__ import annotations

import io
import time

import numpy as np

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def synthetic_model(items: list) -> list:
    """2 ms + 0.1 ms per item, like an accelerator call (the GIL is released)."""
    time.sleep(0.002 + 0.0001 * len(items))
    return [x * 2 for x in items]


def cifar_net():
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    class Net(nn.Module):
        """The CIFAR-10 network of the PyTorch tutorial."""

        def __init__(self):
            super().__init__()
            self.conv1, self.norm1 = nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64)
            self.conv2, self.norm2 = nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64)
            self.conv3, self.norm3 = nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128)
            self.conv4, self.norm4 = nn.Conv2d(128, 128, 3, padding=1), nn.BatchNorm2d(128)
            self.conv5, self.norm5 = nn.Conv2d(128, 256, 3, padding=1), nn.BatchNorm2d(256)
            self.conv6, self.norm6 = nn.Conv2d(256, 256, 3, padding=1), nn.BatchNorm2d(256)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1, self.norm7 = nn.Linear(256 * 4 * 4, 256), nn.BatchNorm1d(256)
            self.fc2 = nn.Linear(256, 10)

        def forward(self, x):
            x = self.norm1(F.relu(self.conv1(x)))
            x = self.pool(self.norm2(F.relu(self.conv2(x))))
            x = self.norm3(F.relu(self.conv3(x)))
            x = self.pool(self.norm4(F.relu(self.conv4(x))))
            x = self.norm5(F.relu(self.conv5(x)))
            x = self.pool(self.norm6(F.relu(self.conv6(x))))
            x = self.norm7(F.relu(self.fc1(x.reshape(-1, 256 * 4 * 4))))
            return self.fc2(x)

    torch.manual_seed(0)
    return Net().eval()


def cifar_batch(images: list) -> np.ndarray:
    import torch

    x = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    return ((x - 0.5) / 0.5).contiguous()


def png_bytes(seed: int = 0) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def iris_model():
    from sklearn import datasets, svm

    iris = datasets.load_iris()
    return svm.SVC(gamma="scale").fit(iris.data, iris.target)
