"""The dashboard inside Jupyter Server, at ``<base_url>bentonb/``, behind Jupyter's auth.

Enabled by ``jupyter-config/jupyter_server_config.d/bentonb.json`` (installed with
the package): Jupyter imports this module, calls
:func:`_load_jupyter_server_extension`, and the same routes as the standalone app
(:data:`bentonb.dashboard.handlers.ROUTES`) are mounted under the server's
``base_url``. Pages subclass ``JupyterHandler``, the JSON API ``APIHandler`` (a
missing login is 403 there, not a redirect); every method is
``@tornado.web.authenticated``, and Jupyter's own Host, Origin and XSRF checks
apply. A logged-in user may delete: Jupyter's login is the key.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join

from bentonb.dashboard.catalog import Catalog
from bentonb.dashboard.handlers import ROUTES, SETTING, Dashboard, NotFoundRoute
from bentonb.store import LocalStore

#: Where the dashboard is mounted, under the server's base_url.
PREFIX = "bentonb"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "bentonb.dashboard.jupyter"}]


def _authenticated(mixin: type, base: type) -> type:
    """``mixin`` on Jupyter's ``base``, each of its methods wrapped by
    ``@tornado.web.authenticated`` (so no route answers without a login)."""
    methods: dict[str, Any] = {}
    for verb in ("get", "delete"):
        own = mixin.__dict__.get(verb)
        if own is not None:
            methods[verb] = tornado.web.authenticated(own)
    methods["may_delete"] = lambda self: None  # authenticated is enough
    return type(f"Jupyter{mixin.__name__}", (mixin, base), methods)


def handlers(base_url: str) -> list[tuple[str, type]]:
    """The dashboard's routes under ``base_url``."""
    root = url_path_join(base_url, PREFIX)
    routes = []
    for pattern, mixin in ROUTES:
        base = APIHandler if pattern.startswith("api/") else JupyterHandler
        routes.append((url_path_join(root, pattern) if pattern else root + "/?",
                       _authenticated(mixin, base)))
    routes.append((url_path_join(root, "(.*)"), _authenticated(NotFoundRoute, APIHandler)))
    return routes


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Mount the dashboard; the store is ``$BENTONB_HOME`` of the Jupyter process."""
    web_app = serverapp.web_app
    base_url = web_app.settings.get("base_url", "/")
    web_app.settings[SETTING] = Dashboard(Catalog(LocalStore()),
                                          url_path_join(base_url, PREFIX) + "/")
    web_app.add_handlers(".*$", handlers(base_url))
    serverapp.log.info("bentonb dashboard at %s", url_path_join(base_url, PREFIX) + "/")
