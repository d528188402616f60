"""``bentonb models list|get|delete|export|import``: the model store (1.x API)."""

from __future__ import annotations

import json
from typing import Any

import click

from bentonb.cli.group import main


def _store():
    from bentonb.models import ModelStore

    return ModelStore()


def _summary(model: Any) -> dict[str, Any]:
    return {"tag": str(model.tag), "framework": model.framework, "path": str(model.path),
            "created_at": model.info.created_at, "labels": model.info.labels,
            "signatures": model.info.signatures}


@main.group()
def models() -> None:
    """The model store: models saved with bentonb.<framework>.save_model."""


@models.command("list")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
def list_models(name: str | None, output: str) -> None:
    """List stored models (of NAME), oldest first."""
    found = [_summary(m) for m in _store().list(name)]
    if output == "json":
        click.echo(json.dumps(found, indent=2))
        return
    if output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(found, sort_keys=False).rstrip())
        return
    rows = [("TAG", "FRAMEWORK", "SIGNATURES", "LABELS", "CREATED")]
    for m in found:
        rows.append((m["tag"], m["framework"], ",".join(m["signatures"]),
                     ",".join(f"{k}={v}" for k, v in m["labels"].items()),
                     m["created_at"][:19]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@models.command("get")
@click.argument("tag")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
def get_model(tag: str, output: str) -> None:
    """Show a model's model.yaml (TAG: name, name:latest or name:version)."""
    model = _store().get(tag)
    data = {**model.info.to_dict(), "path": str(model.path)}
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@models.command("delete")
@click.argument("tag")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_model(tag: str, yes: bool) -> None:
    """Delete a model version (or every version of NAME)."""
    store = _store()
    name = tag.partition(":")[0]
    targets = store.list(name) if ":" not in tag else [store.get(tag)]
    if not targets:
        store.get(tag)  # says the tag is unknown
    if not yes:
        click.confirm(f"Delete {', '.join(str(m.tag) for m in targets)}?", abort=True)
    for model in store.delete(tag):
        click.echo(f"deleted {model.tag}")


@models.command("export")
@click.argument("tag")
@click.argument("path", type=click.Path(), default=".")
def export_model(tag: str, path: str) -> None:
    """Write a model as an archive (PATH, or a directory: NAME-VERSION.bentomodel)."""
    click.echo(str(_store().export_model(tag, path)))


@models.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--max-size", type=click.IntRange(min=1), default=10 * 1024 ** 3,
              show_default=True, help="Largest unpacked size in bytes.")
@click.option("--max-members", type=click.IntRange(min=1), default=100_000,
              show_default=True, help="Most files and folders in the archive.")
def import_model(path: str, max_size: int, max_members: int) -> None:
    """Add the model in an archive made by `bentonb models export`, checked first."""
    from bentonb.safetar import ArchiveLimits

    model = _store().import_model(path, ArchiveLimits(max_size, max_members))
    click.echo(f"imported {model.tag}")
