"""Public URLs for a local server: ngrok tunnels (pyngrok) and Colab's port proxy."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from bentonb.errors import BentonbError, require


class TunnelError(BentonbError):
    """A tunnel could not be opened (no token, ngrok refused, ...)."""


@dataclass
class Tunnel:
    """An open ngrok tunnel to a local port."""

    public_url: str
    local_port: int
    _pyngrok_config: Any = None

    def close(self) -> None:
        """Close the tunnel; closing twice is harmless."""
        if not self.public_url:
            return
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError

        try:
            ngrok.disconnect(self.public_url, pyngrok_config=self._pyngrok_config)
        except PyngrokError:
            pass
        self.public_url = ""


def open_tunnel(port: int, auth_token: str | None = None, pyngrok_config: Any = None) -> Tunnel:
    """Open an HTTP tunnel to ``127.0.0.1:port``.

    The auth token comes from ``auth_token``, else ``$NGROK_AUTHTOKEN``, else
    ngrok's own configuration file.
    """
    require("pyngrok", "ngrok")
    from pyngrok import conf, ngrok
    from pyngrok.exception import PyngrokError

    config = pyngrok_config or conf.get_default()
    token = auth_token or os.environ.get("NGROK_AUTHTOKEN")
    if token:
        config.auth_token = token
    try:
        tunnel = ngrok.connect(f"http://127.0.0.1:{port}", "http", pyngrok_config=config)
    except PyngrokError as exc:
        hint = "" if token else " (no auth token: set NGROK_AUTHTOKEN or pass --ngrok-token)"
        raise TunnelError(f"ngrok could not open a tunnel to port {port}: {exc}{hint}") from exc
    return Tunnel(tunnel.public_url, port, config)


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def colab_proxy_url(port: int) -> str | None:
    """The URL through which the notebook's browser reaches ``port`` in Colab."""
    if not in_colab():
        return None
    try:
        from google.colab.output import eval_js

        return eval_js(f"google.colab.kernel.proxyPort({int(port)})")
    except Exception:  # noqa: BLE001 - outside a live Colab frontend there is no answer
        return None
