"""bentonb builds as an sdist and a wheel, and the wheel alone serves a bundle.

The wheel is built from the unpacked sdist, so a file missing from the sdist fails
here too. The new venv gets bentonb only from the wheel (``--no-deps``); its
dependencies come from this environment's site-packages through a ``.pth`` file,
which keeps the test off the network and quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import requests
from helpers import ServeProcess

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = [[5.1, 3.5, 1.4, 0.2]]


def build_sdist(out: Path) -> Path:
    """The PEP 517 sdist hook of the project's backend, run on a copy of the source (the
    backend writes egg-info next to the sources), as ``python -m build --sdist
    --no-isolation`` would."""
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", ".*_cache",
        "notebooks", "test-artifacts"))
    subprocess.run([sys.executable, "-c", "import sys\nfrom setuptools import build_meta\n"
                    f"print(build_meta.build_sdist({str(out)!r}))"],
                   cwd=source, check=True, capture_output=True, text=True, timeout=300)
    return next(out.glob("bentonb-*.tar.gz"))


@pytest.mark.slow  # builds an sdist and a wheel, makes a venv, serves from it
def test_sdist_and_wheel_build_and_the_wheel_serves_a_bundle(iris_service, iris_model,
                                                             tmp_path):
    sdist = build_sdist(tmp_path)
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "unpacked", filter="data")
    top = sdist.name.removesuffix(".tar.gz")
    assert f"{top}/pyproject.toml" in names and f"{top}/bentonb/server/pages.py" in names

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(tmp_path / "unpacked" / top)],
                   check=True, capture_output=True, text=True, timeout=300)
    wheel = next(wheels.glob("bentonb-*.whl"))
    with zipfile.ZipFile(wheel) as zipped:
        files = set(zipped.namelist())
    source_files = {str(p.relative_to(ROOT)) for p in (ROOT / "bentonb").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
    assert source_files <= files, sorted(source_files - files)
    entry_points = next(f for f in files if f.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zipped:
        assert "bentonb = bentonb.cli:main" in zipped.read(entry_points).decode()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    "--disable-pip-version-check", str(wheel)], check=True, timeout=300)
    # Dependencies from this environment; the venv's own site-packages (the wheel) wins.
    shared = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    assert purelib != sysconfig.get_paths()["purelib"]
    Path(purelib, "_shared_dependencies.pth").write_text("\n".join(shared) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import bentonb; print(bentonb.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path,
                           env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    bundle = iris_service.save()  # saved by this environment, served by the wheel's
    with ServeProcess(bundle, "--port", "0", exe=venv / "bin" / "bentonb", cwd=tmp_path,
                      env={"PYTHONPATH": ""}) as server:
        answer = requests.post(f"{server.wait_started(90).url}/predict", json=SAMPLE,
                               timeout=10)
        assert answer.status_code == 200 and answer.json() == iris_model.predict(SAMPLE).tolist()
        assert requests.get(f"{server.url}/docs/static/swagger-ui.css", timeout=10
                            ).status_code == 200
        assert server.stop() == 0, server.output
