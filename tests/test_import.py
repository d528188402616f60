"""``import bentonb`` is light: no framework is imported, and none needs to be installed."""

from __future__ import annotations

import json
import textwrap

from helpers import run_python

HEAVY = ["torch", "spacy", "xgboost", "keras", "pandas", "PIL", "sklearn", "numpy",
         "tornado", "IPython", "ipywidgets", "docker", "pyngrok", "dask"]


def test_import_bentonb_imports_no_framework():
    out = run_python(f"""
        import json, sys
        import bentonb, bentonb.cli, bentonb.adapters, bentonb.artifacts, bentonb.artifact
        import bentonb.frameworks.sklearn, bentonb.frameworks.pytorch, bentonb.store
        print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))
    """)
    assert json.loads(out) == []


#: Run first in a fresh interpreter: importing any framework fails as if not installed.
NO_FRAMEWORKS = f"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ImportError(f"{{name}} is not installed")

sys.meta_path.insert(0, Block())
"""


def test_bentonb_works_with_no_framework_installed():
    out = run_python(NO_FRAMEWORKS + textwrap.dedent("""
        import bentonb
        from bentonb.adapters import JsonInput, DataframeInput
        from bentonb.artifact import SklearnModelArtifact, JSONArtifact
        from bentonb.cli import main

        @bentonb.artifacts([SklearnModelArtifact('model'), JSONArtifact('cfg')])
        class Svc(bentonb.BentoService):
            @bentonb.api(input=JsonInput())
            def echo(self, body):
                return body

        svc = Svc().pack('cfg', {"a": 1})
        print(svc.echo({"x": 1}))
        try:
            svc.pack('model', object())
        except bentonb.errors.ArtifactTypeError as exc:
            print("refused:", "scikit-learn" in str(exc))
    """))
    assert out.split("\n")[:2] == ["{'x': 1}", "refused: True"]


def test_every_public_name_imports_with_no_framework_installed():
    out = run_python(NO_FRAMEWORKS + textwrap.dedent(f"""
        import json
        import bentonb
        got = {{name: type(getattr(bentonb, name)).__name__ for name in bentonb.__all__}}
        heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
        print(json.dumps({{"names": got, "heavy": heavy}}))
    """))
    result = json.loads(out)
    assert result["heavy"] == []
    assert set(result["names"]) >= {"BentoService", "api", "artifacts", "env", "load",
                                    "LocalStore", "serve", "__version__"}
    assert result["names"]["BentoService"] == "type"
    assert result["names"]["api"] == "function"
