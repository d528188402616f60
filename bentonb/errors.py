"""The exception types every layer of bentonb raises.

One hierarchy, rooted at :class:`BentonbError`. Each error carries the HTTP
status the server answers with when the error escapes a request, so the
server maps errors to responses without knowing where they came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BentonbError(Exception):
    """Base class of every error bentonb raises on purpose."""

    status_code: int = 500


class InvalidArgument(BentonbError, ValueError):
    """A caller passed a value bentonb cannot use (decorator option, tag, flag)."""

    status_code = 400


class BadInput(BentonbError, ValueError):
    """A prediction request's payload cannot be turned into the API's input."""

    status_code = 400


class UnsupportedMediaType(BadInput):
    """A request's Content-Type is not one the API's input adapter reads."""

    status_code = 415


class PayloadTooLarge(BadInput):
    """A request's payload is within the byte limit but describes more than the server
    accepts (an image's pixel count, for one); refused before the work is done."""

    status_code = 413


class NotFound(BentonbError, LookupError):
    """Something named by the caller does not exist (a tag, an API, a route)."""

    status_code = 404


class OutputError(BentonbError):
    """An API function returned something its output adapter cannot send."""


class ArtifactTypeError(BentonbError, TypeError):
    """An object packed into an artifact is not of the artifact's framework."""


class ArtifactNotPacked(BentonbError):
    """An artifact was used (or saved) before a model was packed into it."""


class SourceCaptureError(BentonbError):
    """The source code of a service class cannot be found to put in a bundle."""


class BundleError(BentonbError):
    """A bundle directory or archive is missing files or is not safe to read."""


class MissingDependency(BentonbError, ImportError):
    """An optional package needed for this feature is not installed."""


class Overloaded(BentonbError):
    """The server cannot answer this request within its latency bound."""

    status_code = 503

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(BentonbError):
    """A bentonb server answered a client's request with an error status.

    ``status`` is the HTTP status, ``body`` the answer's text, ``request_id`` the id
    the server logged the request under (None when it sent none); the message is
    the server's own ``error`` text when the body had one.
    """

    def __init__(self, message: str, status: int, body: str = "",
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.status_code = status
        self.body = body
        self.request_id = request_id


class BatchFailed(BentonbError):
    """An offline batch job failed more rows than ``max_error_rate`` allows."""

    def __init__(self, message: str, summary: object = None) -> None:
        super().__init__(message)
        self.summary = summary


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def require(module: str, extra: str | None = None):
    """Import ``module`` or raise :class:`MissingDependency` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f"pip install 'bentonb[{extra}]'" if extra else f"pip install {module}"
        raise MissingDependency(f"{module} is required here but is not installed: {hint}") from exc
