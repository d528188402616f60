"""The Dask job of ``bentonb batch``: check the API, fan partitions out to workers, join
their parts, summarise.

Owns :func:`run` and :class:`BatchSummary`. It reads the files through
:mod:`bentonb.batch.files` and predicts through :mod:`bentonb.batch.partition`;
whether an API can read table rows is asked of its input adapter's declared
capabilities (found in the adapter registry for a saved bundle), never of its
class name. This module must never import ``bentonb.server``, ``bentonb.cli``
or ``bentonb.notebook``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bentonb.batch.files import (
    errors_path,
    fresh_dir,
    join_parts,
    output_format,
    read_input,
    remove,
    write_frame,
)
from bentonb.batch.partition import predict_partition
from bentonb.errors import BadInput, BatchFailed, InvalidArgument, NotFound, did_you_mean


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


def reads_table_rows(adapter: Any) -> bool:
    """True when an API with this input adapter can take the rows of a table.

    A row reaches the API inside a DataFrame when the adapter's items are rows,
    or else as one JSON object ``{column: value}``, which the adapter takes when
    its JSON request body is an object.
    """
    if adapter.items_are_rows:
        return True
    json_body = adapter.openapi_request().get("application/json", {})
    return json_body.get("schema", {}).get("type") == "object"


def _check_api(target: Any, api: str) -> tuple[Any, Any, Any]:
    """The service reference to ship to workers, the API's input adapter and its columns.

    ``target`` is a packed service (shipped as is) or a bundle tag or path (shipped
    as the bundle's resolved path; its adapter comes from the adapter registry).
    """
    from bentonb.adapters import input_adapter
    from bentonb.bundle import resolve
    from bentonb.service import BentoService

    if isinstance(target, BentoService):
        adapter = target.get_inference_api(api).input_adapter
        return target, adapter, getattr(adapter, "columns", None)
    from bentonb.bundle.manifest import BundleManifest

    path = resolve(target)
    manifest = BundleManifest.read(path)
    specs = {a.name: a for a in manifest.apis}
    if api not in specs:
        raise NotFound(f"{manifest.name} has no API '{api}' (its APIs: {', '.join(specs)})"
                       f"{did_you_mean(api, specs)}")
    spec = specs[api]
    try:
        adapter = input_adapter(spec.input_type)
    except (InvalidArgument, TypeError):
        raise InvalidArgument(f"API '{api}' reads {spec.input_type}, an input type this "
                              "bentonb does not know; batch jobs need an API with "
                              "DataframeInput or JsonInput") from None
    return str(Path(path).resolve()), adapter, spec.input_config.get("columns")


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

    service_ref, adapter, api_columns = _check_api(target, api)
    if not reads_table_rows(adapter):
        raise InvalidArgument(f"API '{api}' reads {adapter.type_name}; batch jobs need an API "
                              "whose input takes table rows, such as DataframeInput or JsonInput")
    if not 0 <= max_error_rate <= 1:
        raise InvalidArgument("max_error_rate must be between 0 and 1")
    if partition_rows is not None and partition_rows < 1:
        raise InvalidArgument("partition_rows must be at least 1")
    out_format = output_format(output, format) if output is not None else None
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
            from bentonb.frameworks.base import pickle_local_modules_by_value

            with pickle_local_modules_by_value(service_ref):
                service_ref = client.scatter(service_ref, broadcast=True, hash=False)
        if parts_dir is not None:
            fresh_dir(parts_dir)
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
        remove(parts_dir)
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
