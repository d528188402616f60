"""``%bento_store``: the bundle store inline, as an ipywidgets table.

One row per version (filtered by name and label), with buttons to show the
bundle's details, serve it on a background thread (the ``%bento_serve`` handle)
and delete it (a second click confirms). It reads the store through the
dashboard's :class:`~bentonb.dashboard.catalog.Catalog`, like the web pages do.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from bentonb.dashboard.catalog import Catalog
from bentonb.dashboard.pages import human_size
from bentonb.errors import BentonbError
from bentonb.tags import parse_labels


class StoreTable:
    """The widget's state: the catalog, the filters, the rows and an output area."""

    def __init__(self, catalog: Catalog | None = None, name: str = "",
                 labels: str = "") -> None:
        self.catalog = catalog or Catalog()
        self.name = w.Text(value=name, placeholder="name contains", description="Name")
        self.labels = w.Text(value=labels, placeholder="k=v,k2=v2", description="Labels")
        self.rows = w.VBox()
        self.out = w.Output()
        self.handles: dict[str, Any] = {}
        for box in (self.name, self.labels):
            box.observe(lambda _change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.name, self.labels]), self.rows, self.out])
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the store and the filters (a bad label filter says so)."""
        try:
            labels = parse_labels(self.labels.value)
        except BentonbError as exc:
            self.rows.children = [w.HTML(f"<i>{exc}</i>")]
            return
        entries = [e for e in self.catalog.entries(labels=labels)
                   if self.name.value.strip().lower() in e.name.lower()]
        self.rows.children = [self._row(e) for e in entries] or [w.HTML("<i>no bundles</i>")]

    def _row(self, entry: Any) -> w.HBox:
        m = entry.manifest
        labels = ", ".join(f"{k}={v}" for k, v in m.labels.items())
        text = w.HTML(f"<code>{m.tag}</code> &middot; {m.created_at[:19]} &middot; "
                      f"{human_size(entry.size)} &middot; {labels}",
                      layout=w.Layout(width="60%"))
        buttons = {verb: w.Button(description=verb, layout=w.Layout(width="auto"))
                   for verb in ("details", "serve", "delete")}
        buttons["details"].on_click(self._shown(lambda _b: self.details(m.name, m.version)))
        buttons["serve"].on_click(self._shown(lambda _b: self.serve(m.tag)))
        buttons["delete"].on_click(self._shown(lambda b: self.delete(b, m.name, m.version)))
        return w.HBox([text, *buttons.values()])

    def _shown(self, action: Any) -> Any:
        """A button callback whose bentonb errors appear in the output area (a button's
        exception would otherwise go only to the kernel's log)."""
        def callback(button: w.Button) -> None:
            try:
                action(button)
            except BentonbError as exc:
                self.out.outputs = ()
                self.out.append_stderr(f"{exc}\n")
        return callback

    def details(self, name: str, version: str) -> None:
        d = self.catalog.detail(name, version)
        apis = "".join(f"<li>POST /{a['route']}: {a['input_type']} &rarr; {a['output_type']}"
                       f" {a['doc']}</li>" for a in d["apis"])
        arts = "".join(f"<li>{a['name']}: {a['type']} ({human_size(a['size'])})</li>"
                       for a in d["artifacts"])
        from IPython.display import HTML

        # append_*: works in a kernel and outside one (no output capture needed)
        self.out.outputs = ()
        self.out.append_display_data(HTML(f"<b>{d['tag']}</b><ul>{apis}{arts}</ul>"
                                          f"<code>{d['commands']['serve']}</code>"))

    def serve(self, tag: str) -> Any:
        from bentonb.notebook.handle import serve

        handle = serve(tag, port=0)
        self.handles[tag] = handle
        self.out.outputs = ()
        self.out.append_stdout(f"serving {tag} at {handle.url}\n")
        return handle

    def delete(self, button: w.Button, name: str, version: str) -> None:
        if button.description != "confirm delete":
            button.description, button.button_style = "confirm delete", "danger"
            return
        tag = self.catalog.delete(name, version)
        self.out.outputs = ()
        self.out.append_stdout(f"deleted {tag}\n")
        self.refresh()
