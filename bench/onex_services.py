"""The iris workload written against the BentoML 1.x API (a service with a batchable runner).

The same code is served by bentonb (``bentonb serve onex_services:svc``) and by
BentoML 1.4 from its own venv (``bentoml serve onex_services:svc`` with
``BENCH_1X_FRAMEWORK=bentoml``): only the import differs. ``python
onex_services.py save`` stores the model first (in $BENTONB_HOME or
$BENTOML_HOME), so that every server process finds the same ``iris_clf:latest``.
One line differs for BentoML 1.4, which moved this ``Service`` to
``bentoml.legacy.Service``.

Two APIs: ``/predict`` calls ``runner.predict.run(x)`` from a sync function,
``/predict_async`` awaits ``runner.predict.async_run(x)``. Both take and answer
a JSON array of rows, e.g. ``[[5.1, 3.5, 1.4, 0.2]]``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

if os.environ.get("BENCH_1X_FRAMEWORK") == "bentoml":
    import bentoml
else:
    import bentonb as bentoml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODEL_NAME = "iris_clf"


def save_model() -> object:
    """Train the iris SVC and store it with a batchable ``predict`` signature."""
    from workloads import iris_model

    return bentoml.sklearn.save_model(MODEL_NAME, iris_model(),
                                      signatures={"predict": {"batchable": True}})


if __name__ == "__main__":
    if sys.argv[1:] != ["save"]:
        sys.exit("usage: python onex_services.py save")
    print(save_model().tag)
    sys.exit(0)

iris_runner = bentoml.sklearn.get(f"{MODEL_NAME}:latest").to_runner()
# BentoML 1.4 keeps the 1.x Service(name, runners=[...]) as bentoml.legacy.Service
# (bentoml.Service is now the 1.2+ class-based one); bentonb has it as bentonb.Service.
Service = bentoml.legacy.Service if hasattr(bentoml, "legacy") else bentoml.Service
svc = Service(MODEL_NAME, runners=[iris_runner])


@svc.api(input=bentoml.io.NumpyNdarray(), output=bentoml.io.NumpyNdarray())
def predict(rows: np.ndarray) -> np.ndarray:
    return iris_runner.predict.run(rows)


@svc.api(input=bentoml.io.NumpyNdarray(), output=bentoml.io.NumpyNdarray())
async def predict_async(rows: np.ndarray) -> np.ndarray:
    return await iris_runner.predict.async_run(rows)
