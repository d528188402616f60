"""How long ``import bentonb`` takes in a fresh interpreter, and what it pulls in.

    .venv/bin/python bench/import_time.py [--runs 15]

Prints a markdown table (median and best of N fresh interpreters, against a bare
``python -c pass`` measured in the same run) and writes JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
HEAVY = ["torch", "spacy", "xgboost", "keras", "pandas", "PIL", "sklearn", "numpy",
         "tornado", "IPython", "ipywidgets", "docker", "pyngrok", "dask"]
CASES = {
    "python -c pass": "pass",
    "import bentonb": "import bentonb",
    "import bentonb + adapters + artifact": "import bentonb, bentonb.adapters, bentonb.artifact",
    "import bentonb.cli": "import bentonb.cli",
}


def wall_ms(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def heavy_modules(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in " \
            f"sys.modules}} & set({HEAVY!r}))))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    rows = []
    for label, code in CASES.items():
        wall_ms(code)  # warm the file system cache
        times = [wall_ms(code) for _ in range(runs)]
        rows.append({"case": label, "median_ms": statistics.median(times), "best_ms": min(times),
                     "heavy_modules": heavy_modules(code)})
    bare = rows[0]["median_ms"]
    print("| case | median ms | best ms | over bare python (median) | heavy modules |\n"
          "|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['median_ms']:.0f} | {r['best_ms']:.0f} | "
              f"{r['median_ms'] - bare:+.0f} | {', '.join(r['heavy_modules']) or 'none'} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_time.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
