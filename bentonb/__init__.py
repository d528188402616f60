"""bentonb: from a notebook model to a versioned, fast, shareable prediction service.

    import bentonb
    from bentonb.adapters import DataframeInput
    from bentonb.artifact import SklearnModelArtifact

    @bentonb.env(infer_pip_packages=True)
    @bentonb.artifacts([SklearnModelArtifact('model')])
    class IrisClassifier(bentonb.BentoService):
        @bentonb.api(input=DataframeInput(), batch=True)
        def predict(self, df):
            return self.artifacts.model.predict(df)

Frameworks (pandas, torch, spacy, ...) are imported only when used.
"""

# Load the package bentonb.artifacts (older import paths) before the @artifacts decorator
# is bound below: importing it any later would rebind ``bentonb.artifacts`` to the package.
from bentonb import artifacts as _artifact_paths  # noqa: F401
from bentonb import (  # noqa: E402
    io,
    keras,
    mlflow,
    models,  # noqa: E402
    picklable_model,
    pytorch,
    sklearn,
    spacy,
    xgboost,
)
from bentonb._version import __version__
from bentonb.bundle import load  # noqa: E402
from bentonb.bundle.source import record_service_source  # noqa: E402
from bentonb.errors import BentonbError  # noqa: E402

# bentonb.generations loads the 0.x package bentonb.service before this binds the name
# to the decorator, so the import system never rebinds it; bentonb.service.X still works.
from bentonb.generations import api, service  # noqa: E402
from bentonb.models import BentoModel  # noqa: E402
from bentonb.sdk import Context, Runner, Service  # noqa: E402
from bentonb.service import (  # noqa: E402
    BentoService,
    artifacts,
    env,
    web_static_content,
)
from bentonb.store import LocalStore  # noqa: E402


def serve(target, **options):
    """Serve a packed service, a tag or a bundle path on a background thread.

    Returns a handle with ``.url``, ``.public_url``, ``.api_key`` and ``.stop()``;
    options are those of ``%bento_serve`` (``port``, ``host``, ``ngrok``,
    ``ngrok_token``, ``api_key``, ``mb_max_batch_size``, ``mb_max_latency``).
    """
    from bentonb.notebook.handle import serve as _serve

    return _serve(target, **options)


def __getattr__(name):
    # The clients import httpx: loaded on first use so `import bentonb` stays fast.
    if name in ("Client", "AsyncClient"):
        from bentonb import client

        return getattr(client, name)
    raise AttributeError(f"module 'bentonb' has no attribute {name!r}")


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython
    """``%load_ext bentonb``: register the notebook magics."""
    from bentonb.notebook.magics import load_ipython_extension as _load

    _load(ipython)


__all__ = [
    "AsyncClient",
    "BentoModel",
    "BentoService",
    "Client",
    "BentonbError",
    "Context",
    "LocalStore",
    "Runner",
    "Service",
    "__version__",
    "api",
    "artifacts",
    "env",
    "io",
    "keras",
    "mlflow",
    "models",
    "picklable_model",
    "pytorch",
    "sklearn",
    "spacy",
    "xgboost",
    "load",
    "record_service_source",
    "serve",
    "service",
    "web_static_content",
]
