"""Details the tutorials show, checked as their users would meet them: a CSV with a
numeric header, the save message, the curl commands, ``get``/``info``, ..."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import bentonb
from bentonb.errors import InvalidArgument

IRIS_CSV = b"0,1,2,3\n5.1,3.5,1.4,0.2\n6.2,3.4,5.4,2.3"


def test_csv_with_a_numeric_header_is_read_with_that_header(iris_service, serve):
    server = serve(iris_service)
    answer = requests.post(f"{server.url}/predict", data=IRIS_CSV,
                           headers={"Content-Type": "text/csv"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [0, 2]


SAVE_SCRIPT = '''
import sys
from sklearn import datasets, svm
sys.path.insert(0, ".")
from iris_classifier import IrisClassifier

iris = datasets.load_iris()
clf = svm.SVC(gamma="scale").fit(iris.data, iris.target)
print(IrisClassifier().pack("model", clf).save())
'''


def test_save_says_where_the_bundle_went_without_any_logging_setup(tmp_path, store_home):
    from tests.conftest import IRIS_SERVICE

    (tmp_path / "iris_classifier.py").write_text(IRIS_SERVICE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SAVE_SCRIPT], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    line = re.search(r"^\[[\d\- :,]+\] INFO - BentoService bundle 'IrisClassifier:(\S+)' "
                     r"saved to: (.+)$", done.stderr, re.M)
    assert line, done.stderr
    assert line.group(2) == path
    assert Path(path) == store_home / "repository" / "IrisClassifier" / line.group(1)
    assert (Path(path) / "bento.yaml").is_file()


@pytest.mark.parametrize("url", ["s3://my-bucket/bentos", "gs://bucket/x",
                                 "http://example.com/store"])
def test_save_to_a_remote_store_is_refused_and_writes_nothing(iris_service, tmp_path,
                                                              monkeypatch, url):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(InvalidArgument, match="remote stores are not supported"):
        iris_service.save(base_path=url)
    with pytest.raises(InvalidArgument, match="remote stores are not supported"):
        iris_service.save_to_dir(url)
    assert list(work.iterdir()) == []
    assert iris_service.version is None


def test_save_to_a_local_base_path(iris_service, tmp_path):
    path = Path(iris_service.save(base_path=str(tmp_path / "store")))
    assert path.parent.parent == tmp_path / "store" / "repository"
    assert bentonb.load(path).predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == [0]
