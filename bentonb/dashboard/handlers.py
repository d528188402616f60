"""The dashboard's routes as handler mixins, shared by the standalone app and Jupyter.

A handler parses the URL, calls :class:`~bentonb.dashboard.catalog.Catalog`, and
writes the answer; bentonb's errors become ``{"error", "request_id"}`` JSON
with their status (a bad name 400, an unknown one 404). The mixins read the
:class:`Dashboard` from the application setting ``bentonb_dashboard`` and ask
the concrete handler class (:mod:`bentonb.dashboard.app`,
:mod:`bentonb.dashboard.jupyter`) whether a deletion is allowed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.web

from bentonb.dashboard.catalog import Catalog
from bentonb.dashboard.pages import detail_page, index_page
from bentonb.errors import BentonbError, InvalidArgument
from bentonb.server.guards import new_request_id
from bentonb.tags import parse_labels

SETTING = "bentonb_dashboard"
_CHUNK = 256 * 1024


@dataclass
class Dashboard:
    """What every handler shares: the catalog, and the URL the dashboard lives at."""

    catalog: Catalog
    root: str = "/"


class DashboardMixin:
    """JSON errors and the catalog; mixed in before a ``RequestHandler`` subclass, which
    provides ``may_delete() -> str | None``: None when the request may delete, else why
    not (the mixin comes first in the MRO, so it must not define it)."""

    request: Any
    settings: dict

    @property
    def dashboard(self) -> Dashboard:
        return self.settings[SETTING]

    @property
    def catalog(self) -> Catalog:
        return self.dashboard.catalog

    def write_json_error(self, status: int, message: str) -> None:
        if not getattr(self, "request_id", None):
            self.request_id = new_request_id()
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("X-Request-Id", self.request_id)
        self.finish(json.dumps({"error": message, "request_id": self.request_id}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.write_json_error(status_code, message)

    def answer(self, call, *args: Any) -> Any:
        """``call(*args)``, or a JSON error answered for a bentonb error (then None)."""
        try:
            return call(*args)
        except BentonbError as exc:
            status = exc.status_code if 400 <= exc.status_code < 500 else 409
            self.write_json_error(status, str(exc))
            return None

    def write_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


def _labels(handler: Any) -> dict[str, str]:
    """``?label=k=v`` (repeatable): the labels to keep, checked by the tag grammar."""
    return parse_labels(",".join(handler.get_query_arguments("label")))


class IndexPage(DashboardMixin):
    def get(self) -> None:
        groups = self.answer(lambda: self.catalog.groups(_labels(self)))
        if groups is None:
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(index_page(groups, str(self.catalog.store.home), self.dashboard.root,
                               self.catalog.models()))


class DetailPage(DashboardMixin):
    def get(self, name: str, version: str) -> None:
        detail = self.answer(self.catalog.detail, name, version)
        if detail is not None:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(detail_page(detail, self.dashboard.root))


#: The keys ``?sort=`` takes (``-key``: descending).
SORT_KEYS = ("name", "version", "created_at", "size")


def _sorted(rows: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    if not sort:
        return rows
    key = sort.removeprefix("-")
    if key not in SORT_KEYS:
        raise InvalidArgument(f"invalid sort {sort[:40]!r}: use one of {', '.join(SORT_KEYS)}"
                              ", with '-' before it for descending order (e.g. -created_at)")
    return sorted(rows, key=lambda r: (r[key], r["name"], r["version"]),
                  reverse=sort.startswith("-"))


class BundlesApi(DashboardMixin):
    """``GET /api/bundles[?name=N&label=k=v&sort=-created_at]``: every version (by name,
    oldest first unless sorted), with its summary; and the models, when a model store
    exists (else null)."""

    def get(self) -> None:
        name = self.get_query_argument("name", None) or None
        sort = self.get_query_argument("sort", None)
        rows = self.answer(lambda: _sorted(
            [e.summary() for e in self.catalog.entries(name, _labels(self))], sort))
        if rows is not None:
            self.write_json({"bundles": rows, "models": self.catalog.models()})


class NameApi(DashboardMixin):
    """``GET /api/bundles/<name>``: the versions of one name, oldest first."""

    def get(self, name: str) -> None:
        entries = self.answer(self.catalog.entries, name)
        if entries is None:
            return
        if not entries:
            self.answer(self.catalog.find, name, "latest")  # the 404 with suggestions
            return
        self.write_json({"name": name, "versions": [e.summary() for e in entries]})


class VersionApi(DashboardMixin):
    """``GET`` the manifest and more of one version; ``DELETE`` it."""

    def get(self, name: str, version: str) -> None:
        detail = self.answer(self.catalog.detail, name, version)
        if detail is not None:
            self.write_json(detail)

    def delete(self, name: str, version: str) -> None:
        refused = self.may_delete()
        if refused:
            self.write_json_error(403, refused)
            return
        tag = self.answer(self.catalog.delete, name, version)
        if tag is not None:
            self.write_json({"deleted": tag})


class ArchiveApi(DashboardMixin):
    """``GET .../archive``: the bundle as the ``.tar.gz`` that ``bentonb import`` reads."""

    async def get(self, name: str, version: str) -> None:
        from bentonb.bundle.archive import export_bundle

        entry = self.answer(self.catalog.find, name, version)
        if entry is None:
            return
        folder = Path(tempfile.mkdtemp(prefix="bentonb-archive-"))
        try:
            file = await asyncio.get_running_loop().run_in_executor(
                None, export_bundle, entry.manifest.tag, folder, self.catalog.store)
            self.set_header("Content-Type", "application/gzip")
            self.set_header("Content-Disposition", f'attachment; filename="{file.name}"')
            self.set_header("Content-Length", str(file.stat().st_size))
            with open(file, "rb") as f:
                while chunk := f.read(_CHUNK):
                    self.write(chunk)
                    await self.flush()
            self.finish()
        except BentonbError as exc:
            self.write_json_error(409, str(exc))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class NotFoundRoute(DashboardMixin):
    """Any other URL under the dashboard: a JSON 404 naming the entry points."""

    def get(self, *_args: Any) -> None:
        self.write_json_error(404, f"no route {self.request.path[:200]}; see "
                                   f"{self.dashboard.root} and "
                                   f"{self.dashboard.root}api/bundles")

    post = put = patch = delete = get


#: URL patterns under the root, with their mixins; names and versions are single path
#: segments (an encoded slash arrives decoded and is refused by the tag grammar).
ROUTES: list[tuple[str, type]] = [
    (r"", IndexPage),
    (r"bundles/([^/]+)/([^/]+)", DetailPage),
    (r"api/bundles", BundlesApi),
    (r"api/bundles/([^/]+)", NameApi),
    (r"api/bundles/([^/]+)/([^/]+)", VersionApi),
    (r"api/bundles/([^/]+)/([^/]+)/archive", ArchiveApi),
]
