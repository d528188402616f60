"""Saving bundles: layout, manifest, requirements, atomicity, tags, loading elsewhere."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import run_python, wait_until

import bentonb
from bentonb.bundle.manifest import BundleManifest
from bentonb.errors import (
    BundleError,
    InvalidArgument,
    NotFound,
    SourceCaptureError,
)
from bentonb.store import LocalStore
from bentonb.tags import parse_tag

VERSION = re.compile(r"^\d{14}_[0-9A-F]{6}$")


def test_save_writes_the_documented_layout(iris_service, store_home):
    path = Path(iris_service.save(labels={"stage": "dev"}))
    assert path.parent == store_home / "repository" / "IrisClassifier"
    assert VERSION.match(path.name) and iris_service.version == path.name
    for name in ["bento.yaml", "requirements.txt", "Dockerfile", "docker-entrypoint.sh",
                 ".dockerignore", "pyproject.toml", "README.md",
                 "IrisClassifier/__init__.py", "IrisClassifier/iris_classifier.py",
                 "IrisClassifier/artifacts/model/model.joblib"]:
        assert (path / name).is_file(), name
    manifest = BundleManifest.read(path)
    assert manifest.name == "IrisClassifier" and manifest.version == path.name
    assert manifest.labels == {"stage": "dev"}
    assert manifest.python_version.startswith(f"{sys.version_info.major}.")
    assert manifest.bentonb_version == bentonb.__version__
    (api,) = manifest.apis
    assert (api.name, api.route, api.input_type, api.output_type, api.batch) == \
        ("predict", "predict", "DataframeInput", "JsonOutput", True)
    assert api.doc == "Predict iris species." and api.mb_max_latency == 10000.0
    (art,) = manifest.artifacts
    import sklearn

    assert (art.name, art.type, art.framework, art.framework_version) == \
        ("model", "SklearnModelArtifact", "scikit-learn", sklearn.__version__)
    assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}" in \
        (path / "Dockerfile").read_text()


def test_requirements_are_pinned_from_imports_and_artifacts(iris_service):
    import joblib
    import pandas
    import sklearn

    path = Path(iris_service.save())
    lines = (path / "requirements.txt").read_text().split()
    assert lines == sorted(lines)
    assert f"pandas=={pandas.__version__}" in lines
    assert f"scikit-learn=={sklearn.__version__}" in lines
    assert f"joblib=={joblib.__version__}" in lines
    assert not any(line.startswith("bentonb") for line in lines)


def test_env_pins_win_and_requirements_file_is_read(modules, iris_model, tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# extra\nrequests>=2.0\n")
    cls = modules.load("pinned_svc", f'''
        import bentonb
        import pandas
        from bentonb.artifact import SklearnModelArtifact

        @bentonb.env(pip_packages=["pandas==2.0.0", "scikit-learn"],
                     requirements_txt_file={str(reqs)!r})
        @bentonb.artifacts([SklearnModelArtifact('model')])
        class Pinned(bentonb.BentoService):
            pass
    ''').Pinned
    import sklearn

    path = Path(cls().pack("model", iris_model).save())
    lines = (path / "requirements.txt").read_text().split()
    assert "pandas==2.0.0" in lines and "requests>=2.0" in lines
    assert f"scikit-learn=={sklearn.__version__}" in lines


def test_infer_off_keeps_only_artifact_requirements(modules, iris_model):
    cls = modules.load("noinfer_svc", '''
        import bentonb
        import pandas
        from bentonb.artifact import SklearnModelArtifact

        @bentonb.env(infer_pip_packages=False)
        @bentonb.artifacts([SklearnModelArtifact('model')])
        class NoInfer(bentonb.BentoService):
            pass
    ''').NoInfer
    path = Path(cls().pack("model", iris_model).save())
    names = [ln.split("==")[0] for ln in (path / "requirements.txt").read_text().split()]
    assert names == ["joblib", "scikit-learn"]


def test_load_in_a_fresh_process_gives_identical_predictions(iris_service, iris_model,
                                                             iris_data):
    X, _ = iris_data
    iris_service.save()
    out = run_python(f"""
        import json, bentonb
        svc = bentonb.load('IrisClassifier:latest')
        print(json.dumps(svc.predict({X.tolist()}).tolist()))
    """)
    assert json.loads(out) == iris_model.predict(X).tolist()


def test_save_to_dir_and_load_by_path(iris_service, tmp_path):
    target = tmp_path / "bundles" / "iris"
    assert iris_service.save_to_dir(target) == str(target.resolve())
    assert bentonb.load(str(target)).predict([[6.7, 3.0, 5.2, 2.3]]).tolist() == [2]
    with pytest.raises(InvalidArgument, match="not an empty directory"):
        iris_service.save_to_dir(target)


def test_saving_unpacked_service_names_the_missing_artifact(modules):
    cls = modules.load("iris_classifier", open(Path(__file__).parent / "conftest.py").read()
                       .split("IRIS_SERVICE = '''")[1].split("'''")[0]).IrisClassifier
    with pytest.raises(bentonb.BentonbError, match=r"model not packed.*svc.pack\('model'"):
        cls().save()


def test_failed_save_leaves_nothing_behind(modules, store_home):
    cls = modules.load("failing_svc", '''
        import bentonb
        from bentonb.artifact import PickleArtifact

        class Unpicklable:
            def __reduce__(self):
                raise RuntimeError("disk full")

        @bentonb.artifacts([PickleArtifact('a')])
        class Failing(bentonb.BentoService):
            pass
    ''')
    svc = cls.Failing().pack("a", cls.Unpicklable())
    with pytest.raises(RuntimeError, match="disk full"):
        svc.save()
    assert not store_home.exists()  # not even the directories a save would have made
    assert LocalStore().list() == []


def test_a_crash_mid_save_leaves_no_visible_bundle(modules, store_home):
    modules.write("slow_svc", '''
        import signal
        import bentonb
        from bentonb.artifact import PickleArtifact

        class Slow:
            def __reduce__(self):
                open("started", "w").close()
                signal.pause()  # hangs here until the test kills the process
                return (Slow, ())

        @bentonb.artifacts([PickleArtifact('a')])
        class SlowSave(bentonb.BentoService):
            pass
    ''')
    proc = subprocess.Popen([sys.executable, "-c", "import slow_svc; "
                             "slow_svc.SlowSave().pack('a', slow_svc.Slow()).save()"],
                            cwd=modules.folder)
    started = modules.folder / "started"
    wait_until(started.exists, 60, message="the child to start writing the bundle")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert LocalStore().list() == []
    with pytest.raises(NotFound):
        bentonb.load("SlowSave:latest")


def test_two_processes_saving_at_once_get_distinct_versions(iris_service, modules, iris_model):
    import joblib

    joblib.dump(iris_model, modules.folder / "clf.joblib")
    # Each child says "ready" once loaded, then both start saving when told "go".
    code = textwrap.dedent("""
        import joblib, sys
        from iris_classifier import IrisClassifier
        clf = joblib.load("clf.joblib")
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(3):
            print(IrisClassifier().pack("model", clf).save())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=modules.folder, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(2)]
    assert [p.stdout.readline() for p in procs] == ["ready\n", "ready\n"]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    paths = outputs[0] + outputs[1]
    assert len(set(paths)) == 6
    assert sorted(b.tag.split(":")[1] for b in LocalStore().list()) == \
        sorted(Path(p).name for p in paths)


