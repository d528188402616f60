"""Bundles from elsewhere: archives and manifests that try to reach outside the store
or the bundle are refused before anything is written, read or run."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from helpers import bentonb_cli, free_port, snapshot

import bentonb
from bentonb.bundle import ArchiveLimits, export_bundle, import_bundle
from bentonb.errors import BundleError, InvalidArgument
from bentonb.tags import check_labels, check_name, check_version, parse_labels, parse_tag

EVIL = "open({marker!r}, 'w').write('ran')\n"


def edit_manifest(bundle: Path, **changes) -> None:
    """Rewrite both copies of a bundle's manifest (root and package)."""
    for copy in [bundle / "bento.yaml", *bundle.glob("*/bento.yaml")]:
        data = yaml.safe_load(copy.read_text())
        for key, value in changes.items():
            if key == "artifact_name":
                data["artifacts"][0]["name"] = value
            else:
                data[key] = value
        copy.write_text(yaml.safe_dump(data))


def archive_of(bundle: Path, file: Path, arcname: str) -> Path:
    with tarfile.open(file, "w:gz") as tar:
        tar.add(bundle, arcname=arcname)
    return file


def tar_of(file: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(file, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return file


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


@pytest.fixture
def saved(iris_service) -> Path:
    return Path(iris_service.save(version="v1", labels={"stage": "dev"}))


@pytest.fixture
def crafted(saved, tmp_path) -> Path:
    """A copy of a real bundle as version v2, outside the store, to tamper with."""
    copy = Path(shutil.copytree(saved, tmp_path / "crafted" / "IrisClassifier" / "v2"))
    edit_manifest(copy, version="v2")
    return copy


# -- one grammar ----------------------------------------------------------------------------

def test_names_versions_and_tags_follow_one_grammar():
    for name in ["IrisClassifier", "_x", "iris-v2.1", "a" * 128]:
        assert check_name(name) == name
    for name in ["../../x", "a/b", "..", ".hidden", "1abc", "a..b", "", "a" * 129, "a b", 5]:
        with pytest.raises(InvalidArgument, match="invalid bundle name"):
            check_name(name)
    for version in ["v1", "1.0.0", "20240101120000_AB12CD", "x" * 64]:
        assert check_version(version) == version
    for version in [".", "..", "../../../v", "a/b", ".tmp-x", "-v", "x" * 65, ""]:
        with pytest.raises(InvalidArgument, match="invalid bundle version"):
            check_version(version)
    assert parse_tag("Iris") == ("Iris", None) == parse_tag("Iris:latest")
    assert parse_tag("Iris:v1") == ("Iris", "v1")
    with pytest.raises(InvalidArgument, match=r"invalid tag 'Iris:\.\./x': invalid bundle version"):
        parse_tag("Iris:../x")
    assert check_labels({"stage": "dev", "team/owner": "ml", "n": 3}) == \
        {"stage": "dev", "team/owner": "ml", "n": "3"}
    for labels in [{"a b": "x"}, {"k": "line\nbreak"}, {"k": "\x1b[31mred"}, {"k": [1]}]:
        with pytest.raises(InvalidArgument, match="label"):
            check_labels(labels)
    assert parse_labels("stage=dev, owner=me") == {"stage": "dev", "owner": "me"}


def test_a_bad_version_or_label_on_save_writes_nothing(iris_service, store_home):
    with pytest.raises(InvalidArgument, match=r"invalid bundle version '\.\./\.\./\.\./v'"):
        iris_service.save(version="../../../v")
    with pytest.raises(InvalidArgument, match="label"):
        iris_service.save(labels={"k": "\x1b]0;owned\x07"})
    assert snapshot(store_home) is None


# -- archives -------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("name", "../../escaped", "invalid bundle name '../../escaped'"),
    ("version", "../../../v", r"invalid bundle version '../../../v'"),
    ("module", "/tmp/evil", "invalid service module '/tmp/evil'"),
    ("artifact_name", "../../etc", "invalid artifact name '../../etc'"),
    ("name", "Other", "manifest names Other:v2 but the archive holds IrisClassifier/v2/"),
])
def test_import_refuses_manifests_that_name_paths_outside(crafted, tmp_path, store_home,
                                                          field, value, message):
    edit_manifest(crafted, **{field: value})
    archive = archive_of(crafted, tmp_path / "crafted.tar.gz", "IrisClassifier/v2")
    before = snapshot(store_home)
    result = bentonb_cli("import", str(archive))
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(store_home) == before
    assert not list(tmp_path.rglob("escaped")) and not (tmp_path / "v").exists()


