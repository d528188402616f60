"""The ``bentonb`` command group and what its commands share: bentonb's errors as
one-line messages, the store, and flag parsers. Imports nothing of the server,
notebook or container code at module level (``bentonb --help`` stays fast)."""

from __future__ import annotations

from typing import Any

import click

from bentonb.errors import BentonbError


class _Group(click.Group):
    """Turns bentonb's own errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BentonbError as exc:
            raise click.ClickException(str(exc)) from None


def store():
    from bentonb.store import LocalStore

    return LocalStore()


def parse_labels(value: str | None) -> dict[str, str]:
    from bentonb.tags import parse_labels as parse

    try:
        return parse(value)
    except BentonbError as exc:
        raise click.BadParameter(str(exc), param_hint="--labels") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bentonb")
def main() -> None:
    """bentonb: versioned bundles and fast prediction services for notebook models."""
