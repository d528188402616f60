"""Offline inference over files with Dask: the same bundle, locally or on a cluster.

    bentonb.batch.run("IrisClassifier:latest", "predict", "data/*.csv", "preds.parquet")

The input (CSV, Parquet or JSON lines; local paths, globs or fsspec URLs) is
read as a Dask DataFrame. Each partition is a task: the worker loads the
bundle once (then keeps it), calls the API on the partition in batches of at
most the API's ``mb_max_batch_size`` rows, and writes its part of the output.
The parts are joined in input order at the end. Rows whose prediction fails
(after a retry) are written with their error to ``<output>.errors.<ext>``; the
job fails only when more than ``max_error_rate`` of the rows failed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bentonb.errors import BadInput, BatchFailed, InvalidArgument, NotFound, did_you_mean

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
             ".ndjson": "jsonl", ".json": "jsonl"}
_TABLE_INPUTS = ("DataframeInput", "JsonInput")

#: Services loaded in this (worker) process, by bundle path: each worker loads once.
_LOADED: dict[str, Any] = {}


@dataclass
class BatchSummary:
    """What a batch job did."""

    rows: int
    failed_rows: int
    partitions: int
    seconds: float
    output: str | None
    errors_file: str | None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.failed_rows / self.rows if self.rows else 0.0

    def __str__(self) -> str:
        text = (f"{self.rows:,} rows in {self.seconds:.1f} s ({self.rows_per_second:,.0f} "
                f"rows/s), {self.partitions} partitions, {self.failed_rows:,} failed")
        if self.output:
            text += f"; predictions: {self.output}"
        if self.errors_file:
            text += f"; failed rows: {self.errors_file}"
        return text


def detect_format(path: str) -> str:
    suffix = Path(path.rstrip("/")).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if "://" not in path and Path(path).is_dir():
        return "parquet"
    raise InvalidArgument(f"cannot tell the format of '{path}' from its name; "
                          f"say --format {'|'.join(FORMATS)}")


def _input_paths(pattern: str) -> list[str]:
    import fsspec

    fs, _, paths = fsspec.core.get_fs_token_paths(pattern)
    if "://" not in pattern and Path(pattern).is_dir():
        return [pattern]
    if not paths:
        raise BadInput(f"input '{pattern}' matches no file")
    return sorted(fs.unstrip_protocol(p) if "://" in pattern else p for p in paths)


def read_input(pattern: str, fmt: str | None, partition_rows: int | None) -> Any:
    """The input as a Dask DataFrame, partitions in file and row order."""
    import dask.dataframe as dd

    paths = _input_paths(pattern)
    fmt = fmt or detect_format(paths[0])
    try:
        if fmt == "parquet":
            return dd.read_parquet(paths if len(paths) > 1 else paths[0])
        blocksize = _blocksize(paths[0], partition_rows) if partition_rows else "64MB"
        if fmt == "csv":
            return dd.read_csv(paths, blocksize=blocksize)
        return dd.read_json(paths, lines=True, blocksize=blocksize)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {fmt} input '{pattern}': {exc}") from exc


def _blocksize(path: str, rows: int) -> int:
    """Bytes per partition for about ``rows`` rows, from the first lines' lengths."""
    import fsspec

    with fsspec.open(path, "rb") as f:
        sample = f.read(1 << 16)
    lines = sample.count(b"\n") or 1
    return max(1 << 12, int(rows * len(sample) / lines))


# -- worker side --------------------------------------------------------------------------------

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


def write_frame(df: Any, path: str, fmt: str) -> None:
    import fsspec

    with fsspec.open(path, "wb") as f:
        if fmt == "csv":
            df.to_csv(f, index=False)
        elif fmt == "jsonl":
            df.to_json(f, orient="records", lines=True)
        else:
            df.to_parquet(f, index=False)


# -- client side --------------------------------------------------------------------------------

def join_parts(parts: Sequence[str], output: str, fmt: str) -> None:
    """Concatenate the part files, in order, into ``output`` with bounded memory."""
    import fsspec

    if fmt == "parquet":
        import pyarrow.parquet as pq

        writer = None
        try:
            for part in parts:
                with fsspec.open(part, "rb") as f:
                    table = pq.read_table(f)
                if writer is None:
                    writer = pq.ParquetWriter(fsspec.open(output, "wb").open(), table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        return
    with fsspec.open(output, "wb") as out:
        for i, part in enumerate(parts):
            with fsspec.open(part, "rb") as f:
                if fmt == "csv" and i > 0:
                    f.readline()  # the header is written once
                shutil.copyfileobj(f, out)


def errors_path(output: str, fmt: str) -> str:
    base = output[: -len(Path(output).suffix)] if Path(output).suffix else output
    return f"{base}.errors.{fmt}"


def _check_api(target: Any, api: str) -> tuple[Any, str, Any]:
    """Resolve the service reference and check the API exists and reads tables."""
    from bentonb.bundle import resolve
    from bentonb.service import BentoService

    if isinstance(target, BentoService):
        found = target.get_inference_api(api)
        return target, found.input_adapter.type_name, getattr(found.input_adapter,
                                                              "columns", None)
    from bentonb.bundle.manifest import BundleManifest

    path = resolve(target)
    manifest = BundleManifest.read(path)
    specs = {a.name: a for a in manifest.apis}
    if api not in specs:
        raise NotFound(f"{manifest.name} has no API '{api}' (its APIs: {', '.join(specs)})"
                       f"{did_you_mean(api, specs)}")
    return str(Path(path).resolve()), specs[api].input_type, \
        specs[api].input_config.get("columns")


def _client(scheduler: str | None) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="part", desc="bentonb batch", file=sys.stderr)


