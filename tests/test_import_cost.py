"""``import bentonb`` costs next to nothing, and every public name is still there.

The package binds its public names on first read (a module ``__getattr__``); these
tests hold both halves of that promise in fresh interpreters: nothing heavy is
loaded by the import, and each name, submodule and older path resolves to the
same object as before.
"""

from __future__ import annotations

import json

from helpers import run_python

#: Loaded by none of ``import bentonb``: frameworks, servers, notebooks, and the standard
#: modules that the store, the bundles and the 1.x SDK need (yaml, asyncio, email, ...).
HEAVY = {"numpy", "pandas", "PIL", "sklearn", "torch", "spacy", "xgboost", "keras", "tornado",
         "IPython", "ipywidgets", "docker", "pyngrok", "dask", "httpx", "cloudpickle", "yaml",
         "asyncio", "concurrent", "email", "logging", "tarfile", "zipfile", "json", "inspect",
         "dataclasses", "typing", "pathlib", "subprocess", "socket", "ssl", "urllib"}


def test_import_bentonb_loads_only_the_package_and_its_version():
    out = run_python("""
        import json, sys
        before = set(sys.modules)
        import bentonb
        added = set(sys.modules) - before
        print(json.dumps({"bentonb": sorted(m for m in added if m.startswith("bentonb")),
                          "tops": sorted({m.split(".")[0] for m in added})}))
    """)
    result = json.loads(out)
    assert result["bentonb"] == ["bentonb", "bentonb._version"]
    assert not set(result["tops"]) & HEAVY, result["tops"]


def test_every_public_name_resolves_in_a_fresh_process():
    out = run_python("""
        import importlib, json, types
        import bentonb
        listed = set(dir(bentonb))
        kinds = {}
        for name in bentonb.__all__:
            exec(f"from bentonb import {name} as value")
            kinds[name] = type(value).__name__ if not isinstance(value, types.ModuleType) \\
                else value.__name__
        missing = sorted(set(bentonb.__all__) - listed)
        print(json.dumps({"kinds": kinds, "missing_from_dir": missing}))
    """)
    result = json.loads(out)
    kinds = result["kinds"]
    assert result["missing_from_dir"] == []
    for module in ("io", "keras", "mlflow", "models", "picklable_model", "pytorch", "sklearn",
                   "spacy", "xgboost"):
        assert kinds[module] == f"bentonb.{module}"
    assert kinds["BentoService"] == kinds["Service"] == kinds["LocalStore"] == "type"
    assert kinds["api"] == kinds["artifacts"] == kinds["env"] == kinds["serve"] == "function"
    assert kinds["service"] == "ServiceDecorator"
    assert kinds["Client"] == kinds["AsyncClient"] == "type"
    assert kinds["__version__"] == "str"


def test_attribute_paths_and_decorators_survive_later_package_imports():
    out = run_python("""
        import json
        import bentonb
        facts = {
            "sklearn.save_model": callable(bentonb.sklearn.save_model),
            "io.JSON": bentonb.io.JSON.__name__,
            "models.get": bentonb.models.get.__module__.startswith("bentonb.models"),
            "frameworks.sklearn": bentonb.frameworks.sklearn.__name__,
            "Service": bentonb.Service.__name__,
        }
        import bentonb.service, bentonb.artifacts.sklearn
        from bentonb.artifacts import SklearnModelArtifact
        facts["service"] = type(bentonb.service).__name__
        facts["service.BentoService"] = bentonb.service.BentoService is bentonb.BentoService
        facts["artifacts"] = bentonb.artifacts is bentonb.service.artifacts
        facts["artifact class"] = SklearnModelArtifact.__module__
        try:
            bentonb.no_such_name
        except AttributeError as exc:
            facts["unknown"] = str(exc)
        print(json.dumps(facts))
    """)
    assert json.loads(out) == {
        "sklearn.save_model": True, "io.JSON": "JSON", "models.get": True,
        "frameworks.sklearn": "bentonb.frameworks.sklearn", "Service": "Service",
        "service": "ServiceDecorator", "service.BentoService": True, "artifacts": True,
        "artifact class": "bentonb.frameworks.sklearn",
        "unknown": "module 'bentonb' has no attribute 'no_such_name'"}


def test_both_generations_work_after_a_lazy_import():
    out = run_python("""
        import json, sys
        import bentonb
        from bentonb.adapters import JsonInput

        class Echo(bentonb.BentoService):
            @bentonb.api(input=JsonInput())
            def echo(self, body):
                return body

        old = Echo().echo({"a": 1})
        sdk_loaded_by_0x = "bentonb.sdk.classes" in sys.modules

        @bentonb.service
        class Doubler:
            @bentonb.api
            def double(self, x: int) -> int:
                return 2 * x

        print(json.dumps([old, sdk_loaded_by_0x, Doubler().double(21)]))
    """)
    assert json.loads(out) == [{"a": 1}, False, 42]
