"""Offline batch inference with Dask: real local clusters, real files, values asserted."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import bentonb_cli, wait_until

import bentonb
from bentonb import batch
from bentonb.errors import BadInput, BatchFailed, InvalidArgument, NotFound

FEATURES = ["sl", "sw", "pl", "pw"]

POISON_SERVICE = '''
import time
import bentonb
from bentonb.adapters import DataframeInput, ImageInput, JsonInput


class Picky(bentonb.BentoService):
    @bentonb.api(input=DataframeInput(), mb_max_batch_size=50)
    def predict(self, df):
        if (df["x"] < 0).any():
            raise ValueError("negative x")
        return (df["x"] * 2).to_numpy()

    @bentonb.api(input=JsonInput(), batch=True)
    def label(self, rows):
        return [{"label": "big" if r["x"] > 50 else "small", "x2": r["x"] ** 2} for r in rows]

    @bentonb.api(input=DataframeInput())
    def slow(self, df):
        sum(range(5_000_000))  # a slow model: a few hundred ms of work per partition
        return (df["x"] + 1).to_numpy()

    @bentonb.api(input=ImageInput())
    def image(self, img):
        return 0
'''


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def iris_rows(n: int, seed: int = 0) -> pd.DataFrame:
    from sklearn import datasets

    X = datasets.load_iris().data
    rng = np.random.default_rng(seed)
    picked = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.05, (n, 4)).round(3)
    df = pd.DataFrame(picked, columns=FEATURES)
    df.insert(0, "id", np.arange(n))
    return df


@pytest.fixture
def picky(modules):
    svc = modules.load("picky_service", POISON_SERVICE).Picky()
    return Path(svc.save())


@pytest.mark.slow
def test_200k_row_csv_through_the_iris_bundle_keeps_order(iris_service, iris_model, tmp_path,
                                                          client):
    iris_service.save()
    df = iris_rows(200_000)
    df.to_csv(tmp_path / "iris.csv", index=False)
    out = tmp_path / "preds.parquet"
    summary = batch.run("IrisClassifier:latest", "predict", str(tmp_path / "iris.csv"),
                        str(out), columns=FEATURES, keep_columns=["id"], partition_rows=25_000,
                        client=client, progress=False)
    assert summary.rows == 200_000 and summary.failed_rows == 0 and summary.partitions >= 6
    result = pd.read_parquet(out)
    assert list(result.columns) == ["id", "prediction"]
    assert result["id"].tolist() == list(range(200_000))
    expected = iris_model.predict(df[FEATURES].to_numpy())
    assert (result["prediction"].to_numpy() == expected).all()
    assert not Path(f"{out}.parts").exists()


def test_parquet_directory_to_csv(iris_service, iris_model, tmp_path, client):
    path = iris_service.save()
    folder = tmp_path / "data"
    folder.mkdir()
    df = iris_rows(3_000, seed=1)
    for i in range(3):
        df.iloc[i * 1000:(i + 1) * 1000].to_parquet(folder / f"part-{i}.parquet", index=False)
    out = tmp_path / "preds.csv"
    batch.run(path, "predict", str(folder), str(out), columns=FEATURES, client=client,
              progress=False)
    result = pd.read_csv(out)
    assert list(result.columns) == ["id", *FEATURES, "prediction"]
    assert result["id"].tolist() == list(range(3000))
    assert result["prediction"].tolist() == iris_model.predict(df[FEATURES].to_numpy()).tolist()


def test_jsonl_glob_to_dataframe_with_a_json_api(picky, tmp_path, client):
    for i in range(2):
        pd.DataFrame({"x": range(i * 60, i * 60 + 60)}).to_json(
            tmp_path / f"rows-{i}.jsonl", orient="records", lines=True)
    df = batch.run(str(picky), "label", str(tmp_path / "rows-*.jsonl"), client=client,
                   progress=False)
    assert df["x"].tolist() == list(range(120))
    assert df["label"].tolist() == ["big" if x > 50 else "small" for x in range(120)]
    assert df["x2"].tolist() == [x * x for x in range(120)]


def test_an_existing_cluster_by_scheduler_address(picky, tmp_path, client):
    pd.DataFrame({"x": range(5000)}).to_csv(tmp_path / "x.csv", index=False)
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    out = tmp_path / "out.parquet"
    summary = batch.run(str(picky), "predict", str(tmp_path / "x.csv"), str(out),
                        scheduler=address, partition_rows=1000, progress=False)
    assert summary.rows == 5000 and summary.partitions >= 2
    assert pd.read_parquet(out)["prediction"].tolist() == [2 * x for x in range(5000)]


def test_a_service_packed_in_memory_runs_too(modules, tmp_path, client):
    svc = modules.load("picky_service", POISON_SERVICE).Picky()
    pd.DataFrame({"x": [1, 2, 3]}).to_csv(tmp_path / "x.csv", index=False)
    df = batch.run(svc, "predict", str(tmp_path / "x.csv"), client=client, progress=False)
    assert df["prediction"].tolist() == [2, 4, 6]


def test_failing_rows_are_isolated_written_and_counted(picky, tmp_path, client):
    x = list(range(300))
    x[17], x[250] = -1, -5
    pd.DataFrame({"x": x}).to_csv(tmp_path / "x.csv", index=False)
    out = tmp_path / "out.csv"
    with pytest.raises(BatchFailed, match="2 of 300 rows failed") as failed:
        batch.run(str(picky), "predict", str(tmp_path / "x.csv"), str(out), client=client,
                  progress=False)
    errors = pd.read_csv(tmp_path / "out.errors.csv")
    assert errors["x"].tolist() == [-1, -5]
    assert errors["error"].tolist() == ["ValueError: negative x"] * 2
    assert failed.value.summary.failed_rows == 2
    summary = batch.run(str(picky), "predict", str(tmp_path / "x.csv"), str(out),
                        max_error_rate=0.01, client=client, progress=False)
    assert summary.failed_rows == 2 and summary.rows == 300
    result = pd.read_csv(out)
    assert result["x"].tolist() == [v for v in x if v >= 0]
    assert result["prediction"].tolist() == [2 * v for v in x if v >= 0]


@pytest.mark.slow  # a cluster of its own, and a worker restarted
def test_a_killed_worker_loses_no_rows(picky, tmp_path):
    from distributed import Client, LocalCluster

    pd.DataFrame({"x": range(2_000)}).to_csv(tmp_path / "x.csv", index=False)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    try:
        victim, pid = next(iter(client.run(os.getpid).items()))  # worker address, pid
        killed: list[float] = []

        def kill_when_busy():
            # SIGKILL the worker once it holds tasks of the job: their rows must be redone.
            wait_until(lambda: client.processing([victim]).get(victim), 60,
                       message=f"worker {victim} to get tasks of the job")
            os.kill(pid, signal.SIGKILL)
            killed.append(time.monotonic())

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        df = batch.run(str(picky), "slow", str(tmp_path / "x.csv"), partition_rows=100,
                       client=client, progress=False)
        finished = time.monotonic()
        killer.join(60)
        assert killed and killed[0] < finished, "the job ended before the worker was killed"
        assert df["x"].tolist() == list(range(2000))
        assert df["prediction"].tolist() == [x + 1 for x in range(2000)]
        assert pid not in client.run(os.getpid).values()
    finally:
        client.close()
        cluster.close()


def test_bad_inputs_are_refused_clearly(picky, tmp_path, client):
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(BadInput, match="no column.*nope, gone.*its columns are: x"):
        batch.run(str(picky), "predict", str(tmp_path / "x.csv"), columns=["nope"],
                  keep_columns=["gone"], client=client, progress=False)
    with pytest.raises(NotFound, match="no API 'predcit'.*did you mean 'predict'"):
        batch.run(str(picky), "predcit", str(tmp_path / "x.csv"), client=client)
    with pytest.raises(BadInput, match="matches no file"):
        batch.run(str(picky), "predict", str(tmp_path / "none-*.csv"), client=client)
    with pytest.raises(InvalidArgument, match="reads ImageInput"):
        batch.run(str(picky), "image", str(tmp_path / "x.csv"), client=client)
    (tmp_path / "broken.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(BadInput, match="cannot read parquet input"):
        batch.run(str(picky), "predict", str(tmp_path / "broken.parquet"), client=client)
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(InvalidArgument, match="cannot tell the format"):
        batch.run(str(picky), "predict", str(tmp_path / "data.xlsx"), client=client)
    with pytest.raises(bentonb.errors.InvalidArgument, match="invalid tag"):
        batch.run("Picky:../x", "predict", str(tmp_path / "x.csv"), client=client)


@pytest.mark.slow
def test_cli_batch_with_its_own_local_cluster(iris_service, iris_model, tmp_path):
    iris_service.save()
    df = iris_rows(5_000, seed=2)
    df.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.jsonl"
    result = bentonb_cli("batch", "IrisClassifier:latest", "predict", "--input",
                         str(tmp_path / "in.csv"), "--output", str(out), "--columns",
                         ",".join(FEATURES), "--keep-columns", "id", "--partition-rows", "1000",
                         timeout=300)
    assert result.returncode == 0, result.stderr
    assert "5,000 rows in" in result.stderr and "rows/s" in result.stderr
    got = pd.read_json(out, lines=True)
    assert got["id"].tolist() == list(range(5000))
    assert got["prediction"].tolist() == iris_model.predict(df[FEATURES].to_numpy()).tolist()
    bad = bentonb_cli("batch", "IrisClassifier:latest", "predict", "--input",
                      str(tmp_path / "in.csv"), "--output", str(out), "--columns", "a,b",
                      timeout=120)
    assert bad.returncode == 1 and "no column(s) a, b" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_batch_asks_the_input_adapter_whether_it_takes_table_rows(modules, tmp_path):
    import pydantic

    from bentonb.adapters import (
        DataframeInput,
        FileInput,
        ImageInput,
        JsonInput,
        NumpyInput,
        StringInput,
    )

    class Row(pydantic.BaseModel):
        x: float

    adapters = [DataframeInput(), JsonInput(), JsonInput(pydantic_model=Row), NumpyInput(),
                StringInput(), ImageInput(), FileInput()]
    assert [batch.reads_table_rows(a) for a in adapters] == [True, True, True, False, False,
                                                             False, False]
    # A packed service is checked the same way, before any cluster starts.
    svc = modules.load("picky_unsaved", POISON_SERVICE).Picky()
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(InvalidArgument, match="API 'image' reads ImageInput; batch jobs need"):
        batch.run(svc, "image", str(tmp_path / "x.csv"), progress=False)
