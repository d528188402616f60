"""The ``bentonb`` command: manage, run and ship saved bundles.

One module per family of commands (bundles, serving, shipping) on one click
group; the console script is :func:`main`. The CLI sits on top of every other
layer except the notebook, and nothing below imports it.
"""

from bentonb.cli import bundles, models, serving, shipping  # noqa: F401  (they register commands)
from bentonb.cli.group import main

__all__ = ["main"]

