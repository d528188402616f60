"""``bentonb.api`` and ``bentonb.service``: one name for both API generations.

``bentonb.api`` is the 0.x method decorator (``@bentonb.api(input=DataframeInput(),
batch=True)`` in a BentoService) and the 1.2+ one (``@bentonb.api`` or
``@bentonb.api(batchable=True)`` in a ``@bentonb.service`` class); the arguments
say which: 0.x always names an input adapter or a 0.x option. ``bentonb.service``
is the 1.2+ class decorator and still reads as the 0.x package
(``bentonb.service.BentoService``).

The 1.2+ machinery (:mod:`bentonb.sdk.classes`, which pulls in asyncio, yaml and the
runners) is imported on the first 1.2+ use, so a 0.x service never pays for it.
"""

from __future__ import annotations

import difflib
import inspect
import sys
from typing import Any

from bentonb.errors import InvalidArgument
from bentonb.service import decorators as legacy

#: Options only the 0.x ``@api`` takes, and only the 1.2+ ``@api`` takes.
LEGACY_OPTIONS = frozenset({"input", "output", "batch", "api_name", "mb_max_batch_size",
                            "mb_max_latency"})
CLASS_OPTIONS = frozenset({"batchable", "batch_dim", "max_batch_size", "max_latency_ms",
                           "input_spec", "output_spec", "name"})


def _is_legacy(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if args and not (len(args) == 1 and inspect.isfunction(args[0])):
        return True  # @api(DataframeInput()) / @api(ImageInput)
    if LEGACY_OPTIONS & kwargs.keys():
        return True
    if CLASS_OPTIONS & kwargs.keys() or not kwargs:
        return False
    unknown = [k for k in kwargs if k != "route"]
    if not unknown:
        return False
    # A misspelt option goes to the generation whose option it resembles most.
    close = difflib.get_close_matches(unknown[0], LEGACY_OPTIONS | CLASS_OPTIONS, 1, 0.6)
    return not close or close[0] in LEGACY_OPTIONS


def api(*args: Any, **kwargs: Any) -> Any:
    """Serve a method as an API, in either generation's style.

    0.x: ``@bentonb.api(input=DataframeInput(), output=JsonOutput(), batch=True)``
    inside a ``BentoService`` (see :func:`bentonb.service.api`). 1.2+: ``@bentonb.api``
    or ``@bentonb.api(batchable=True, max_batch_size=100, route=...)`` inside a
    ``@bentonb.service`` class, the IO read from the type annotations (see
    :func:`bentonb.sdk.decorators.api`).
    """
    both = (LEGACY_OPTIONS - {"output"}) & kwargs.keys(), CLASS_OPTIONS & kwargs.keys()
    if all(both):
        raise InvalidArgument(f"@api mixes 0.x options ({', '.join(sorted(both[0]))}) with "
                              f"1.2+ ones ({', '.join(sorted(both[1]))}); a BentoService "
                              "API takes input=/batch=, a @bentonb.service API batchable=")
    if _is_legacy(args, kwargs):
        return legacy.api(*args, **kwargs)
    from bentonb.sdk import decorators

    return decorators.api(*args, **kwargs)


class ServiceDecorator:
    """``@bentonb.service(...)`` on a class; attribute reads go to the 0.x package
    ``bentonb.service``, so ``bentonb.service.BentoService`` keeps working."""

    def __call__(self, cls: type | None = None, **options: Any) -> Any:
        from bentonb.sdk import decorators

        return decorators.service(cls, **options)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]  # the 1.2+ decorator's own
        from bentonb.sdk import decorators

        return decorators.service.__doc__

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.modules["bentonb.service"], name)

    def __repr__(self) -> str:
        return "<bentonb.service: the @service class decorator and the 0.x package>"


service = ServiceDecorator()
