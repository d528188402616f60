"""Dashboard benchmark: the store's list with many bundles.

    python bench/dashboard.py [--bundles 1000] [--names 100] [--runs 9]

Saves one real iris bundle, then copies its directory into ``--bundles`` versions
spread over ``--names`` names (each copy's two manifests rewritten with its own
name and version), starts ``bentonb dashboard --port 0`` on that store, and times
``GET /api/bundles`` and ``GET /``: the first request (every manifest parsed) and
the median of ``--runs`` after it (manifests cached by their file stamp).
Prints a markdown table and writes ``bench/results/dashboard.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"


def fill_store(home: Path, bundles: int, names: int) -> None:
    """One saved bundle, copied to ``bundles`` versions over ``names`` names."""
    sys.path.insert(0, str(TESTS))
    from conftest import IRIS_SERVICE
    from sklearn import datasets, svm

    project = home / "project"
    project.mkdir(parents=True)
    (project / "iris_classifier.py").write_text(IRIS_SERVICE)
    sys.path.insert(0, str(project))
    import iris_classifier

    from bentonb.bundle import save_bundle
    from bentonb.store import LocalStore

    X, y = datasets.load_iris(return_X_y=True)
    store = LocalStore(home)
    svc = iris_classifier.IrisClassifier().pack("model", svm.SVC().fit(X, y))
    source = Path(save_bundle(svc, home, version="seed", labels={"stage": "dev"}))
    for i in range(bundles):
        name, version = f"Model{i % names:03d}", f"v{i // names:04d}"
        target = store.repository / name / version
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)
        if (target / "IrisClassifier").is_dir():
            (target / "IrisClassifier").rename(target / name)
        text = (source / "bento.yaml").read_text()
        text = re.sub(r"(?m)^name: .*$", f"name: {name}", text)
        text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
        text = text.replace("stage: dev", f"stage: {('dev', 'prod')[i % 2]}")
        (target / "bento.yaml").write_text(text)
        (target / name / "bento.yaml").write_text(text)
    shutil.rmtree(source.parent)


def timed(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--names", type=int, default=100)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bentonb-dash-bench-") as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        fill_store(home, args.bundles, args.names)
        fill_s = time.perf_counter() - t0
        exe = Path(sys.executable).with_name("bentonb")
        proc = subprocess.Popen([str(exe), "dashboard", "--port", "0"], text=True,
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                env={**os.environ, "BENTONB_HOME": str(home)})
        try:
            line = proc.stderr.readline()
            match = re.search(r"at (http://\S+) \(", line)
            if not match:
                raise SystemExit(f"the dashboard did not start: {line}")
            url = match.group(1)
            rows = []
            for route in ("/api/bundles", "/"):
                first = timed(url + route)
                runs = [timed(url + route) for _ in range(args.runs)]
                rows.append({"route": route, "first_ms": round(first, 1),
                             "median_ms": round(statistics.median(runs), 1),
                             "max_ms": round(max(runs), 1)})
            size = len(urllib.request.urlopen(url + "/api/bundles").read())
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"{args.bundles} bundles over {args.names} names (store filled in {fill_s:.1f} s; "
          f"/api/bundles is {size / 1024:.0f} KiB)\n")
    print("| route | first request (ms) | median of next "
          f"{args.runs} (ms) | max (ms) |\n|---|---|---|---|")
    for row in rows:
        print(f"| `GET {row['route']}` | {row['first_ms']} | {row['median_ms']} | "
              f"{row['max_ms']} |")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(
        {"bundles": args.bundles, "names": args.names, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
