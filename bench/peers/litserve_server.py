"""LitServe 0.2.19 serving a benchmark workload with dynamic batching on (its own venv).

    bench/.venv-litserve/bin/python bench/peers/litserve_server.py {iris,cifar} PORT

The same models as bentonb's benchmark: the iris SVC trained by
``workloads.iris_model`` and the CIFAR ``Net`` with ``workloads.cifar_net``'s
seeded weights. ``POST /predict`` takes ``{"input": [4 floats]}`` (iris) or
``{"image": "<base64 PNG>"}`` (cifar); ``GET /health`` answers 200 once the
model is loaded. ``max_batch_size``/``batch_timeout`` sit on the LitAPI: in
0.2.19 that is where LitServer's own (deprecated) arguments are moved to.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import litserve as ls
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workloads  # noqa: E402

# Up to 1000 rows (iris) or 64 images (cifar) per batch, like bentonb's services;
# a batch closes after 10 ms, about bentonb's wait under this load.
BATCH = {"iris": 1000, "cifar": 64}
BATCH_TIMEOUT_S = 0.01


class IrisAPI(ls.LitAPI):
    def setup(self, device):
        self.model = workloads.iris_model()

    def decode_request(self, request):
        return request["input"]

    def batch(self, inputs):
        return np.asarray(inputs, dtype=np.float64)

    def predict(self, rows):
        return self.model.predict(rows)

    def unbatch(self, output):
        return list(output)

    def encode_response(self, output):
        return {"output": int(output)}


class CifarAPI(ls.LitAPI):
    def setup(self, device):
        self.net = workloads.cifar_net()

    def decode_request(self, request):
        from PIL import Image

        png = base64.b64decode(request["image"])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def batch(self, inputs):
        return inputs

    def predict(self, images):
        import torch

        with torch.no_grad():
            return self.net(workloads.cifar_batch(images)).argmax(dim=1).tolist()

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return {"output": workloads.CLASSES[output]}


def main() -> None:
    workload, port = sys.argv[1], int(sys.argv[2])
    api_class = {"iris": IrisAPI, "cifar": CifarAPI}[workload]
    api = api_class(max_batch_size=BATCH[workload], batch_timeout=BATCH_TIMEOUT_S)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=port, generate_client_file=False)


if __name__ == "__main__":
    main()