def run(target: Any, api: str, input: str, output: str | None = None, *,
        format: str | None = None, input_format: str | None = None,
        scheduler: str | None = None, partition_rows: int | None = None,
        columns: Sequence[str] | None = None, keep_columns: Sequence[str] | None = None,
        max_error_rate: float = 0.0, progress: bool = True, client: Any = None) -> Any:
    """Run ``api`` of a bundle (tag or path) or of a packed service over ``input``.

    Without ``output`` the predictions come back as a DataFrame (for small data);
    with it they are written there (``format``: csv, parquet or jsonl; default from
    the name, else parquet) and a :class:`BatchSummary` is returned.
    """
    import dask
    import pandas as pd
    from distributed import as_completed

    service_ref, input_type, api_columns = _check_api(target, api)
    if input_type not in _TABLE_INPUTS:
        raise InvalidArgument(f"API '{api}' reads {input_type}; batch jobs need an API with "
                              "DataframeInput or JsonInput")
    if not 0 <= max_error_rate <= 1:
        raise InvalidArgument("max_error_rate must be between 0 and 1")
    if partition_rows is not None and partition_rows < 1:
        raise InvalidArgument("partition_rows must be at least 1")
    out_format = None
    if output is not None:
        out_format = format or (_SUFFIXES.get(Path(output).suffix.lower()) or "parquet")
        if out_format not in FORMATS:
            raise InvalidArgument(f"unknown output format '{out_format}'; use one of {FORMATS}")
    ddf = read_input(input, input_format, partition_rows)
    wanted = list(columns or api_columns or [])
    missing = [c for c in [*wanted, *(keep_columns or [])] if c not in ddf.columns]
    if missing:
        raise BadInput(f"input has no column(s) {', '.join(missing)}; its columns are: "
                       f"{', '.join(map(str, ddf.columns))}")
    parts = ddf.to_delayed()
    parts_dir = f"{output}.parts" if output is not None else None
    owned_client, cluster = (None, None) if client is not None else _client(scheduler)
    client = client or owned_client
    start = time.perf_counter()
    bar = _progress(len(parts), progress)
    try:
        if not isinstance(service_ref, str):
            from bentonb.artifacts.by_value import pickle_local_modules_by_value

            with pickle_local_modules_by_value(service_ref):
                service_ref = client.scatter(service_ref, broadcast=True, hash=False)
        if parts_dir is not None:
            _fresh_dir(parts_dir)
        tasks = [dask.delayed(predict_partition)(part, service_ref, api, wanted or None,
                                                 list(keep_columns) if keep_columns else None,
                                                 i, parts_dir, out_format)
                 for i, part in enumerate(parts)]
        futures = client.compute(tasks)
        order = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for future in as_completed(futures):
            results[order[future.key]] = future.result()
            if bar is not None:
                bar.update(1)
                done = sum(r[0] for r in results if r is not None)
                bar.set_postfix(rows=f"{done:,}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
        if owned_client is not None:
            owned_client.close()
        if cluster is not None:
            cluster.close()

    rows = sum(r[0] for r in results)
    error_frames = [r[1] for r in results if r[1] is not None]
    failed = sum(len(e) for e in error_frames)
    errors_file = None
    if output is not None:
        part_files = [f"{parts_dir}/part-{i:06d}.{out_format}" for i in range(len(results))]
        join_parts(part_files, output, out_format)
        _remove(parts_dir)
        if error_frames:
            errors_file = errors_path(output, out_format)
            write_frame(pd.concat(error_frames, ignore_index=True), errors_file, out_format)
    summary = BatchSummary(rows, failed, len(results), time.perf_counter() - start, output,
                           errors_file)
    if progress:
        print(f"bentonb batch: {summary}", file=sys.stderr)
    if summary.error_rate > max_error_rate:
        raise BatchFailed(f"{failed:,} of {rows:,} rows failed ({summary.error_rate:.1%}), "
                          f"over --max-error-rate {max_error_rate:g}"
                          + (f"; see {errors_file}" if errors_file else ""), summary)
    if output is not None:
        return summary
    frames = [r[2] for r in results]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    df.attrs["summary"] = summary
    df.attrs["errors"] = pd.concat(error_frames, ignore_index=True) if error_frames else None
    return df


def _fresh_dir(path: str) -> None:
    import fsspec

    fs, _, (root,) = fsspec.core.get_fs_token_paths(path)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)


def _remove(path: str) -> None:
    import fsspec

    fs, _, (root,) = fsspec.core.get_fs_token_paths(path)
    fs.rm(root, recursive=True)
