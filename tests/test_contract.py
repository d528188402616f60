"""The floor plan holds: every public name works with no framework installed, and no
module keys behaviour on a class name."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import run_python

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "spacy", "xgboost", "keras", "pandas", "PIL", "sklearn", "numpy",
         "tornado", "IPython", "ipywidgets", "docker", "pyngrok", "dask", "distributed"]


def test_every_public_name_imports_with_no_framework_installed():
    out = run_python(f"""
        import importlib.abc, json, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {HEAVY!r}:
                    raise ImportError(f"{{name}} is not installed")

        sys.meta_path.insert(0, Block())
        import bentonb
        got = {{name: type(getattr(bentonb, name)).__name__ for name in bentonb.__all__}}
        heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
        print(json.dumps({{"names": got, "heavy": heavy}}))
    """)
    result = json.loads(out)
    assert result["heavy"] == []
    assert set(result["names"]) >= {"BentoService", "api", "artifacts", "env", "load",
                                    "LocalStore", "serve", "__version__"}
    assert result["names"]["BentoService"] == "type"
    assert result["names"]["api"] == "function"


def test_no_behaviour_keys_on_a_class_name():
    pattern = re.compile(r"(__name__|type_name)\s*(==|!=|in|not in)\s*['\"(\[_A-Z]")
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in sorted((ROOT / "bentonb").rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and "__main__" not in line]
    assert offenders == []
