"""Nothing lost on disk: saves reach the disk before they appear, concurrent saves never
replace each other, and no temporary directory outlives a save, an import or a server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import requests
from helpers import ServeProcess, snapshot

import bentonb
from bentonb.bundle import BundleManifest, export_bundle, import_bundle
from bentonb.errors import BundleError
from bentonb.store import LocalStore

INTERRUPTED = '''
import bentonb
from bentonb.artifact import PickleArtifact


class PressesCtrlC:
    def __reduce__(self):
        raise KeyboardInterrupt


@bentonb.artifacts([PickleArtifact('a')])
class Interrupted(bentonb.BentoService):
    pass
'''


def hidden(home: Path) -> list[Path]:
    """The store's temporary directories (saves, imports, deletions) left in ``home``."""
    repository = home / "repository"
    return [*repository.glob(".*"), *repository.glob("*/.*")]


def test_a_save_reaches_the_disk_before_it_is_renamed_into_place(iris_service, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst) -> None:
        events.append(("rename", f"{src} -> {dst}"))
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    path = Path(iris_service.save())
    (moved,) = [i for i, (kind, what) in enumerate(events)
                if kind == "rename" and what.endswith(f" -> {path}")]
    staged = Path(events[moved][1].split(" -> ")[0])
    flushed_before = {what for kind, what in events[:moved] if kind == "fsync"}
    everything = [path, *path.rglob("*")]
    assert len(everything) > 10
    for item in everything:
        assert str(staged / item.relative_to(path)) in flushed_before, item
    assert ("fsync", str(path.parent)) in events[moved:]


def test_ctrl_c_mid_save_leaves_the_store_and_the_folder_as_they_were(modules, iris_service,
                                                                      store_home, tmp_path):
    iris_service.save()
    svc = modules.load("interrupted_svc", INTERRUPTED)
    interrupted = svc.Interrupted().pack("a", svc.PressesCtrlC())
    before = snapshot(store_home)
    with pytest.raises(KeyboardInterrupt):
        interrupted.save()
    assert snapshot(store_home) == before and not hidden(store_home)
    target = tmp_path / "out" / "bundle"
    with pytest.raises(KeyboardInterrupt):
        interrupted.save_to_dir(target)
    assert list((tmp_path / "out").iterdir()) == []


def test_two_processes_saving_the_same_version_get_one_bundle_and_one_clear_error(
        iris_service, modules, iris_model):
    import joblib

    joblib.dump(iris_model, modules.folder / "clf.joblib")
    # Each child says "ready" once loaded; both start saving when told "go".
    code = textwrap.dedent("""
        import joblib, sys
        from iris_classifier import IrisClassifier
        clf = joblib.load("clf.joblib")
        service = IrisClassifier().pack("model", clf)
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            print(service.save(version="v1"))
        except Exception as exc:
            print(f"ERROR {exc}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=modules.folder, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(2)]
    assert [p.stdout.readline() for p in procs] == ["ready\n", "ready\n"]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0].startswith("/") and outputs[0].endswith("/IrisClassifier/v1")
    assert outputs[1].startswith("ERROR IrisClassifier:v1 already exists in the store")
    assert [b.tag for b in LocalStore().list()] == ["IrisClassifier:v1"]
    assert bentonb.load("IrisClassifier:v1").predict([[6.7, 3.0, 5.2, 2.3]]).tolist() == [2]
    assert not hidden(LocalStore().home)


def test_an_interrupted_import_leaves_the_store_as_it_was(iris_service, store_home,
                                                          tmp_path, monkeypatch):
    saved = Path(iris_service.save(version="v1"))
    archive = export_bundle("IrisClassifier:v1", tmp_path / "iris.tar.gz")
    LocalStore().delete("IrisClassifier:v1")
    before = snapshot(store_home)
    assert not saved.exists()

    import bentonb.bundle.archive as archive_module

    def interrupt(_root: Path) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(archive_module, "sync_tree", interrupt)
        with pytest.raises(KeyboardInterrupt):
            import_bundle(archive)
    assert snapshot(store_home) == before
    imported = import_bundle(archive)
    assert imported.path == saved and BundleManifest.read(saved).version == "v1"
    with pytest.raises(BundleError, match="already in the store"):
        import_bundle(archive)
    assert not hidden(store_home)


@pytest.mark.parametrize("workers,stop", [(1, signal.SIGTERM), (1, signal.SIGINT),
                                          (2, signal.SIGTERM)])
def test_serving_an_archive_removes_its_extraction_when_stopped(iris_service, tmp_path,
                                                                workers, stop):
    iris_service.save(version="v1")
    archive = export_bundle("IrisClassifier:v1", tmp_path / "iris.tar.gz")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    server = ServeProcess(str(archive), "--port", "0", "--workers", str(workers),
                          env={"TMPDIR": str(scratch)})
    with server:
        server.wait_started()
        answer = requests.post(f"{server.url}/predict", json=[[6.7, 3.0, 5.2, 2.3]],
                               timeout=10)
        assert answer.status_code == 200 and answer.json() == [2]
        assert len(list(scratch.glob("bentonb-bundle-*"))) == 1
        assert server.stop(stop, timeout=60) == 0, server.output
    assert list(scratch.iterdir()) == []


def test_run_and_load_of_an_archive_leave_no_extraction(iris_service, tmp_path, monkeypatch):
    iris_service.save(version="v1")
    archive = export_bundle("IrisClassifier:v1", tmp_path / "iris.tar.gz")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    exe = Path(sys.executable).with_name("bentonb")
    result = subprocess.run([str(exe), "run", str(archive), "predict", "--input",
                             "[[6.7, 3.0, 5.2, 2.3]]"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "TMPDIR": str(scratch)})
    assert result.returncode == 0 and result.stdout.strip() == "[2]", result.stderr
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert bentonb.load(str(archive)).predict([[6.7, 3.0, 5.2, 2.3]]).tolist() == [2]
    assert list(scratch.iterdir()) == []


def test_delete_leaves_no_trash_behind(iris_service, store_home):
    iris_service.save(version="v1")
    iris_service.save(version="v2")
    assert [b.tag for b in LocalStore().delete("IrisClassifier")] == \
        ["IrisClassifier:v1", "IrisClassifier:v2"]
    assert LocalStore().list() == [] and not hidden(store_home)
