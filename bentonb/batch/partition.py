"""The worker side of a batch job: predict one partition, chunk by chunk, with retry
and bisection.

Each Dask task runs :func:`predict_partition` on one partition: the worker
loads the bundle once (then keeps it), calls the API on chunks of at most the
API's ``mb_max_batch_size`` rows, retries a failing chunk once, then bisects it
to find the rows at fault, and writes its part of the output. How a chunk is
handed to the API comes from the input adapter's declared capability
(``items_are_rows``), never its class. This module must never import
``bentonb.server``, ``bentonb.service`` or Dask itself (it runs inside a task).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bentonb.batch.files import write_frame
from bentonb.errors import NotFound

#: Services loaded in this (worker) process, by bundle path: each worker loads once.
_LOADED: dict[str, Any] = {}


def load_on_worker(ref: Any) -> Any:
    """The service behind ``ref`` (a bundle path, loaded once per process, or a service)."""
    if not isinstance(ref, str):
        return ref
    if ref not in _LOADED:
        from bentonb.bundle.loader import load_bundle

        if not Path(ref).exists():
            raise NotFound(f"bundle {ref} is not on this worker; put bundles on storage "
                           "every worker can read")
        _LOADED[ref] = load_bundle(ref)
    return _LOADED[ref]


def _call(api: Any, chunk: Any) -> Any:
    adapter = api.input_adapter
    if adapter.items_are_rows:
        return api.run_batch([chunk.reset_index(drop=True)])[0]
    records = chunk.to_dict(orient="records")
    return api.run_batch([adapter.from_python(r) for r in records])


def _predict_rows(api: Any, chunk: Any, failures: list) -> list[tuple[int, Any]]:
    """``(row offset, result)`` pieces for ``chunk``; failing rows go to ``failures``.

    A failing chunk is tried once more, then bisected to find the rows at fault.
    """
    for attempt in range(2):
        try:
            return [(0, _call(api, chunk))]
        except Exception as exc:  # noqa: BLE001 - the user's function may raise anything
            error = exc
            if len(chunk) == 1 or attempt == 1:
                break
    if len(chunk) == 1:
        failures.append((chunk.index[0], f"{type(error).__name__}: {error}"))
        return []
    mid = len(chunk) // 2
    head = _predict_rows(api, chunk.iloc[:mid], failures)
    tail = _predict_rows(api, chunk.iloc[mid:], failures)
    return head + [(offset + mid, result) for offset, result in tail]


def prediction_frame(result: Any, index: Any) -> Any:
    """The prediction column(s) for the rows ``index``."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result.set_axis(index, axis=0)
    if isinstance(result, pd.Series):
        return pd.DataFrame({"prediction": result.to_numpy()}, index=index)
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        return pd.DataFrame(result, index=index)
    array = np.asarray(result) if not isinstance(result, list) else None
    if array is not None and array.ndim == 2:
        return pd.DataFrame(array, index=index,
                            columns=[f"prediction_{i}" for i in range(array.shape[1])])
    return pd.DataFrame({"prediction": list(result) if array is None else array}, index=index)


def predict_partition(df: Any, service_ref: Any, api_name: str, columns: list[str] | None,
                      keep_columns: list[str] | None, part: int, parts_dir: str | None,
                      fmt: str) -> tuple[int, Any, Any]:
    """Predict one partition: ``(rows, failed rows frame, predictions or None)``.

    With ``parts_dir`` the predictions are written there as part ``part``.
    """
    import pandas as pd

    service = load_on_worker(service_ref)
    api = service.get_inference_api(api_name)
    df = df.reset_index(drop=True)
    features = df[columns] if columns else df
    kept = df[keep_columns] if keep_columns is not None else df
    failures: list[tuple[int, str]] = []
    pieces = []
    for start in range(0, len(df), api.mb_max_batch_size):
        chunk = features.iloc[start:start + api.mb_max_batch_size]
        for offset, result in _predict_rows(api, chunk, failures):
            rows = chunk.index[offset:offset + len(result)]
            pieces.append(prediction_frame(result, rows))
    predictions = pd.concat(pieces) if pieces else pd.DataFrame(index=df.index[:0])
    clash = set(predictions.columns) & set(kept.columns)
    predictions = predictions.rename(columns={c: f"{c}_prediction" for c in clash})
    out = kept.loc[predictions.index].join(predictions)
    errors = None
    if failures:
        rows = [i for i, _ in failures]
        errors = df.loc[rows].assign(partition=part, row=rows,
                                     error=[e for _, e in failures])
    if parts_dir is None:
        return len(df), errors, out
    write_frame(out, f"{parts_dir}/part-{part:06d}.{fmt}", fmt)
    return len(df), errors, None
