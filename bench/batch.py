"""Batch benchmark: 1M iris rows through a bundle with Dask vs a plain pandas loop.

    python bench/batch.py [--rows 1000000] [--partition-rows 100000]

The loop reads the CSV in 1000-row chunks and calls ``model.predict`` on each,
in one process: what one writes by hand. bentonb runs the same model from its
bundle on a local Dask cluster (one worker per core). Both write Parquet. It
prints a markdown table (rows/s, ratio, peak memory) and writes
``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bentonb  # noqa: E402
from bentonb.adapters import DataframeInput  # noqa: E402
from bentonb.artifact import SklearnModelArtifact  # noqa: E402

FEATURES = ["sl", "sw", "pl", "pw"]


@bentonb.artifacts([SklearnModelArtifact("model")])
class IrisBatch(bentonb.BentoService):
    @bentonb.api(input=DataframeInput(), mb_max_batch_size=100_000)
    def predict(self, df):
        return self.artifacts.model.predict(df.to_numpy())

LOOP = f"""
import sys, time, resource
import joblib, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
model = joblib.load(sys.argv[1])
start = time.perf_counter()
writer = None
for chunk in pd.read_csv(sys.argv[2], chunksize=1000):
    out = chunk[["id"]].assign(prediction=model.predict(chunk[{FEATURES!r}].to_numpy()))
    table = pa.Table.from_pandas(out, preserve_index=False)
    writer = writer or pq.ParquetWriter(sys.argv[3], table.schema)
    writer.write_table(table)
writer.close()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd
    from sklearn import datasets

    X = datasets.load_iris().data
    rng = np.random.default_rng(0)
    picked = X[rng.integers(0, len(X), rows)] + rng.normal(0, 0.05, (rows, 4)).round(3)
    df = pd.DataFrame(picked, columns=FEATURES)
    df.insert(0, "id", np.arange(rows))
    df.to_csv(path, index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partition-rows", type=int, default=100_000)
    args = parser.parse_args()

    import joblib
    from distributed import Client, LocalCluster
    from workloads import iris_model

    from bentonb import batch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["BENTONB_HOME"] = str(tmp / "store")
        csv = tmp / "iris.csv"
        print(f"writing {args.rows:,} rows ...", flush=True)
        make_csv(csv, args.rows)
        model = iris_model()
        joblib.dump(model, tmp / "model.joblib")
        bundle = IrisBatch().pack("model", model).save_to_dir(tmp / "bundle")

        print("pandas loop ...", flush=True)
        out = subprocess.run([sys.executable, "-c", LOOP, str(tmp / "model.joblib"), str(csv),
                              str(tmp / "loop.parquet")], capture_output=True, text=True,
                             check=True).stdout.split()
        loop_seconds, loop_peak_kb = float(out[0]), int(out[1])

        print("bentonb batch on a local Dask cluster ...", flush=True)
        cluster = LocalCluster(n_workers=os.cpu_count(), threads_per_worker=1,
                               dashboard_address=":0")
        client = Client(cluster)
        # Like the loop, which loads its model before its clock starts: workers load the
        # bundle first (a long job pays this once per worker).
        client.run(lambda: batch.load_on_worker(str(bundle)) and None)
        import dask.dataframe  # noqa: F401 - imports, too, are done before the clock
        start = time.perf_counter()
        summary = batch.run(bundle, "predict", str(csv), str(tmp / "bentonb.parquet"),
                            columns=FEATURES, keep_columns=["id"],
                            partition_rows=args.partition_rows, client=client, progress=False)
        seconds = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        client.close()
        cluster.close()
        import pandas as pd

        same = pd.read_parquet(tmp / "bentonb.parquet")["prediction"].equals(
            pd.read_parquet(tmp / "loop.parquet")["prediction"])
        size_mb = csv.stat().st_size / 1e6

    loop_rate, rate = args.rows / loop_seconds, args.rows / seconds
    rows = [("pandas loop, 1000-row chunks, 1 process", loop_rate, loop_peak_kb / 1024),
            (f"bentonb batch, {os.cpu_count()} Dask workers, {summary.partitions} partitions",
             rate, max(peaks.values()) / 1024)]
    print(f"\n{args.rows:,} rows ({size_mb:.0f} MB CSV); predictions identical: {same}\n")
    print("| run | rows/s | peak memory per process (MB) |\n|---|---:|---:|")
    for name, r, mem in rows:
        print(f"| {name} | {r:,.0f} | {mem:,.0f} |")
    print(f"\nratio bentonb / loop: {rate / loop_rate:.2f}x (target >= 1.5x)")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "batch.json").write_text(json.dumps({
        "rows": args.rows, "csv_mb": size_mb, "loop_rows_per_s": loop_rate,
        "loop_peak_mb": loop_peak_kb / 1024, "bentonb_rows_per_s": rate,
        "bentonb_worker_peak_mb": max(peaks.values()) / 1024, "ratio": rate / loop_rate,
        "partitions": summary.partitions, "identical": bool(same)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
