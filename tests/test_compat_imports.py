"""Earlier import paths keep working and give the very same objects as the new modules."""

from __future__ import annotations

import importlib
import json

import pytest
from helpers import run_python

import bentonb
import bentonb.artifact
from bentonb import frameworks

# (module of the framework, its artifact class, the old ``bentonb.artifacts.<x>`` name)
FRAMEWORKS = [
    ("sklearn", "SklearnModelArtifact", "sklearn"),
    ("pytorch", "PytorchModelArtifact", "pytorch"),
    ("keras", "KerasModelArtifact", "keras"),
    ("xgboost", "XgboostModelArtifact", "xgboost"),
    ("spacy", "SpacyModelArtifact", "spacy"),
    ("picklable", "PickleArtifact", "pickle"),
    ("json", "JSONArtifact", "json"),
]


@pytest.mark.parametrize("module, cls_name, old", FRAMEWORKS)
def test_every_old_path_gives_the_same_artifact_class(module, cls_name, old):
    cls = getattr(importlib.import_module(f"bentonb.frameworks.{module}"), cls_name)
    paths = ["bentonb.artifact", "bentonb.artifacts", "bentonb.frameworks",
             f"bentonb.artifacts.{old}"]
    found = {path: getattr(importlib.import_module(path), cls_name) for path in paths}
    assert all(c is cls for c in found.values()), found
    assert cls.__module__ == f"bentonb.frameworks.{module}"


def test_old_submodules_are_the_framework_modules_themselves():
    from bentonb.artifacts.base import BaseArtifact, artifact_class
    from bentonb.artifacts.by_value import is_local_module, pickle_local_modules_by_value

    old = {name: importlib.import_module(f"bentonb.artifacts.{name}")
           for name in ("base", "by_value", "pickle")}
    assert old["base"] is old["by_value"] is frameworks.base
    assert old["pickle"] is frameworks.picklable
    assert BaseArtifact is frameworks.base.BaseArtifact
    assert artifact_class is frameworks.artifact_class
    assert pickle_local_modules_by_value is frameworks.base.pickle_local_modules_by_value
    assert is_local_module("json") is False
    assert artifact_class("PickleArtifact") is frameworks.PickleArtifact
    assert set(bentonb.artifact.__all__) == set(frameworks.__all__)


def test_importing_old_paths_later_leaves_the_artifacts_decorator_in_place():
    # ``bentonb.artifacts`` is both the @artifacts decorator and a package of old paths:
    # importing the package after ``import bentonb`` must not replace the decorator.
    out = run_python("""
        import importlib, json
        import bentonb
        from bentonb.artifacts.pytorch import PytorchModelArtifact
        from bentonb.artifacts import JSONArtifact
        importlib.import_module("bentonb.artifacts.sklearn")
        from bentonb.adapters import JsonInput

        @bentonb.artifacts([JSONArtifact("cfg")])
        class Svc(bentonb.BentoService):
            @bentonb.api(input=JsonInput())
            def echo(self, body):
                return {**body, **self.artifacts.cfg}

        svc = Svc().pack("cfg", {"b": 2})
        print(json.dumps([bentonb.artifacts is bentonb.service.artifacts, svc.echo({"a": 1})]))
    """)
    assert json.loads(out) == [True, {"a": 1, "b": 2}]


def test_service_names_importable_before_the_split_still_are():
    from bentonb.service import (
        DEFAULT_MB_MAX_BATCH_SIZE,
        DEFAULT_MB_MAX_LATENCY_MS,
        RESERVED_ROUTES,
        ApiConfig,
        ArtifactCollection,
        BentoService,
        EnvSpec,
        InferenceAPI,
        api,
        artifacts,
        env,
        split_rows,
    )

    assert (bentonb.BentoService, bentonb.artifacts, bentonb.env) == (
        BentoService, artifacts, env)
    # bentonb.api serves both API generations; given an input adapter it is this one.
    assert bentonb.service.api is api
    assert (DEFAULT_MB_MAX_BATCH_SIZE, DEFAULT_MB_MAX_LATENCY_MS) == (1000, 10_000)
    assert {"docs", "metrics", "healthz"} <= RESERVED_ROUTES
    assert EnvSpec().infer_pip_packages is True
    assert split_rows([1, 2, 3, 4, 5], [2, 0, 3]) == [[1, 2], [], [3, 4, 5]]
    assert {ApiConfig.__module__, InferenceAPI.__module__, ArtifactCollection.__module__} == {
        "bentonb.service.inference_api", "bentonb.service.bento_service"}


def test_batch_names_the_cli_and_scripts_use_are_importable():
    from bentonb import batch

    assert batch.run.__module__ == "bentonb.batch.job"
    assert batch.load_on_worker.__module__ == "bentonb.batch.partition"
    assert batch.FORMATS == ("csv", "parquet", "jsonl")
    assert batch.detect_format("x/preds.ndjson") == "jsonl"
    assert batch.errors_path("out/preds.parquet", "parquet") == "out/preds.errors.parquet"
    assert batch.BatchSummary(10, 1, 2, 2.0, None, None).error_rate == 0.1
