"""The MLServer 1.7.1 model repository for a benchmark workload (no MLServer import).

``write_model_repository`` (run by the benchmark, in bentonb's venv) lays out
a folder with ``settings.json`` and one model folder whose
``model-settings.json`` names a runtime of mlserver_runtime.py and sets
``max_batch_size`` and ``max_batch_time``; ``bench/.venv-mlserver/bin/mlserver
start FOLDER`` serves it. The models are bentonb's benchmark models
(``workloads.iris_model``, the seeded ``workloads.cifar_net``). Requests
follow the V2 inference protocol: ``POST /v2/models/{iris,cifar}/infer``
with one FP64 input of shape [1, 4] (iris) or one BYTES input holding a base64
PNG (cifar). MLServer concatenates batched requests along the first axis and
splits the outputs back.
"""

from __future__ import annotations

import json
from pathlib import Path

BATCH = {"iris": 1000, "cifar": 64}
BATCH_TIME_S = 0.01  # as LitServe's batch_timeout: a batch closes after 10 ms


def write_model_repository(folder: Path, workload: str, http_port: int, grpc_port: int,
                           metrics_port: int) -> Path:
    """Write the settings MLServer reads; returns ``folder``. Needs no MLServer import."""
    model_dir = folder / workload
    model_dir.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port,
        "metrics_port": metrics_port, "debug": False}))
    (model_dir / "model-settings.json").write_text(json.dumps({
        "name": workload,
        "implementation": f"mlserver_runtime.{workload.capitalize()}Runtime",
        "max_batch_size": BATCH[workload], "max_batch_time": BATCH_TIME_S}))
    return folder
