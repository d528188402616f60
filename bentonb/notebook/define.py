"""``%%bento_service``: run a cell, record the source of each service it defines, and
swap a re-defined service into the server this kernel runs for it.

Owns what happens between the cell's text and the recorded services; the magic in
:mod:`bentonb.notebook.magics` only parses its line. Must never be imported by
anything below the notebook layer (it needs IPython) and never imports the CLI.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.inputtransformer2 import TransformerManager


def define_services(shell: Any, line: str, cell: str) -> None:
    """Run ``cell`` in ``shell``'s namespace; record the source of each BentoService
    subclass and ``@bentonb.service`` class it defines; swap in the served ones."""
    from bentonb.bundle.source import record_service_source
    from bentonb.sdk import Service, is_service_class
    from bentonb.service import BentoService

    if line.strip():
        raise UsageError("%%bento_service takes no arguments")
    source = TransformerManager().transform_cell(cell)
    if "get_ipython()" in source:
        raise UsageError("a %%bento_service cell must be plain Python: move magics and "
                         "!shell commands to another cell")
    ns = shell.user_ns
    before = dict(ns)  # what each name meant (compared by identity)
    result = shell.run_cell(cell, store_history=False, silent=False)
    if not result.success:
        return  # the traceback is shown; a served version keeps serving
    new = {k: v for k, v in ns.items() if before.get(k) is not v}
    defined = [v for v in new.values()
               if isinstance(v, type) and issubclass(v, BentoService)
               and v is not BentoService and f"class {v.__name__}" in source]
    # 1.x: a @bentonb.service class defined here, or a bentonb.Service bound here.
    classes_1x = [v for v in new.values() if isinstance(v, type) and is_service_class(v)
                  and f"class {v.__name__}" in source]
    services_1x = [v for v in new.values() if isinstance(v, Service)]
    if not (defined or classes_1x or services_1x):
        raise UsageError("the cell defines no BentoService subclass, bentonb.Service or "
                         "@bentonb.service class; %%bento_service is for the cell with "
                         "`class MyService(bentonb.BentoService)` or a 1.x service")
    for cls in defined + classes_1x:
        record_service_source(cls, source)
    swap_edited(shell, defined, before)
    swap_edited_1x(classes_1x + services_1x)


def swap_edited(shell: Any, classes: list[type], before: dict[str, Any]) -> None:
    """Serve the new version of each class this kernel serves live."""
    from bentonb.notebook import live

    for cls in classes:
        handle = live.live_handle(cls.__name__)
        if handle is None:
            continue
        service = (live.repacked_instance(cls, shell.user_ns, before)
                   or live.rebuild(cls, handle.service))
        print(live.swap_in(handle, service, "edited"))


def swap_edited_1x(services: list[Any]) -> None:
    """Serve the new version of each 1.x service this kernel serves live; a class
    is instantiated again (its ``__init__`` loads the models from the store)."""
    from bentonb.notebook import live
    from bentonb.notebook.handle import resolve_service

    for target in services:
        name = getattr(target, "name", None) or _service_class_name(target)
        handle = live.live_handle(name)
        if handle is None:
            continue
        try:
            service = resolve_service(target)
        except Exception as exc:  # noqa: BLE001 - e.g. the class's __init__ raised
            raise UsageError(f"could not build the new {name}: {type(exc).__name__}: "
                             f"{exc} (still serving the previous version)") from None
        print(live.swap_in(handle, service, "edited"))


def _service_class_name(cls: type) -> str:
    """The served name of a ``@bentonb.service`` class (its options' name)."""
    from bentonb.sdk.decorators import SERVICE_MARK

    return getattr(cls, SERVICE_MARK).name