def test_latest_is_the_newest_save_and_explicit_versions_are_kept(iris_service):
    iris_service.save(version="v1")
    iris_service.save(version="v2")
    assert bentonb.load("IrisClassifier").version == "v2"
    assert bentonb.load("IrisClassifier:latest").version == "v2"
    assert bentonb.load("IrisClassifier:v1").version == "v1"
    with pytest.raises(InvalidArgument, match="already exists"):
        iris_service.save(version="v1")


@pytest.mark.parametrize("tag", ["../etc", "/etc/passwd", "Iris:../../x", "Iris:/abs",
                                 "Iris:a/b", "", "  ", "1Iris", "Iris:.hidden", "Ir is"])
def test_tags_that_could_escape_the_store_are_refused(tag):
    with pytest.raises(InvalidArgument):
        parse_tag(tag)


def test_unknown_tag_and_paths_give_clear_errors(iris_service, tmp_path):
    iris_service.save()
    with pytest.raises(NotFound, match="did you mean 'IrisClassifier:latest'"):
        bentonb.load("IrisClassifer:latest")
    with pytest.raises(NotFound, match="no bundle directory"):
        bentonb.load(str(tmp_path / "missing"))
    with pytest.raises(BundleError, match="has no bento.yaml"):
        bentonb.load(str(tmp_path))
    with pytest.raises(InvalidArgument):
        bentonb.load("IrisClassifier:../../etc")


