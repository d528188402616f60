"""The benchmark's workloads as bentonb services, with the bodies each server is sent.

Every server gets the same data (one iris row, one 32x32 PNG); only the
envelope differs: bentonb takes the raw row or image, BentoML 1.4 and LitServe
a JSON object, MLServer a V2 inference request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import workloads

import bentonb
from bentonb.adapters import DataframeInput, ImageInput, JsonInput
from bentonb.artifact import PytorchModelArtifact, SklearnModelArtifact

IRIS_ROW = [5.1, 3.5, 1.4, 0.2]


@bentonb.artifacts([SklearnModelArtifact("model")])
class IrisBench(bentonb.BentoService):
    @bentonb.api(input=DataframeInput())
    def predict(self, df):
        return self.artifacts.model.predict(df.to_numpy())


class SyntheticBench(bentonb.BentoService):
    @bentonb.api(input=JsonInput(), batch=True)
    def predict(self, items):
        return workloads.synthetic_model(items)


class SyntheticRowsBench(bentonb.BentoService):
    """The synthetic model over table rows: a request of k rows is k items."""

    @bentonb.api(input=DataframeInput(), batch=True)
    def predict(self, df):
        return workloads.synthetic_model(df[0].tolist())


@bentonb.artifacts([PytorchModelArtifact("net")])
class CifarBench(bentonb.BentoService):
    @bentonb.api(input=ImageInput(), batch=True, mb_max_batch_size=64)
    def predict(self, images):
        import torch

        with torch.no_grad():
            classes = self.artifacts.net(workloads.cifar_batch(images)).argmax(dim=1)
        return [workloads.CLASSES[c] for c in classes]


@dataclass
class Body:
    """What one server is sent: a content type and the bytes."""

    content_type: str
    data: bytes


@dataclass
class Scenario:
    """A workload: its bentonb service, its largest micro-batch, and a body per server kind."""

    name: str
    make_service: Callable[[], object]
    max_batch_size: int
    bodies: dict[str, Body] = field(default_factory=dict)  # keyed by server kind
    items_per_request: int = 1

    def body(self, kind: str) -> Body:
        return self.bodies.get(kind, self.bodies["bentonb"])


def multipart(field_name: str, filename: str, content: bytes, media: str) -> Body:
    boundary = "benchBoundary7MA4YWxk"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {media}\r\n\r\n").encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return Body(f"multipart/form-data; boundary={boundary}", body)


def _json(value: object) -> Body:
    return Body("application/json", json.dumps(value).encode())


#: Items in each request of the ``synthetic16`` workload.
SYNTHETIC_ROWS = 16


def scenarios() -> dict[str, Scenario]:
    """The workloads; a service is built (and its model trained) only when asked for.

    ``synthetic`` sends one item per request, so on a small machine the HTTP layer,
    not the model, is its bound (the model's ideal rate is above what a bare handler
    answers); ``synthetic16`` sends 16 items per request, so the model is the bound
    and the ratio to ideal batching measures the batcher alone."""
    png = workloads.png_bytes()
    png64 = base64.b64encode(png).decode()
    return {
        "iris": Scenario(
            "iris", lambda: IrisBench().pack("model", workloads.iris_model()), 1000, {
                "bentonb": _json([IRIS_ROW]),
                "bentoml": _json({"input": [IRIS_ROW]}),
                "litserve": _json({"input": IRIS_ROW}),
                "mlserver": _json({"inputs": [{"name": "input", "shape": [1, 4],
                                               "datatype": "FP64", "data": IRIS_ROW}]}),
            }),
        "synthetic": Scenario(
            "synthetic", SyntheticBench, 1000, {
                "bentonb": _json(1.0), "bentoml": _json({"input": [1.0]})}),
        "synthetic16": Scenario(
            "synthetic16", SyntheticRowsBench, 1000,
            {"bentonb": _json([[1.0]] * SYNTHETIC_ROWS)}, SYNTHETIC_ROWS),
        "cifar": Scenario(
            "cifar", lambda: CifarBench().pack("net", workloads.cifar_net()), 64, {
                "bentonb": Body("image/png", png),
                "bentoml": multipart("images", "cat.png", png, "image/png"),
                "litserve": _json({"image": png64}),
                "mlserver": _json({"inputs": [{"name": "image", "shape": [1],
                                               "datatype": "BYTES", "data": [png64]}]}),
            }),
    }
