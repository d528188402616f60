"""The one curl command that calls an API, as the widget, the web page, the demo and
``bentonb serve`` show it.

The command is built from what the input adapter declares: its media types, whether
it takes files (``accepts_files``) and its :meth:`example`. An image API gets a real
multipart upload (``-F image=@cat.png``), another file API the raw bytes of a file
(``--data-binary @file``), a typed API its example body. A server with an API key
gets the key header. Every word that came from outside is shell-quoted.
"""

from __future__ import annotations

import shlex
from typing import Any

#: The file an image API's command uploads, and the one a file API's command sends.
EXAMPLE_IMAGE = "cat.png"
EXAMPLE_FILE = "file"


def curl_command(api: Any, base_url: str, api_key: str | None = None,
                 api_key_env: str | None = None) -> str:
    """``curl -X POST ...`` calling ``api`` (anything with ``route`` and
    ``input_adapter``) at ``base_url``. ``api_key`` puts the key itself in the
    ``Authorization`` header; ``api_key_env`` names the environment variable holding it
    instead (for a key that must not be printed)."""
    adapter = api.input_adapter
    words = ["curl", "-X", "POST"]
    if adapter.accepts_files:
        if any(m.startswith("image/") for m in adapter.media_types):
            body = ["-F", f"image=@{EXAMPLE_IMAGE}"]  # multipart sets its own Content-Type
        else:
            words += ["-H", shlex.quote("Content-Type: application/octet-stream")]
            body = ["--data-binary", f"@{EXAMPLE_FILE}"]
    else:
        words += ["-H", shlex.quote(f"Content-Type: {adapter.media_types[0]}")]
        body = ["--data", shlex.quote(adapter.example())]
    if api_key:
        words += ["-H", shlex.quote(f"Authorization: Bearer {api_key}")]
    elif api_key_env:
        words += ["-H", f'"Authorization: Bearer ${api_key_env}"']
    url = f"{base_url.rstrip('/')}/{api.route}"
    return " ".join([*words, *body, shlex.quote(url)])
