"""The 0.x service API: ``BentoService`` and its decorators ``@env``, ``@artifacts``, ``@api``.

Three modules, one job each: :mod:`~bentonb.service.decorators` (the
decorators and what they check), :mod:`~bentonb.service.inference_api` (what
``@api`` records and the callable API of an instance) and
:mod:`~bentonb.service.bento_service` (the service class and its model slots).
Every name that ``bentonb.service`` offered before the split is re-exported
here. Nothing in this package imports ``bentonb.server``, ``bentonb.batch`` or
an ML framework.
"""

from bentonb.service.bento_service import ArtifactCollection, BentoService, EnvSpec
from bentonb.service.decorators import (
    DEFAULT_MB_MAX_BATCH_SIZE,
    DEFAULT_MB_MAX_LATENCY_MS,
    RESERVED_ROUTES,
    api,
    artifacts,
    env,
    web_static_content,
)
from bentonb.service.inference_api import ApiConfig, InferenceAPI, split_rows

__all__ = [
    "DEFAULT_MB_MAX_BATCH_SIZE",
    "DEFAULT_MB_MAX_LATENCY_MS",
    "RESERVED_ROUTES",
    "ApiConfig",
    "ArtifactCollection",
    "BentoService",
    "EnvSpec",
    "InferenceAPI",
    "api",
    "artifacts",
    "env",
    "split_rows",
    "web_static_content",
]
