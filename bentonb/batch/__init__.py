"""Offline inference over files with Dask: the same bundle, locally or on a cluster.

    bentonb.batch.run("IrisClassifier:latest", "predict", "data/*.csv", "preds.parquet")

The input (CSV, Parquet or JSON lines; local paths, globs or fsspec URLs) is
read as a Dask DataFrame. Each partition is a task: the worker loads the
bundle once (then keeps it), calls the API on the partition in batches of at
most the API's ``mb_max_batch_size`` rows, and writes its part of the output.
The parts are joined in input order at the end. Rows whose prediction fails
(after a retry) are written with their error to ``<output>.errors.<ext>``; the
job fails only when more than ``max_error_rate`` of the rows failed.

Three modules, one job each: :mod:`~bentonb.batch.files` (reading and writing
files), :mod:`~bentonb.batch.partition` (a worker predicting one partition,
with retry and bisection) and :mod:`~bentonb.batch.job` (the Dask job). This
package sits above the service and bundle layers and must never import
``bentonb.server``, ``bentonb.cli`` or ``bentonb.notebook``.
"""

from bentonb.batch.files import (
    FORMATS,
    detect_format,
    errors_path,
    join_parts,
    read_input,
    write_frame,
)
from bentonb.batch.job import BatchSummary, reads_table_rows, run
from bentonb.batch.partition import load_on_worker, predict_partition, prediction_frame

__all__ = [
    "FORMATS",
    "BatchSummary",
    "detect_format",
    "errors_path",
    "join_parts",
    "load_on_worker",
    "predict_partition",
    "prediction_frame",
    "read_input",
    "reads_table_rows",
    "run",
    "write_frame",
]