def test_a_bundle_with_an_unknown_artifact_type_is_refused(iris_service):
    import yaml

    path = Path(iris_service.save())
    manifest = yaml.safe_load((path / "bento.yaml").read_text())

    def write(artifact_type):
        manifest["artifacts"][0]["type"] = artifact_type
        for copy in (path / "bento.yaml", path / "IrisClassifier" / "bento.yaml"):
            copy.write_text(yaml.safe_dump(manifest))

    write("QuantumModelArtifact")
    with pytest.raises(InvalidArgument, match="unknown artifact type 'QuantumModelArtifact'"):
        bentonb.load(str(path))
    write("PickleArtifact")
    with pytest.raises(BundleError, match="saved artifact 'model' as PickleArtifact"):
        bentonb.load(str(path))


def test_sibling_local_modules_travel_with_the_service(modules, iris_model, tmp_path):
    modules.write("features", '''
        def scale(df):
            return df * 1.0
    ''')
    modules.load("sib_svc", '''
        import bentonb
        from features import scale
        from bentonb.adapters import DataframeInput
        from bentonb.artifact import SklearnModelArtifact

        @bentonb.artifacts([SklearnModelArtifact('model')])
        class Sibling(bentonb.BentoService):
            @bentonb.api(input=DataframeInput())
            def predict(self, df):
                return self.artifacts.model.predict(scale(df))
    ''')
    svc = sys.modules["sib_svc"].Sibling().pack("model", iris_model)
    path = Path(svc.save())
    assert (path / "Sibling" / "features.py").is_file()
    reqs = (path / "requirements.txt").read_text()
    assert "features" not in reqs
    out = run_python(f"""
        import bentonb
        print(bentonb.load({str(path)!r}).predict([[6.7, 3.0, 5.2, 2.3]]).tolist())
    """, cwd=tmp_path)
    assert out.strip() == "[2]"


def test_classes_from_local_modules_travel_in_pickles(modules):
    modules.write("thresholds", '''
        class Threshold:
            def __init__(self, cut):
                self.cut = cut

            def __call__(self, x):
                return [v > self.cut for v in x]
    ''')
    modules.load("thr_svc", '''
        import bentonb
        from bentonb.adapters import JsonInput
        from bentonb.artifact import PickleArtifact

        @bentonb.env(infer_pip_packages=False)
        @bentonb.artifacts([PickleArtifact('rule')])
        class Rule(bentonb.BentoService):
            @bentonb.api(input=JsonInput())
            def apply(self, values):
                return self.artifacts.rule(values)
    ''')
    from thresholds import Threshold

    path = Path(sys.modules["thr_svc"].Rule().pack("rule", Threshold(2)).save())
    (modules.folder / "thresholds.py").unlink()  # gone on the machine that loads it
    out = run_python(f"""
        import bentonb
        print(bentonb.load({str(path)!r}).apply([1, 3]))
    """)
    assert out.strip() == "[False, True]"


def _ipython():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    return InteractiveShell.instance(history_length=0, history_load_length=0)


CELL = '''
import bentonb
from bentonb.adapters import JsonInput
from bentonb.artifact import JSONArtifact

@bentonb.artifacts([JSONArtifact('labels')])
class CellService(bentonb.BentoService):
    @bentonb.api(input=JsonInput())
    def label(self, body):
        return self.artifacts.labels[body["i"]]
'''


def test_a_class_defined_inside_a_function_is_refused():
    def make():
        class Local(bentonb.BentoService):
            pass
        return Local

    with pytest.raises(SourceCaptureError, match="inside a function.*top level"):
        make()().save()


def test_class_from_a_notebook_cell_without_recorded_source_says_how_to_fix():
    shell = _ipython()
    try:
        result = shell.run_cell(CELL + "\nsvc = CellService().pack('labels', ['cat', 'dog'])")
        assert result.success
        svc = shell.user_ns["svc"]
        with pytest.raises(SourceCaptureError, match="%%bento_service"):
            svc.save()
    finally:
        type(shell).clear_instance()


def test_recorded_cell_source_makes_a_notebook_class_loadable():
    shell = _ipython()
    try:
        assert shell.run_cell(CELL).success
        cls = shell.user_ns["CellService"]
        bentonb.record_service_source(cls, CELL)
        path = cls().pack("labels", ["cat", "dog"]).save()
    finally:
        type(shell).clear_instance()
    out = run_python(f"""
        import bentonb
        print(bentonb.load({path!r}).label({{"i": 1}}))
    """)
    assert out.strip() == "dog"
    with pytest.raises(SourceCaptureError, match="does not define"):
        bentonb.record_service_source(cls, "x = 1")
