"""The ``bentonb`` command: manage, run and ship saved bundles.

One module per family of commands (bundles, serving, shipping, k8s) on one click
group; the console script is :func:`main`. The CLI sits on top of every other
layer except the notebook, and nothing below imports it.
"""

from bentonb.cli import (  # noqa: F401  (register commands)
    build,
    bundles,
    k8s,
    models,
    serving,
    shipping,
)
from bentonb.cli.group import main

__all__ = ["main"]