def test_import_refuses_links_devices_and_members_outside_the_bundle(tmp_path, store_home):
    manifest = member("Iris/v1/bento.yaml", b"name: Iris\n")
    outside_link = tarfile.TarInfo("Iris/v1/Iris/model")
    outside_link.type, outside_link.linkname = tarfile.SYMTYPE, "../../../../etc"
    inside_link = tarfile.TarInfo("Iris/v1/readme")
    inside_link.type, inside_link.linkname = tarfile.SYMTYPE, "bento.yaml"
    cases = {
        "outside link": [manifest, (outside_link, None)],
        "inside link": [manifest, (inside_link, None)],
        "fifo": [manifest, member("Iris/v1/pipe", kind=tarfile.FIFOTYPE)],
        "device": [manifest, member("Iris/v1/tty", kind=tarfile.CHRTYPE)],
        "other folder": [manifest, member("Elsewhere/run.py")],
        "bad archive name": [member("..x/v1/bento.yaml"), member("..x/v1/a")],
    }
    expected = {"outside link": "link or special file", "inside link": "link or special file",
                "fifo": "link or special file", "device": "link or special file",
                "other folder": "is outside Iris/v1/",
                "bad archive name": "invalid bundle name '..x'"}
    before = snapshot(store_home)
    for name, entries in cases.items():
        archive = tar_of(tmp_path / f"{name.replace(' ', '_')}.tar.gz", entries)
        with pytest.raises(BundleError, match="is refused") as refused:
            import_bundle(archive)
        assert expected[name] in str(refused.value), name
    assert snapshot(store_home) == before


def test_import_caps_unpacked_size_and_member_count(saved, tmp_path, store_home):
    archive = export_bundle("IrisClassifier:v1", tmp_path / "iris.tar.gz")
    shutil.rmtree(store_home)
    result = bentonb_cli("import", str(archive), "--max-size", "1K")
    assert result.returncode == 1 and "unpacks to more than 1024 bytes" in result.stderr
    assert "--max-size raises the limit" in result.stderr
    result = bentonb_cli("import", str(archive), "--max-members", "5")
    assert result.returncode == 1 and "more than 5 members" in result.stderr
    assert snapshot(store_home) is None
    result = bentonb_cli("import", str(archive), "--max-size", "potato")
    assert result.returncode == 2 and "not a size such as 20G" in result.stderr
    with pytest.raises(BundleError, match="more than 3 members"):
        import_bundle(archive, limits=ArchiveLimits(max_members=3))
    result = bentonb_cli("import", str(archive), "--max-size", "20G", "--max-members", "1000")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    stored = store_home / "repository" / "IrisClassifier" / "v1"
    assert lines[0] == f"imported IrisClassifier:v1 to {stored}"
    fields = dict(line.split(":", 1) for line in lines[1:6])
    assert {k.strip(): v.strip() for k, v in fields.items()} == {
        "name": "IrisClassifier", "version": "v1",
        "created_at": yaml.safe_load((saved / "bento.yaml").read_text())["created_at"],
        "labels": "stage=dev",
        "service": str(stored / "IrisClassifier" / "iris_classifier.py")}
    assert "runs that code" in result.stdout
    assert not [p for p in (store_home / "repository").iterdir() if p.name.startswith(".")]


def test_import_help_and_guide_say_loading_runs_the_bundles_code():
    result = bentonb_cli("import", "--help")
    assert "runs its code" in result.stdout and "you trust" in result.stdout
    assert "--max-size" in result.stdout and "--max-members" in result.stdout
    guide = (Path(__file__).parent.parent / "docs" / "guide.md").read_text()
    assert "## Bundles from elsewhere" in guide and "--max-size" in guide


def test_serving_a_crafted_archive_refuses_it_before_running_anything(crafted, tmp_path):
    marker = tmp_path / "ran"
    (crafted / "x.py").write_text(EVIL.format(marker=str(marker)))
    edit_manifest(crafted, module="../x")
    archive = archive_of(crafted, tmp_path / "crafted.tar.gz", "IrisClassifier/v2")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    exe = Path(sys.executable).with_name("bentonb")
    for args in (["serve", str(archive), "--port", str(free_port())],
                 ["run", str(archive), "predict", "--input", "[[1, 2, 3, 4]]"]):
        result = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                                timeout=120)
        assert result.returncode == 1 and "invalid service module '../x'" in result.stderr
    assert not marker.exists()
    assert not list(tmp_path.glob("bentonb-bundle-*"))


