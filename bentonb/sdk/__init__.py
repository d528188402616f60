"""The 1.x API: :class:`Service`, ``@svc.api``, :class:`Context`, ``io``, runners, and
the 1.2+ ``@service`` classes (:class:`ClassService`).

Built on the same adapters, frameworks and model store as the 0.x API; it never
imports the server or the CLI (a server hands a service its batching host).
"""

from bentonb.sdk import io
from bentonb.sdk.classes import ClassApi, ClassService, is_service_class
from bentonb.sdk.context import Context
from bentonb.sdk.runner import Runner, RunnerMethod
from bentonb.sdk.service import Api, Service

__all__ = ["Api", "ClassApi", "ClassService", "Context", "Runner", "RunnerMethod", "Service",
           "io", "is_service_class"]
