"""The dashboard's HTML: the store's bundles (``/``) and one bundle (``/bundles/N/V``).

Self-contained pages with the service page's look (its CSS), small inline
scripts for search, label filter, sorting, copying and deleting; nothing is
loaded from elsewhere, so they work offline. Links start at ``root``, the URL
the dashboard is mounted at (``/`` standalone, ``<base_url>bentonb/`` in
Jupyter). Every value from a manifest is escaped. Never imports tornado.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from bentonb.dashboard.highlight import HIGHLIGHT_STYLE, highlight_python
from bentonb.server.pages import UI_STYLE as SERVICE_STYLE

STYLE = SERVICE_STYLE + HIGHLIGHT_STYLE + """
body{max-width:72rem} table{border-collapse:collapse;width:100%} th,td{text-align:left;
padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top} th[data-key]{cursor:
pointer;user-select:none} th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"} .label{display:inline-block;background:
#eef;border-radius:4px;padding:0 .3rem;margin:0 .2rem .2rem 0;font-size:.85rem}
.tools input{padding:.3rem;margin-right:.6rem} .danger{color:#fff;background:#c62828;
border:0;border-radius:4px} .cmd{display:flex;gap:.5rem;align-items:center;margin:.3rem 0}
.num{text-align:right}
"""

_SCRIPT_COMMON = """
function xsrf() {
  const m = document.cookie.match('(?:^|; )_xsrf=([^;]*)');
  return m ? decodeURIComponent(m[1]) : '';
}
"""

_INDEX_SCRIPT = """
const table = document.getElementById('bundles');
const rows = [...table.tBodies[0].rows];
const search = document.getElementById('search'), label = document.getElementById('label');
function apply() {
  const q = search.value.trim().toLowerCase(), l = label.value.trim();
  let shown = 0;
  for (const r of rows) {
    const labels = r.dataset.labels ? r.dataset.labels.split('\\n') : [];
    const okLabel = !l || (l.includes('=') ? labels.includes(l)
                                           : labels.some(x => x.split('=')[0] === l));
    r.hidden = !(r.dataset.name.toLowerCase().includes(q) && okLabel);
    if (!r.hidden) shown++;
  }
  document.getElementById('count').textContent = shown + ' of ' + rows.length + ' bundles';
}
search.addEventListener('input', apply); label.addEventListener('input', apply);
for (const th of table.tHead.rows[0].cells) {
  th.addEventListener('click', () => {
    const key = th.dataset.key, up = th.getAttribute('aria-sort') !== 'ascending';
    for (const other of table.tHead.rows[0].cells) other.removeAttribute('aria-sort');
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    const num = th.dataset.type === 'number';
    rows.sort((a, b) => {
      const x = a.dataset[key], y = b.dataset[key];
      const c = num ? Number(x) - Number(y) : x.localeCompare(y);
      return up ? c : -c;
    });
    for (const r of rows) table.tBodies[0].appendChild(r);
  });
}
apply();
"""

_DETAIL_SCRIPT = """
function copy(button) {
  const text = button.previousElementSibling.textContent;
  const done = () => { button.textContent = 'Copied'; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    const area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand('copy'); area.remove(); done();
  }
}
async function removeBundle(button) {
  const tag = button.dataset.tag;
  if (!confirm('Delete ' + tag + '? This cannot be undone.')) return;
  const key = document.getElementById('api-key').value;
  const headers = {'X-XSRFToken': xsrf()};
  if (key) headers['Authorization'] = 'Bearer ' + key;
  const r = await fetch(button.dataset.url, {method: 'DELETE', headers,
                                             credentials: 'same-origin'});
  const out = document.getElementById('delete-result');
  if (r.ok) { out.textContent = 'deleted ' + tag; location.href = button.dataset.home; }
  else { const body = await r.json().catch(() => ({})); out.textContent =
         'HTTP ' + r.status + ': ' + (body.error || r.statusText); }
}
"""


def human_size(size: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _labels(labels: dict[str, str]) -> str:
    return "".join(f'<span class="label">{html.escape(k)}={html.escape(v)}</span>'
                   for k, v in labels.items())


def _page(title: str, body: str, script: str) -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head>
<body>
{body}
<script>{_SCRIPT_COMMON}{script}</script>
</body></html>"""


def _bundle_url(root: str, name: str, version: str) -> str:
    return f"{root}bundles/{quote(name)}/{quote(version)}"


def _models_section(models: list[dict[str, Any]] | None) -> str:
    if models is None:
        return ""
    rows = "".join(f"<tr><td>{html.escape(m['name'])}</td><td>{html.escape(m['version'])}</td>"
                   f"<td>{html.escape(m['module'])}</td><td>{html.escape(m['created_at'][:19])}"
                   f"</td><td>{_labels(m['labels'])}</td></tr>" for m in models)
    return f"""<section id="models"><h2>Models</h2>
<table><thead><tr><th>Name</th><th>Version</th><th>Framework</th><th>Created</th>
<th>Labels</th></tr></thead><tbody>{rows or '<tr><td colspan=5>no models</td></tr>'}
</tbody></table></section>"""


