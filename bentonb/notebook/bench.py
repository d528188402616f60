"""``%bento_bench``: closed-loop load on a served API from a separate process
(:mod:`bentonb.notebook.loadgen`), as a table, a plot when matplotlib is installed,
and a pandas DataFrame.

Everything the user typed is checked here and refused with an
:class:`InvalidArgument` that names the flag and what would be right.
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bentonb.errors import BentonbError, InvalidArgument
from bentonb.notebook import handle as handles

MAX_CONCURRENCY = 1024
MAX_DURATION = 300.0


@dataclass
class BenchTarget:
    """What to load: the API's URL, the body, its media type, the key, a label."""

    url: str
    body: bytes
    content_type: str
    api_key: str | None
    label: str


def parse_concurrency(text: str) -> list[int]:
    """``"1,8,32"`` as ``[1, 8, 32]``; each 1..MAX_CONCURRENCY."""
    try:
        levels = [int(x) for x in text.split(",")]
    except ValueError:
        raise InvalidArgument(f"--concurrency {text!r} is not a list of client counts; "
                              "write e.g. 1,8,32") from None
    bad = [n for n in levels if not 1 <= n <= MAX_CONCURRENCY]
    if bad:
        raise InvalidArgument(f"--concurrency {bad[0]} is out of range; each count must be "
                              f"1 to {MAX_CONCURRENCY}")
    return levels


def check_duration(seconds: float) -> float:
    if not 0 < seconds <= MAX_DURATION:
        raise InvalidArgument(f"--duration {seconds:g} is out of range; give seconds per "
                              f"point, more than 0 and at most {MAX_DURATION:g}")
    return seconds


def _read_data(data: str) -> tuple[bytes, str | None]:
    """``--data``: inline text, or ``@path`` for a file's bytes (and its media type)."""
    if not data.startswith("@"):
        return data.encode("utf-8"), None
    path = Path(data[1:]).expanduser()
    if not path.is_file():
        raise InvalidArgument(f"--data {data}: no file {path}; give @PATH of an existing file "
                              "or the body itself")
    return path.read_bytes(), mimetypes.guess_type(path.name)[0]


def _served(target: str, namespace: dict[str, Any]) -> handles.ServingHandle | None:
    """The handle serving a name, a tag, or a service class or instance variable."""
    value = namespace.get(target)
    if isinstance(value, type):
        name = value.__name__
    elif value is not None and hasattr(value, "inference_apis"):
        name = value.name
    else:
        name = target.split(":")[0]
    return handles.RUNNING.get(name)


def resolve(target: str, namespace: dict[str, Any], api: str | None,
            data: str | None) -> BenchTarget:
    """The URL, body and key to load for ``%bento_bench TARGET [--api] [--data]``."""
    handle, route = None, None
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        base = f"{parts.scheme}://{parts.netloc}"
        route = parts.path.strip("/") or None
        handle = next((h for h in handles.RUNNING.values()
                       if base in (h.url, h.public_url)), None)
    else:
        handle = _served(target, namespace)
        if handle is None:
            serving = ", ".join(handles.RUNNING) or "none"
            raise InvalidArgument(f"{target} is not served by this kernel (serving: {serving});"
                                  f" %bento_serve it first, or give its URL")
        base = handle.url
    body, media = _read_data(data) if data is not None else (None, None)
    if handle is None or not handle.running:
        if route is None and api is None:
            raise InvalidArgument(f"say which API of {target} to load: --api NAME, or put "
                                  "the route in the URL")
        if body is None:
            raise InvalidArgument(f"{target} is not served by this kernel, so its example "
                                  "input is unknown; give --data JSON or --data @FILE")
        return BenchTarget(f"{base}/{api or route}", body, media or "application/json",
                           None, target)
    service = handle.service
    if api is None and route is not None:
        match = [a for a in service.inference_apis if a.route == route]
        api = match[0].name if match else route
    spec = service.get_inference_api(api) if api else service.inference_apis[0]
    adapter = spec.input_adapter
    content_type = media if media and adapter.accepts_files else adapter.media_types[0]
    if body is None and spec.name in handle.last_request:
        body, content_type = handle.last_request[spec.name]  # what the widget sent last
    if body is None:
        if adapter.accepts_files:
            raise InvalidArgument(f"API '{spec.name}' takes files; give one with --data @PATH "
                                  "or send one from the widget first")
        body = adapter.example().encode("utf-8")
    return BenchTarget(f"{handle.url}/{spec.route}", body, content_type, handle.api_key,
                       f"{service.tag or service.name} /{spec.route}")


def run_loadgen(target: BenchTarget, levels: list[int], duration: float) -> list[dict]:
    """Run the load generator in a child process; its results, one dict per level."""
    with tempfile.NamedTemporaryFile(suffix=".body", delete=False) as f:
        f.write(target.body)
    env = {**os.environ}
    env.pop("BENTONB_API_KEY", None)
    if target.api_key:
        env["BENTONB_API_KEY"] = target.api_key
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bentonb.notebook.loadgen", "--url", target.url,
             "--concurrency", ",".join(map(str, levels)), "--duration", str(duration),
             "--body-file", f.name, "--content-type", target.content_type],
            capture_output=True, text=True, env=env,
            timeout=len(levels) * (duration + 60) + 30)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise BentonbError(f"the load generator failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def results_frame(rows: list[dict]) -> Any:
    """The results as a DataFrame indexed by concurrency."""
    import pandas as pd

    columns = ["concurrency", "req_per_s", "p50_ms", "p99_ms", "requests", "errors"]
    return pd.DataFrame([{c: r[c] for c in columns} for r in rows]).set_index("concurrency")


def plot_png(frame: Any, title: str) -> bytes | None:
    """Throughput and latency against concurrency as a PNG; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(8, 3))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    left.plot(frame.index, frame["req_per_s"], marker="o")
    left.set(xlabel="concurrency", ylabel="requests/s", xscale="log")
    right.plot(frame.index, frame["p50_ms"], marker="o", label="p50")
    right.plot(frame.index, frame["p99_ms"], marker="o", label="p99")
    right.set(xlabel="concurrency", ylabel="ms", xscale="log")
    right.legend()
    figure.suptitle(title)
    figure.tight_layout()
    buf = io.BytesIO()
    figure.savefig(buf, format="png")
    return buf.getvalue()
