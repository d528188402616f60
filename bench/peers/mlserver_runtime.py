"""MLServer 1.7.1 runtimes (custom ``MLModel``) for the benchmark's iris and cifar workloads.

Loaded by ``mlserver start`` from the repository that mlserver_settings.py
writes (its PYTHONPATH holds this folder); see there for the request format.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workloads  # noqa: E402


class IrisRuntime(MLModel):
    """The iris SVC: rows of 4 floats in, one class index per row out."""

    async def load(self) -> bool:
        self.model = workloads.iris_model()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = NumpyCodec.decode_input(payload.inputs[0]).reshape(-1, 4)
        classes = self.model.predict(rows).reshape(-1, 1)
        return InferenceResponse(model_name=self.name,
                                 outputs=[NumpyCodec.encode_output("output", classes)])

class CifarRuntime(MLModel):
    """The CIFAR Net: base64 PNGs in, one class name per image out."""

    async def load(self) -> bool:
        self.net = workloads.cifar_net()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        import torch
        from PIL import Image

        images = [np.asarray(Image.open(io.BytesIO(base64.b64decode(item))).convert("RGB"))
                  for item in StringCodec.decode_input(payload.inputs[0])]
        with torch.no_grad():
            classes = self.net(workloads.cifar_batch(images)).argmax(dim=1).tolist()
        names = [workloads.CLASSES[c] for c in classes]
        return InferenceResponse(model_name=self.name,
                                 outputs=[StringCodec.encode_output("output", names)])
