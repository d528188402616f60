"""``%load_ext bentonb``: ``%%bento_service``, ``%bento_pack``, ``%bento_serve``,
``%bento_bench`` and ``%bento_store``.

Every error is a one-line ``UsageError`` that says how to fix the call. This module
declares the magics (names, flags, help) and parses their lines; what each one does
lives in one module per magic: :mod:`~bentonb.notebook.define`
(``%%bento_service``), :mod:`~bentonb.notebook.pack`, :mod:`~bentonb.notebook.serve_magic`,
:mod:`~bentonb.notebook.bench` and :mod:`~bentonb.notebook.store_widget`. It must never
be imported below the notebook layer and never imports the CLI.
"""

from __future__ import annotations

import functools
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from bentonb.errors import BentonbError, did_you_mean
from bentonb.tags import parse_labels


def _usage_errors(method: Any) -> Any:
    """Turn bentonb's errors into one-line UsageErrors (no traceback in the notebook)."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BentonbError as exc:
            raise UsageError(str(exc)) from None
    return wrapper


@magics_class
class BentonbMagics(Magics):
    """The notebook side of bentonb."""

    def _lookup(self, name: str, what: str) -> Any:
        ns = self.shell.user_ns
        if name not in ns:
            visible = [k for k in ns if not k.startswith("_")]
            raise UsageError(f"no variable '{name}' in the notebook{did_you_mean(name, visible)}"
                             f"; run the cell that defines the {what} first")
        return ns[name]

    @cell_magic
    @_usage_errors
    def bento_service(self, line: str, cell: str) -> None:
        """Run the cell and record its source for each BentoService subclass and each
        ``@bentonb.service`` class it defines, so that saved bundles can be loaded where
        the notebook never ran; a served service the cell redefines (1.x ones, a
        ``bentonb.Service`` bound to a name, included) is swapped in."""
        from bentonb.notebook.define import define_services

        define_services(self.shell, line, cell)

    @magic_arguments()
    @argument("service", help="A service class or instance in the notebook.")
    @argument("models", nargs="*", help="artifact=variable pairs.")
    @argument("--version", help="Version to save as (default: time stamp + random).")
    @argument("--labels", help="Labels: k=v,k2=v2.")
    @argument("--dir", help="Save to this directory instead of the store.")
    @line_magic
    @_usage_errors
    def bento_pack(self, line: str) -> Any:
        """%bento_pack SERVICE name=var [name2=var2 ...] [--version V] [--labels k=v,...]
        [--dir PATH]: pack notebook variables into SERVICE, save it, return the service."""
        from bentonb.notebook.pack import pack_and_save

        args = parse_argstring(self.bento_pack, line)
        return pack_and_save(args, self._lookup)

    @magic_arguments()
    @argument("target", nargs="?", help="A tag (Svc:latest), a bundle path, or a packed "
                                        "service variable.")
    @argument("--port", type=int, default=5000, help="Port (the next free one if taken).")
    @argument("--host", default="127.0.0.1")
    @argument("--ngrok", action="store_true", help="Open a public URL with ngrok.")
    @argument("--ngrok-token", help="ngrok auth token (default: $NGROK_AUTHTOKEN).")
    @argument("--api-key", default="auto",
              help="auto (a key when public), a key of your own, or none.")
    @argument("--mb-max-batch-size", type=int)
    @argument("--mb-max-latency", type=float, help="ms")
    @argument("--allow-host", action="append", default=[],
              help="Also answer requests whose Host is this (repeatable).")
    @argument("--cors-origin", action="append", default=[],
              help="Let browser pages of this origin call the server (repeatable).")
    @argument("--timeout", type=float, default=60.0, help="Seconds to answer (else 504).")
    @argument("--max-concurrency", type=int, help="Calls of a non-batch API at once.")
    @argument("--max-queue", type=int, help="Requests of a non-batch API waiting.")
    @argument("--max-request-size", type=float, default=20, help="Largest body in MB.")
    @argument("--max-image-pixels", type=int, help="Largest image (width x height).")
    @argument("--no-widget", action="store_true")
    @argument("--no-live", action="store_true",
              help="Do not swap in a re-run %%%%bento_service cell or %%bento_pack.")
    @argument("--ray", action="store_true",
              help="Deploy on Ray Serve (a local Ray on loopback unless ray.init was called).")
    @argument("--replicas", type=int, default=1, help="With --ray: Serve replicas.")
    @argument("--stop", action="store_true", help="Stop TARGET (a service name), or all.")
    @argument("--list", action="store_true", help="List what this kernel serves.")
    @line_magic
    @_usage_errors
    def bento_serve(self, line: str) -> Any:
        """%bento_serve TARGET [--port P] [--ngrok] [--api-key auto|KEY|none] ...: serve on a
        background thread and return a handle (.url, .public_url, .stop())."""
        from bentonb.notebook.serve_magic import serve

        args = parse_argstring(self.bento_serve, line)
        return serve(self.shell, args)

    @magic_arguments()
    @argument("target", help="A served service (name, tag or variable) or an API's URL.")
    @argument("--api", help="The API to load (default: the first).")
    @argument("--concurrency", default="1,8,32", help="Clients per point, e.g. 1,8,32.")
    @argument("--duration", type=float, default=2.0, help="Seconds per point.")
    @argument("--data", help="The request body (JSON text) or @FILE (default: the API's "
                             "example input).")
    @line_magic
    @_usage_errors
    def bento_bench(self, line: str) -> Any:
        """%bento_bench SVC|URL [--api NAME] [--concurrency 1,8,32] [--duration S]
        [--data JSON|@FILE]: closed-loop load from a separate process; shows req/s, p50,
        p99 and errors per concurrency (and a plot with matplotlib), returns a DataFrame."""
        from IPython.display import Image, display

        from bentonb.notebook import bench

        args = parse_argstring(self.bento_bench, line)
        levels = bench.parse_concurrency(args.concurrency)
        duration = bench.check_duration(args.duration)
        target = bench.resolve(args.target, self.shell.user_ns, args.api, args.data)
        rows = bench.run_loadgen(target, levels, duration)
        frame = bench.results_frame(rows)
        print(f"{target.label}: {duration:g} s per point, closed loop from a separate process")
        print(frame.to_string())
        first_error = next((r["first_error"] for r in rows if r["first_error"]), None)
        if first_error:
            print(f"first error: {first_error}")
        png = bench.plot_png(frame, target.label)
        if png is not None:
            display(Image(data=png, format="png"))
        return frame

    @magic_arguments()
    @argument("name", nargs="?", default="", help="Only bundles whose name contains this.")
    @argument("--labels", default="", help="Only bundles with these labels: k=v,k2=v2.")
    @line_magic
    @_usage_errors
    def bento_store(self, line: str) -> Any:
        """%bento_store [NAME] [--labels k=v]: the bundle store as a table with buttons to
        show, serve or delete a version; returns the widget's state (``.refresh()``)."""
        from IPython.display import display

        from bentonb.notebook.store_widget import StoreTable

        args = parse_argstring(self.bento_store, line)
        parse_labels(args.labels)  # a bad filter is a UsageError before anything shows
        table = StoreTable(name=args.name, labels=args.labels)
        display(table.widget)
        return table


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(BentonbMagics)
