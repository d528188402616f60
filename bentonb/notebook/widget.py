"""The inline widget shown by ``%bento_serve``: try the APIs, containerize, stop, and
watch the last minute of requests (:mod:`bentonb.notebook.live_panel`).

Buttons do their work on background threads; those threads update the output
areas only through ``append_stdout`` / ``append_display_data`` (never ``with
out:``, which is not safe from a thread).
"""

from __future__ import annotations

import html
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets

from bentonb.notebook.live_panel import LivePanel


def _pretty(text: str, indent: int | None = 2) -> str:
    """JSON text re-indented (one line with ``indent=None``); other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=indent, ensure_ascii=False)
    except ValueError:
        return text


def _is_error(line: str) -> bool:
    """True for the line a JSON-lines stream ends with on an error (server/streaming.py
    writes exactly ``{"error": ..., "request_id": ...}``)."""
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"error", "request_id"}


def stream_events(lines: Any, sse: bool) -> Iterator[tuple[str, str]]:
    """(event, data) for each item of a streamed answer's raw lines, as each completes:
    Server-Sent Events (``event:``/``data:`` lines, a blank line ends one) or JSON
    lines (the server's ``{"error": ..., "request_id": ...}`` line is the error
    event). Kept here rather than taken from bentonb.client, which needs httpx."""
    event, data = "message", []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not sse:
            if line:
                yield ("error" if _is_error(line) else "message"), line
            continue
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            event = value
        elif key == "data":
            data.append(value)


class ServingWidget:
    """Widgets bound to one :class:`ServingHandle`; ``.box`` is what is displayed."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        service = handle.service
        apis = [a.name for a in service.inference_apis]
        self.header = widgets.HTML(self._header_html())
        self.live_note = widgets.HTML()
        self.api = widgets.Dropdown(options=apis, description="API")
        self.body = widgets.Textarea(layout=widgets.Layout(width="100%", height="6em"))
        self.upload = widgets.FileUpload(description="Upload file", multiple=False)
        self.predict = widgets.Button(description="Predict", button_style="primary",
                                      icon="play")
        self.containerize = widgets.Button(description="Containerize", icon="cube")
        self.stop = widgets.Button(description="Stop", button_style="danger", icon="stop")
        self.curl = widgets.HTML()
        self.status = widgets.HTML()
        self.answer = widgets.Output(layout=widgets.Layout(border="1px solid #ddd"))
        self.log = widgets.Output(layout=widgets.Layout(max_height="20em", overflow="auto"))
        self.live = LivePanel(handle.request_window(), lambda: handle.running)
        self.api.observe(lambda _: self._select_api(), names="value")
        self.predict.on_click(lambda _: self._start(self._predict))
        self.containerize.on_click(lambda _: self._start(self._containerize))
        self.stop.on_click(lambda _: self._stop())
        self._select_api()
        self.box = widgets.VBox([
            self.header, self.live_note, self.api, self.body, self.upload, self.curl,
            widgets.HBox([self.predict, self.containerize, self.stop]),
            self.status, self.answer, self.live.html, self.log,
        ])
        self.threads: list[threading.Thread] = []

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def wait(self, timeout: float = 60) -> None:
        """Wait for the buttons' background work (for scripts and tests)."""
        for thread in self.threads:
            thread.join(timeout)

    def _header_html(self) -> str:
        h = self.handle
        rows = [("service", h.service.tag or h.name), ("local URL", h.url)]
        if h.public_url:
            rows.append(("public URL", h.public_url))
        if h.api_key:
            rows.append(("API key", h.api_key))
        cells = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td><code>{html.escape(v)}"
                        f"</code></td></tr>" for k, v in rows)
        return f"<table>{cells}</table>"

    def _current_api(self) -> Any:
        return self.handle.service.get_inference_api(self.api.value)

    def _select_api(self) -> None:
        api = self._current_api()
        self.body.value = api.input_adapter.example()
        takes_files = api.input_adapter.accepts_files
        self.upload.layout.display = None if takes_files else "none"
        self.body.layout.display = "none" if takes_files else None
        command = html.escape(self.handle.curl(api.name))
        key = ", api_key=..." if self.handle.api_key else ""
        python = html.escape(f"bentonb.Client({self.handle.public_url or self.handle.url!r}"
                             f"{key}).{api.name}(...)")
        self.curl.value = (f"<p>From a shell: <code>{command}</code><br>"
                           f"From Python: <code>{python}</code></p>")

    def _start(self, work: Any) -> threading.Thread:
        thread = threading.Thread(target=work, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def _request(self) -> urllib.request.Request:
        api = self._current_api()
        headers = dict(self.handle.headers())
        if api.input_adapter.accepts_files:
            if not self.upload.value:
                raise ValueError("choose a file to upload first")
            item = self.upload.value[0]
            data = bytes(item["content"])
            headers["Content-Type"] = item.get("type") or "application/octet-stream"
        else:
            data = self.body.value.encode("utf-8")
            headers["Content-Type"] = api.input_adapter.media_types[0]
        self.handle.last_request[api.name] = (data, headers["Content-Type"])
        return urllib.request.Request(f"{self.handle.url}/{api.route}", data=data,
                                      headers=headers, method="POST")

    def _predict(self) -> None:
        # Setting the trait clears the area from this thread; clear_output() would
        # enter the widget's context (``with out:``), which is not thread-safe.
        self.answer.outputs = ()
        try:
            request = self._request()
        except ValueError as exc:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        start = time.perf_counter()
        if getattr(self._current_api(), "streaming", False):
            request.add_header("Accept", "text/event-stream")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
                media = response.headers.get("Content-Type", "")
                if "event-stream" in media or "ndjson" in media:
                    self._show_stream(response, media, start)
                    return
                body = response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            self.status.value = f"<span style='color:#b00'>request failed: {exc}</span>"
            return
        ms = (time.perf_counter() - start) * 1000
        color = "#080" if status < 400 else "#b00"
        self.status.value = f"<span style='color:{color}'>HTTP {status}</span> in {ms:.1f} ms"
        self.answer.append_stdout(_pretty(body.decode("utf-8", "replace")) + "\n")

    def _show_stream(self, response: Any, media: str, start: float) -> None:
        """Append each item of a streamed answer to the answer area as it arrives (one
        JSON line each); the status counts them. An error the server sends mid-stream
        ends the stream and is shown in red."""
        count = 0
        self.status.value = "<span style='color:#080'>HTTP 200</span> streaming ..."
        # iterating the response reads one line at a time, as the server flushes them
        for kind, data in stream_events(response, "event-stream" in media):
            ms = (time.perf_counter() - start) * 1000
            if kind == "error":
                self.answer.append_stdout(f"error: {_pretty(data, indent=None)}\n")
                self.status.value = (f"<span style='color:#b00'>HTTP 200, the stream ended "
                                     f"with an error</span> after {count} items in "
                                     f"{ms:.1f} ms")
                return
            count += 1
            self.answer.append_stdout(_pretty(data, indent=None) + "\n")
            self.status.value = (f"<span style='color:#080'>HTTP 200</span> streaming: "
                                 f"{count} items in {ms:.1f} ms")
        ms = (time.perf_counter() - start) * 1000
        self.status.value = (f"<span style='color:#080'>HTTP 200</span> in {ms:.1f} ms, "
                             f"{count} items streamed")

    def _containerize(self) -> None:
        from bentonb.container import ContainerEngineUnavailable, containerize

        self.containerize.disabled = True
        try:
            bundle = self.handle.service.bundle_path
            if bundle is None:
                self.log.append_stdout("save the service first (svc.save() or %bento_pack); "
                                       "an image is built from a saved bundle\n")
                return
            self.log.append_stdout(f"containerizing {self.handle.service.tag} ...\n")
            image = containerize(bundle, log=lambda line: self.log.append_stdout(line + "\n"))
            self.log.append_stdout(f"done: {image.run_command}\n")
        except ContainerEngineUnavailable as exc:
            self.log.append_stdout(f"{exc}\n")
        except Exception as exc:  # noqa: BLE001 - shown to the user, not raised in a thread
            self.log.append_stdout(f"containerize failed: {exc}\n")
        finally:
            self.containerize.disabled = False

    def swapped(self, line: str) -> None:
        """A new version is served: show ``line``, its header and its APIs."""
        self.live_note.value = f"<b style='color:#080'>{html.escape(line)}</b>"
        self.header.value = self._header_html()
        apis = [a.name for a in self.handle.service.inference_apis]
        if list(self.api.options) != apis:
            keep = self.api.value if self.api.value in apis else apis[0]
            self.api.options = apis
            self.api.value = keep
        self._select_api()

    def stopped(self) -> None:
        """The server stopped (from any cell or button): nothing here works any more."""
        for button in (self.predict, self.containerize, self.stop):
            button.disabled = True
        self.live.stop()

    def _stop(self) -> None:
        self.handle.stop()
        for button in (self.predict, self.containerize, self.stop):
            button.disabled = True
        self.status.value = f"stopped; {html.escape(self.handle.url)} is free again"
