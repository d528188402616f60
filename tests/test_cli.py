"""The ``bentonb`` command on real bundles: what users type, and what they mistype."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import yaml
from helpers import bentonb_cli
from PIL import Image

IMAGE_SERVICE = '''
import bentonb
from bentonb.adapters import ImageInput


class ImageStats(bentonb.BentoService):
    @bentonb.api(input=ImageInput())
    def stats(self, img):
        """Shape and mean colour of an image."""
        return {"shape": list(img.shape), "mean": img.reshape(-1, 3).mean(axis=0).round().tolist()}
'''


@pytest.fixture
def saved_iris(iris_service):
    return Path(iris_service.save(labels={"stage": "dev"}))


def test_the_tutorial_run_command_prints_the_model_answer(saved_iris, iris_model):
    result = bentonb_cli("run", "IrisClassifier:latest", "predict",
                         "--input", "[[5.1, 3.5, 1.4, 0.2]]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == iris_model.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()


def test_run_reads_csv_files_and_inline_csv(saved_iris, tmp_path):
    (tmp_path / "iris_data.csv").write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    result = bentonb_cli("run", "IrisClassifier:latest", "predict", "--input=./iris_data.csv",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [0, 2]
    result = bentonb_cli("run", "IrisClassifier", "predict", "--input-file",
                         str(tmp_path / "iris_data.csv"))
    assert json.loads(result.stdout) == [0, 2]
    result = bentonb_cli("run", str(saved_iris), "predict", "--format", "csv",
                         "--input", "a,b,c,d\n6.7,3.0,5.2,2.3\n")
    assert json.loads(result.stdout) == [2]


def test_run_reads_an_image_file(modules, tmp_path):
    modules.load("image_stats", IMAGE_SERVICE).ImageStats().save()
    Image.new("RGB", (5, 3), (10, 200, 30)).save(tmp_path / "dog.png")
    result = bentonb_cli("run", "ImageStats:latest", "stats", "--input=dog.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shape": [3, 5, 3], "mean": [10.0, 200.0, 30.0]}
    (tmp_path / "broken.png").write_bytes(b"not a png")
    result = bentonb_cli("run", "ImageStats:latest", "stats", "--input=broken.png", cwd=tmp_path)
    assert result.returncode == 1 and "cannot read image" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["IrisClassifer:latest", "predict", "--input", "[[1,2,3,4]]"],
     "unknown tag 'IrisClassifer:latest'.*did you mean 'IrisClassifier:latest'"),
    (["IrisClassifier:lastest", "predict", "--input", "[[1,2,3,4]]"],
     "did you mean 'IrisClassifier:latest'"),
    (["IrisClassifier:../../etc", "predict", "--input", "[[1]]"], "invalid tag"),
    (["IrisClassifier", "predcit", "--input", "[[1,2,3,4]]"], "no API 'predcit'.*'predict'"),
    (["IrisClassifier", "predict"], "exactly one of --input and --input-file"),
    (["IrisClassifier", "predict", "--input", "[[1]]", "--input-file", "x.csv"],
     "exactly one of"),
    (["IrisClassifier", "predict", "--input-file", "/no/such.csv"], "no such file"),
    (["IrisClassifier", "predict", "--input", "[[1, 2,"], "not valid JSON.*line 1 column"),
    (["IrisClassifier", "predict", "--input", "[[1]]", "--format", "xml"], "'xml' is not one"),
])
def test_run_bad_input_gives_one_clear_line(saved_iris, args, message):
    import re

    result = bentonb_cli("run", *args)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert re.search(message, result.stderr), result.stderr


def test_list_and_get(saved_iris):
    result = bentonb_cli("list")
    assert result.returncode == 0
    assert f"IrisClassifier:{saved_iris.name}" in result.stdout and "stage=dev" in result.stdout
    listed = json.loads(bentonb_cli("list", "-o", "json").stdout)
    assert [b["tag"] for b in listed] == [f"IrisClassifier:{saved_iris.name}"]
    assert json.loads(bentonb_cli("list", "--labels", "stage=prod", "-o", "json").stdout) == []
    bad = bentonb_cli("list", "--labels", "stage")
    assert bad.returncode == 2 and "'stage' is not key=value" in bad.stderr

    result = bentonb_cli("get", "IrisClassifier:latest", "--print-location", "--quiet")
    assert result.stdout.strip() == str(saved_iris)
    manifest = json.loads(bentonb_cli("get", "IrisClassifier:latest", "-o", "json").stdout)
    assert manifest["name"] == "IrisClassifier" and manifest["labels"] == {"stage": "dev"}
    missing = bentonb_cli("get", "Nope:latest")
    assert missing.returncode == 1 and "unknown tag 'Nope:latest'" in missing.stderr


def test_get_name_lists_versions_and_info_is_get(saved_iris, iris_service):
    second = Path(iris_service.save())
    tags = [f"IrisClassifier:{saved_iris.name}", f"IrisClassifier:{second.name}"]
    for command in ("get", "info"):
        listing = bentonb_cli(command, "IrisClassifier")
        assert listing.returncode == 0, listing.stderr
        lines = listing.stdout.splitlines()
        assert lines[0].split() == ["TAG", "APIS", "ARTIFACTS", "LABELS", "CREATED"]
        assert [line.split()[0] for line in lines[1:]] == tags
        as_json = json.loads(bentonb_cli(command, "IrisClassifier", "-o", "json").stdout)
        assert [b["tag"] for b in as_json] == tags
        manifest = yaml.safe_load(bentonb_cli(command, tags[0]).stdout)
        assert (manifest["name"], manifest["version"]) == ("IrisClassifier", saved_iris.name)
        assert manifest["apis"][0]["input_type"] == "DataframeInput"
        as_json = json.loads(bentonb_cli(command, tags[1], "-o", "json").stdout)
        assert as_json["version"] == second.name
    missing = bentonb_cli("info", "Nope")
    assert missing.returncode == 1 and "unknown tag 'Nope'" in missing.stderr


def test_delete_asks_first_and_then_deletes(saved_iris, iris_service):
    refused = bentonb_cli("delete", "IrisClassifier:latest", input="n\n")
    assert refused.returncode == 1 and saved_iris.is_dir()
    second = Path(iris_service.save())
    result = bentonb_cli("delete", f"IrisClassifier:{saved_iris.name}", "-y")
    assert result.returncode == 0 and not saved_iris.exists() and second.is_dir()
    result = bentonb_cli("delete", "IrisClassifier", "-y")
    assert result.returncode == 0 and not second.exists()
    assert "unknown tag" in bentonb_cli("delete", "IrisClassifier", "-y").stderr


def test_export_import_round_trip_to_another_store(saved_iris, tmp_path, iris_model):
    archive = tmp_path / "iris.tar.gz"
    result = bentonb_cli("export", "IrisClassifier:latest", str(archive))
    assert result.returncode == 0 and archive.is_file()
    other = tmp_path / "other-home"
    env_home = {"BENTONB_HOME": str(other)}
    os.environ.update(env_home)
    try:
        result = bentonb_cli("import", str(archive))
        assert result.returncode == 0, result.stderr
        assert (other / "repository" / "IrisClassifier" / saved_iris.name / "bento.yaml").is_file()
        result = bentonb_cli("run", "IrisClassifier:latest", "predict", "--input",
                             "[[6.7, 3.0, 5.2, 2.3]]")
        assert json.loads(result.stdout) == iris_model.predict([[6.7, 3.0, 5.2, 2.3]]).tolist()
        again = bentonb_cli("import", str(archive))
        assert again.returncode == 1 and "already in the store" in again.stderr
    finally:
        os.environ.pop("BENTONB_HOME")


def _tar(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_import_refuses_archives_that_escape_or_link(tmp_path, store_home):
    link = tarfile.TarInfo("Iris/v1/evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("Iris/v1/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "Iris/v1/bento.yaml"
    cases = {
        "dotdot": [_file("Iris/v1/bento.yaml"), _file("Iris/v1/../../../escape.txt")],
        "absolute": [_file("/tmp/absolute.txt")],
        "symlink": [_file("Iris/v1/bento.yaml"), (link, None)],
        "hardlink": [_file("Iris/v1/bento.yaml"), (hard, None)],
        "nomanifest": [_file("Iris/v1/readme.txt")],
    }
    expected = {"dotdot": "outside the bundle", "absolute": "outside the bundle",
                "symlink": "link or special file", "hardlink": "link or special file",
                "nomanifest": "not a bentonb bundle export"}
    for name, entries in cases.items():
        archive = _tar(tmp_path / f"{name}.tar.gz", entries)
        result = bentonb_cli("import", str(archive))
        assert result.returncode == 1, name
        assert expected[name] in result.stderr, (name, result.stderr)
    assert not (tmp_path.parent / "escape.txt").exists()
    assert not Path("/tmp/absolute.txt").exists()
    assert not (store_home / "repository").exists() or \
        not any((store_home / "repository").glob("Iris*"))
    notar = tmp_path / "notes.tar.gz"
    notar.write_text("plain text")
    result = bentonb_cli("import", str(notar))
    assert result.returncode == 1 and "cannot read archive" in result.stderr


def test_export_to_an_unwritable_path_fails_clearly(saved_iris):
    for target in ["/nonexistent-dir/iris.tar.gz", "/proc/iris.tar.gz"]:
        result = bentonb_cli("export", "IrisClassifier:latest", target)
        assert result.returncode == 1 and "cannot write" in result.stderr
        assert "Traceback" not in result.stderr


def test_openapi_prints_a_document_with_each_api(saved_iris):
    result = bentonb_cli("openapi", "IrisClassifier:latest")
    spec = json.loads(result.stdout)
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/predict"]["post"]
    assert post["summary"] == "Predict iris species."
    assert set(post["requestBody"]["content"]) == {"application/json", "text/csv"}
