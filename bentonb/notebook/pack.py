"""``%bento_pack``: pack notebook variables into a 0.x service and save it as a bundle.

Owns the checks of the magic's arguments against the service (which artifacts,
which variables) and the save; the magic in :mod:`bentonb.notebook.magics` only
parses its line. Must never be imported below the notebook layer (it raises
IPython's ``UsageError``) and never imports the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from bentonb.tags import parse_labels


def pack_and_save(args: Any, lookup: Callable[[str, str], Any]) -> Any:
    """Pack ``args.models`` (``artifact=variable``, read through ``lookup``) into the
    service ``args.service``, save it (to ``args.dir`` or the store); the service."""
    from bentonb.sdk import Service, is_service_class
    from bentonb.service import BentoService

    target = lookup(args.service, "service")
    if isinstance(target, Service) or is_service_class(target):
        raise UsageError(f"'{args.service}' is a 1.x service: it needs no pack, its models "
                         f"are in the model store (bentonb.<framework>.save_model); serve "
                         f"it with %bento_serve {args.service}, or make a bundle with "
                         "`bentonb build`")
    if isinstance(target, type) and issubclass(target, BentoService):
        service = target()
    elif isinstance(target, BentoService):
        service = target
    else:
        raise UsageError(f"'{args.service}' is a {type(target).__name__}, not a "
                         "BentoService class or instance")
    if not args.models and any(not a.is_packed for a in service.artifacts):
        names = ", ".join(f"{a.name}=VARIABLE" for a in service.artifacts)
        raise UsageError(f"say which variable goes in each artifact: %bento_pack "
                         f"{args.service} {names}")
    for pair in args.models:
        name, sep, var = pair.partition("=")
        if not sep or not name or not var:
            raise UsageError(f"'{pair}' is not artifact=variable (e.g. model=clf)")
        service.pack(name, lookup(var, "model"))
    labels = parse_labels(args.labels)
    if args.dir:
        path = service.save_to_dir(args.dir, version=args.version, labels=labels)
    else:
        path = service.save(version=args.version, labels=labels)
    print(f"saved {service.tag} to {path}")
    from bentonb.notebook import live

    handle = live.live_handle(service.name)
    if handle is not None:
        print(live.swap_in(handle, service, "packed"))
    return service
