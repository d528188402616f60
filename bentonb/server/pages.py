"""The two HTML pages the server renders: the web UI and Swagger UI (``/docs``). ``/``
shows the one the service declares (``root_page``): Swagger UI for 1.x services.

Both work offline: the web UI is one self-contained page, and Swagger UI's
assets come from the ``swagger-ui-bundle`` package. It never imports tornado,
the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

import html
import json
from typing import Any

from bentonb.adapters.curl import curl_command

#: Stands for the server's origin in the rendered page; each answer of ``/`` puts the
#: origin the request came to in its place (a page is rendered once per service).
ORIGIN = "http://bentonb-origin.invalid"

UI_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .muted{color:#666} section{border:1px solid #ddd;border-radius:8px;
padding:1rem;margin:1rem 0} textarea{width:100%;min-height:6rem;font-family:monospace}
button{padding:.4rem 1.2rem;margin-top:.5rem} pre{background:#f6f6f6;padding:.6rem;
white-space:pre-wrap;word-break:break-all} code{background:#f2f2f2;padding:0 .2rem}
"""

_UI_SCRIPT = """
async function send(form) {
  const api = JSON.parse(form.dataset.api);
  const out = form.querySelector('pre');
  const key = document.getElementById('api-key').value;
  const headers = key ? {'Authorization': 'Bearer ' + key} : {};
  let body;
  const file = form.querySelector('input[type=file]');
  if (file && file.files.length) {
    body = file.files[0];
    headers['Content-Type'] = file.files[0].type || 'application/octet-stream';
  } else {
    body = form.querySelector('textarea').value;
    headers['Content-Type'] = form.querySelector('select').value;
  }
  const t0 = performance.now();
  try {
    const r = await fetch(api.route, {method: 'POST', headers, body});
    const text = await r.text();
    const ms = (performance.now() - t0).toFixed(1);
    out.textContent = 'HTTP ' + r.status + ' in ' + ms + ' ms\\n' + text;
    out.dataset.status = r.status;
  } catch (e) { out.textContent = 'request failed: ' + e; }
  return false;
}
"""


def _api_section(api: Any, api_key: bool) -> str:
    adapter = api.input_adapter
    info = json.dumps({"name": api.name, "route": api.route})
    media = "".join(f"<option>{html.escape(m)}</option>" for m in adapter.media_types
                    if "*" not in m and not m.startswith("multipart"))
    file_input = ""
    if any(m.startswith(("image/", "application/octet-stream")) for m in adapter.media_types):
        file_input = '<p>or upload a file: <input type="file" name="file"></p>'
    doc = html.escape(api.doc or "")
    curl = html.escape(curl_command(api, ORIGIN,
                                    api_key_env="BENTONB_API_KEY" if api_key else None))
    return f"""
<section id="api-{html.escape(api.name)}">
  <h2>POST /{html.escape(api.route)}</h2>
  <p class="muted">{html.escape(adapter.type_name)} &rarr;
     {html.escape(api.output_adapter.type_name)}{' &middot; batched' if api.batch else ''}</p>
  <p>{doc}</p>
  <form data-api='{html.escape(info)}' onsubmit="send(this); return false;">
    <textarea name="body">{html.escape(adapter.example())}</textarea>
    <p>Content-Type: <select>{media}</select></p>
    {file_input}
    <button type="submit">Send</button>
    <pre class="answer"></pre>
  </form>
  <p>From a shell:</p>
  <pre class="curl">{curl}</pre>
</section>"""


def index_page(service: Any, api_key: bool = False) -> str:
    """A small page listing the APIs with a form and a curl command per API to try it;
    with ``api_key`` the commands send the key from ``$BENTONB_API_KEY`` (the page
    never shows the key). The commands' URLs are :data:`ORIGIN`, to be replaced."""
    title = html.escape(f"{service.name} {service.version or ''}".strip())
    sections = "".join(_api_section(api, api_key) for api in service.inference_apis)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><style>{UI_STYLE}</style></head>
<body>
<h1>{title}</h1>
<p class="muted">Served by bentonb &middot; <a href="docs">API docs</a> &middot;
<a href="docs.json">OpenAPI</a> &middot; <a href="metadata">metadata</a> &middot;
<a href="metrics">metrics</a></p>
<p>API key (if the server needs one): <input id="api-key" type="password" size="40"></p>
{sections}
<script>{_UI_SCRIPT}</script>
</body></html>"""


def swagger_page(title: str) -> str:
    """Swagger UI reading ``docs.json``, with assets served from ``docs/static/``."""
    title = html.escape(title)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - API docs</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "docs.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""