def index_page(groups: list[dict[str, Any]], store: str, root: str,
               models: list[dict[str, Any]] | None = None) -> str:
    """The store's bundles, one row per name, with search, label filter and sorting."""
    rows = []
    for g in groups:
        data = {"name": g["name"], "versions": g["versions"], "latest": g["latest"],
                "created": g["created_at"], "labels": "\n".join(g["all_labels"]),
                "size": g["size"]}
        attrs = " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in data.items())
        link = _bundle_url(root, g["name"], g["latest"])
        rows.append(f"""<tr {attrs}><td><a href="{link}">{html.escape(g['name'])}</a></td>
<td class="num">{g['versions']}</td><td><a href="{link}">{html.escape(g['latest'])}</a></td>
<td>{html.escape(g['created_at'][:19].replace('T', ' '))}</td><td>{_labels(g['labels'])}</td>
<td class="num">{human_size(g['size'])}</td></tr>""")
    header = "".join(
        f'<th data-key="{key}"{" data-type=number" if num else ""}>{title}</th>'
        for key, title, num in [("name", "Name", False), ("versions", "Versions", True),
                                ("latest", "Latest version", False),
                                ("created", "Created", False), ("labels", "Labels", False),
                                ("size", "Size", True)])
    body = f"""<h1>Bundle store</h1>
<p class="muted">{html.escape(store)} &middot; <a href="{root}api/bundles">JSON</a></p>
<p class="tools"><input id="search" type="search" placeholder="search by name"
 aria-label="search by name"><input id="label" placeholder="label: key=value"
 aria-label="filter by label"><span id="count" class="muted"></span></p>
<table id="bundles"><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>
{'<p>The store is empty: save a service with svc.save() or %bento_pack.</p>'
 if not groups else ''}
{_models_section(models)}"""
    return _page("bentonb bundle store", body, _INDEX_SCRIPT)


def _rows(items: list[list[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in items)


def detail_page(d: dict[str, Any], root: str) -> str:
    """One bundle: manifest, APIs, artifacts, env, requirements, source, README, actions."""
    esc = html.escape
    apis = _rows([[esc(a["name"]), f"<code>POST /{esc(a['route'])}</code>",
                   f"{esc(a['input_type'])} &rarr; {esc(a['output_type'])}",
                   "batch" if a["batch"] else "", esc(a["doc"] or "")] for a in d["apis"]])
    arts = _rows([[esc(a["name"]), esc(a["type"]), esc(a["framework"] or ""),
                   esc(str(a["framework_version"] or "")), human_size(a["size"])]
                  for a in d["artifacts"]])
    models = "".join(f"<li><code>{esc(m['tag'])}</code> ({human_size(m['size'])})</li>"
                     for m in d.get("models", []))
    models = f'<section id="models"><h2>Models</h2><ul>{models}</ul></section>' \
        if models else ""
    env = d["env"]
    shown = {v: f"<b>{esc(v)}</b>" if v == d["version"] else esc(v) for v in d["versions"]}
    versions = " ".join(f'<a href="{_bundle_url(root, d["name"], v)}">{text}</a>'
                        for v, text in shown.items())
    archive = f"{root}api/bundles/{quote(d['name'])}/{quote(d['version'])}/archive"
    commands = "".join(f'<div class="cmd"><code>{esc(c)}</code><button type="button" '
                       f'onclick="copy(this)">Copy</button></div>'
                       for c in d["commands"].values())
    body = f"""<p><a href="{root}">&larr; all bundles</a></p>
<h1>{esc(d['tag'])}</h1>
<p class="muted">created {esc(d['created_at'][:19].replace('T', ' '))} &middot;
{human_size(d['size'])} &middot; bentonb {esc(d['bentonb_version'])} &middot;
Python {esc(d['python_version'])} &middot; {esc(d.get('kind', '0.x'))} service
<code>{esc(d.get('service') or d['module'])}</code></p>
<p>Labels: {_labels(d['labels']) or '<span class="muted">none</span>'}</p>
<p>Versions: {versions}</p>
<section id="actions"><h2>Actions</h2>
<p><a id="download" href="{archive}" download="{esc(d['name'])}-{esc(d['version'])}.tar.gz">
<button type="button">Download archive (.tar.gz)</button></a></p>
{commands}
<p>API key (if the dashboard needs one to delete): <input id="api-key" type="password"
 size="30"> <button type="button" class="danger" id="delete" data-tag="{esc(d['tag'])}"
 data-url="{root}api/bundles/{quote(d['name'])}/{quote(d['version'])}" data-home="{root}"
 onclick="removeBundle(this)">Delete {esc(d['tag'])}</button></p>
<p id="delete-result" class="muted"></p></section>
<section id="apis"><h2>APIs</h2><table><thead><tr><th>Name</th><th>Route</th><th>Types</th>
<th></th><th>Doc</th></tr></thead><tbody>{apis}</tbody></table></section>
<section id="artifacts"><h2>Artifacts</h2><table><thead><tr><th>Name</th><th>Type</th>
<th>Framework</th><th>Version</th><th>Size</th></tr></thead><tbody>{arts}</tbody></table>
</section>
{models}
<section id="env"><h2>Environment</h2>
<p>pip packages: {esc(', '.join(env['pip_packages'])) or '<span class="muted">none</span>'}
</p><p>base image: {esc(env['docker_base_image'] or 'default')} &middot; setup script:
{esc(env['setup_sh'] or 'none')}</p>
<h3>Pinned requirements</h3><pre id="requirements">{esc(chr(10).join(d['requirements']))}
</pre></section>
<section id="source"><h2>Service source</h2>
<pre class="src">{highlight_python(d['source'])}</pre></section>
<section id="readme"><h2>README</h2><pre>{esc(d['readme'])}</pre></section>"""
    return _page(f"{d['tag']} - bentonb", body, _DETAIL_SCRIPT)
