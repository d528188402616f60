"""The README's demo: train, pack, save, serve and call the iris classifier."""

from __future__ import annotations

import subprocess
import sys

from helpers import free_port


def test_demo_packs_saves_serves_and_answers(store_home):
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "bentonb.demo", "--port", str(port)],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"saved to {store_home}/repository/IrisClassifier/" in out
    assert "predict [[5.1, 3.5, 1.4, 0.2]] -> [0]" in out
    assert f"POST http://127.0.0.1:{port}/predict [[5.1, 3.5, 1.4, 0.2]] -> [0]" in out
    assert f"curl -X POST -H 'Content-Type: application/json' --data '[[5.1, 3.5, 1.4, 0.2]]' " \
           f"http://127.0.0.1:{port}/predict" in out
