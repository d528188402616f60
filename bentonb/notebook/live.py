"""Live serving: a re-run ``%%bento_service`` cell (or a ``%bento_pack``) of a service
that this kernel serves swaps the new version into the running server.

The swap is the server's own (:meth:`ServingHandle.swap`): same port, URL, API key
and tunnel; requests in flight finish on the old version; the routes, ``/metadata``
and the docs are those of the new one. Anything that goes wrong before the swap
(an artifact with no model, a model the new artifact refuses, a runtime that cannot
be built) leaves the old version serving and raises a :class:`BentonbError` that
says why. A saved bundle is never touched: the swapped-in service is unsaved (no
version, no bundle path) unless it came from ``%bento_pack``.
"""

from __future__ import annotations

import time
from typing import Any

from bentonb.errors import BentonbError, InvalidArgument
from bentonb.notebook import handle as handles


def live_handle(name: str) -> handles.ServingHandle | None:
    """The running handle serving ``name`` with live swaps on, else None."""
    with handles._LOCK:
        current = handles.RUNNING.get(name)
    if current is None or not current.running or not current.live:
        return None
    return current


def repacked_instance(cls: type, namespace: dict[str, Any],
                      before: dict[str, Any]) -> Any | None:
    """A fully packed instance of ``cls`` that the cell bound to a name (the cell
    re-packed its models itself), else None."""
    for key, value in namespace.items():
        if (isinstance(value, cls) and before.get(key) is not value
                and all(a.is_packed for a in value.artifacts)):
            return value
    return None


def rebuild(cls: type, served: Any) -> Any:
    """A new instance of ``cls`` packed with the models ``served`` already holds (the
    same objects, not copies). Raises when the new class declares an artifact the
    served version has no model for, or one whose type refuses that model."""
    service = cls()
    old = {a.name: a for a in served.artifacts if a.is_packed}
    missing = [a.name for a in service.artifacts if a.name not in old]
    if missing:
        pairs = " ".join(f"{name}=VARIABLE" for name in missing)
        raise InvalidArgument(
            f"{cls.__name__} now declares artifact '{missing[0]}', which the served version "
            f"has no model for; pack it with %bento_pack {cls.__name__} {pairs} (still "
            f"serving the previous version)")
    for artifact in service.artifacts:
        try:
            service.pack(artifact.name, old[artifact.name].get(),
                         dict(old[artifact.name].metadata))
        except BentonbError as exc:
            raise type(exc)(f"{exc} (still serving the previous version)") from None
    service.labels = dict(served.labels)
    return service


def swap_in(handle: handles.ServingHandle, service: Any, how: str) -> str:
    """Swap ``service`` into ``handle``'s server; tell the handle's widgets; return the
    line to print. ``how`` says what changed ("edited", "packed")."""
    try:
        handle.swap(service)
    except BentonbError as exc:
        raise type(exc)(f"{exc} (still serving the previous version)") from None
    except Exception as exc:  # noqa: BLE001 - any failure to build the new runtime
        raise InvalidArgument(f"could not serve the new {service.name}: "
                              f"{type(exc).__name__}: {exc} (still serving the previous "
                              "version)") from None
    line = (f"Live: now serving {service.tag or service.name} "
            f"({how} {time.strftime('%H:%M:%S')}) at {handle.url}")
    handle.announce(line)
    return line
