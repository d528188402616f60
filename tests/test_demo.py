"""The README's demo: train, pack, save, serve and call the iris classifier."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_packs_saves_serves_and_answers(store_home):
    result = subprocess.run([sys.executable, "-m", "bentonb.demo", "--port", "0"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"saved to {store_home}/repository/IrisClassifier/" in out
    assert "predict [[5.1, 3.5, 1.4, 0.2]] -> [0]" in out
    url = re.search(r"POST (http://127\.0\.0\.1:[1-9]\d*)/predict \[\[5\.1, 3\.5, 1\.4, 0\.2\]\] "
                    r"-> \[0\]", out)
    assert url, out
    assert f"curl -X POST -H 'Content-Type: application/json' --data '[[5.1, 3.5, 1.4, 0.2]]' " \
           f"{url.group(1)}/predict" in out