# -- bundle directories: every path inside ----------------------------------------------------

def _tamper(bundle: Path, package: Path, how: str, evil: Path) -> None:
    if how == "absolute module":
        edit_manifest(bundle, module=str(evil.with_suffix("")))
    elif how == "climbing module":
        shutil.copy(evil, bundle.parent / "x.py")
        edit_manifest(bundle, module="../" * (len(package.relative_to(bundle).parts) + 1) + "x")
    elif how == "climbing artifact":
        edit_manifest(bundle, artifact_name="../../etc")
    elif how == "linked module":
        module = package / "iris_classifier.py"
        module.unlink()
        module.symlink_to(evil)
    elif how == "linked artifact folder":
        shutil.rmtree(package / "artifacts" / "model")
        (package / "artifacts" / "model").symlink_to(evil.parent)
    elif how == "absolute setup script":
        for copy in [bundle / "bento.yaml", *bundle.glob("*/bento.yaml")]:
            data = yaml.safe_load(copy.read_text())
            data["env"]["setup_sh"] = "/etc/passwd"
            copy.write_text(yaml.safe_dump(data))


HOW = ["absolute module", "climbing module", "climbing artifact", "linked module",
       "linked artifact folder", "absolute setup script"]


@pytest.mark.parametrize("how", HOW)
def test_loading_a_directory_that_names_paths_outside_runs_nothing(crafted, tmp_path, how):
    evil = tmp_path / "outside" / "evil.py"
    evil.parent.mkdir()
    marker = tmp_path / "ran"
    evil.write_text(EVIL.format(marker=str(marker)))
    _tamper(crafted, crafted / "IrisClassifier", how, evil)
    with pytest.raises(BundleError, match="refused"):
        bentonb.load(str(crafted))
    assert not marker.exists()


def test_serve_dir_and_a_pip_installed_bundle_refuse_a_link_out(crafted, tmp_path):
    evil = tmp_path / "outside" / "evil.py"
    evil.parent.mkdir()
    marker = tmp_path / "ran"
    evil.write_text(EVIL.format(marker=str(marker)))
    site = tmp_path / "site"
    installed = Path(shutil.copytree(crafted / "IrisClassifier", site / "IrisClassifier"))
    load = f"import sys; sys.path.insert(0, {str(site)!r}); import IrisClassifier; " \
           "print(IrisClassifier.load().predict([[6.7, 3.0, 5.2, 2.3]]).tolist())"
    clean = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True,
                           timeout=120, cwd="/")
    assert clean.returncode == 0 and clean.stdout.strip() == "[2]", clean.stderr

    _tamper(crafted, crafted / "IrisClassifier", "linked module", evil)
    result = bentonb_cli("serve", str(crafted), "--port", str(free_port()))
    assert result.returncode == 1 and "iris_classifier.py is a link to" in result.stderr
    _tamper(installed, installed, "linked module", evil)
    result = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True,
                            timeout=120, cwd="/")
    assert result.returncode == 1 and "is a link to" in result.stderr
    assert "outside the bundle" in result.stderr
    assert not marker.exists()


def test_a_link_inside_the_bundle_is_fine_and_exports_as_a_file(saved, tmp_path):
    (saved / "NOTES.md").symlink_to("README.md")
    assert bentonb.load(str(saved)).predict([[6.7, 3.0, 5.2, 2.3]]).tolist() == [2]
    archive = export_bundle("IrisClassifier:v1", tmp_path)
    assert archive.name == "IrisClassifier-v1.tar.gz"
    with tarfile.open(archive) as tar:
        notes = tar.getmember("IrisClassifier/v1/NOTES.md")
        assert notes.isfile() and not [m for m in tar if m.issym() or m.islnk()]


def test_a_tampered_bundle_in_the_store_is_refused_and_list_skips_it(saved, iris_service,
                                                                     tmp_path):
    iris_service.save(version="v3")
    marker = tmp_path / "ran"
    (saved.parent / "x.py").write_text(EVIL.format(marker=str(marker)))
    edit_manifest(saved, module="../x")
    with pytest.raises(BundleError, match="invalid service module '../x'"):
        bentonb.load("IrisClassifier:v1")
    result = bentonb_cli("list")
    assert result.returncode == 0 and "IrisClassifier:v3" in result.stdout
    assert "IrisClassifier:v1" not in result.stdout
    assert "skipping IrisClassifier:v1" in result.stderr
    assert not marker.exists()
