"""``%load_ext bentonb``: ``%%bento_service``, ``%bento_pack``, ``%bento_serve``,
``%bento_bench`` and ``%bento_store``.

Every error is a one-line ``UsageError`` that says how to fix the call.
"""

from __future__ import annotations

import functools
from typing import Any

from IPython.core.error import UsageError
from IPython.core.inputtransformer2 import TransformerManager
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


def _serve_on_ray(target: Any, args: Any) -> str:
    """``%bento_serve TARGET --ray``: the bundle (an unsaved service is saved first)
    deployed on Ray Serve with the magic's server flags; the URL."""
    from bentonb.ray import require_ray, run, start_local
    from bentonb.server.app import MB, ServerConfig, choose_api_key

    ray = require_ray()
    url = f"http://127.0.0.1:{args.port}"
    if not ray.is_initialized():
        url = start_local(port=args.port)
    key = choose_api_key(args.api_key, public=False)
    config = ServerConfig(host=args.host, port=args.port, api_key=key, timeout=args.timeout,
                          mb_max_batch_size=args.mb_max_batch_size,
                          mb_max_latency=args.mb_max_latency,
                          max_concurrency=args.max_concurrency, max_queue=args.max_queue,
                          max_request_size=int(args.max_request_size * MB),
                          max_image_pixels=args.max_image_pixels,
                          allow_hosts=tuple(args.allow_host),
                          cors_origins=tuple(args.cors_origin))
    run(target, config=config, num_replicas=args.replicas)
    print(f"serving on Ray Serve at {url} ({args.replicas} replicas); docs: {url}/docs; "
          "stop: from ray import serve; serve.shutdown()")
    return url


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
        from bentonb.bundle.source import record_service_source
        from bentonb.sdk import Service, is_service_class
        from bentonb.service import BentoService

        if line.strip():
            raise UsageError("%%bento_service takes no arguments")
        source = TransformerManager().transform_cell(cell)
        if "get_ipython()" in source:
            raise UsageError("a %%bento_service cell must be plain Python: move magics and "
                             "!shell commands to another cell")
        ns = self.shell.user_ns
        before = dict(ns)  # what each name meant (compared by identity)
        result = self.shell.run_cell(cell, store_history=False, silent=False)
        if not result.success:
            return  # the traceback is shown; a served version keeps serving
        new = {k: v for k, v in ns.items() if before.get(k) is not v}
        defined = [v for v in new.values()
                   if isinstance(v, type) and issubclass(v, BentoService)
                   and v is not BentoService and f"class {v.__name__}" in source]
        # 1.x: a @bentonb.service class defined here, or a bentonb.Service bound here.
        classes_1x = [v for v in new.values() if isinstance(v, type) and is_service_class(v)
                      and f"class {v.__name__}" in source]
        services_1x = [v for v in new.values() if isinstance(v, Service)]
        if not (defined or classes_1x or services_1x):
            raise UsageError("the cell defines no BentoService subclass, bentonb.Service or "
                             "@bentonb.service class; %%bento_service is for the cell with "
                             "`class MyService(bentonb.BentoService)` or a 1.x service")
        for cls in defined + classes_1x:
            record_service_source(cls, source)
        self._swap_edited(defined, before)
        self._swap_edited_1x(classes_1x + services_1x)

    def _swap_edited(self, classes: list[type], before: dict[str, Any]) -> None:
        """Serve the new version of each class this kernel serves live."""
        from bentonb.notebook import live

        for cls in classes:
            handle = live.live_handle(cls.__name__)
            if handle is None:
                continue
            service = (live.repacked_instance(cls, self.shell.user_ns, before)
                       or live.rebuild(cls, handle.service))
            print(live.swap_in(handle, service, "edited"))

    def _swap_edited_1x(self, services: list[Any]) -> None:
        """Serve the new version of each 1.x service this kernel serves live; a class
        is instantiated again (its ``__init__`` loads the models from the store)."""
        from bentonb.notebook import live
        from bentonb.notebook.handle import resolve_service

        for target in services:
            name = getattr(target, "name", None) or _service_class_name(target)
            handle = live.live_handle(name)
            if handle is None:
                continue
            try:
                service = resolve_service(target)
            except Exception as exc:  # noqa: BLE001 - e.g. the class's __init__ raised
                raise UsageError(f"could not build the new {name}: {type(exc).__name__}: "
                                 f"{exc} (still serving the previous version)") from None
            print(live.swap_in(handle, service, "edited"))

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
        from bentonb.sdk import Service, is_service_class
        from bentonb.service import BentoService

        args = parse_argstring(self.bento_pack, line)
        target = self._lookup(args.service, "service")
        if isinstance(target, Service) or is_service_class(target):
            raise UsageError(f"'{args.service}' is a 1.x service: it needs no pack, its models "
                             f"are in the model store (bentonb.<framework>.save_model); serve "
                             f"it with %bento_serve {args.service}, or make a bundle with "
                             "`bentonb build`")
        if isinstance(target, type) and issubclass(target, BentoService):
            service = target()
        elif isinstance(target, BentoService):
            service = target
        else:
            raise UsageError(f"'{args.service}' is a {type(target).__name__}, not a "
                             "BentoService class or instance")
        if not args.models and any(not a.is_packed for a in service.artifacts):
            names = ", ".join(f"{a.name}=VARIABLE" for a in service.artifacts)
            raise UsageError(f"say which variable goes in each artifact: %bento_pack "
                             f"{args.service} {names}")
        for pair in args.models:
            name, sep, var = pair.partition("=")
            if not sep or not name or not var:
                raise UsageError(f"'{pair}' is not artifact=variable (e.g. model=clf)")
            service.pack(name, self._lookup(var, "model"))
        labels = parse_labels(args.labels)
        if args.dir:
            path = service.save_to_dir(args.dir, version=args.version, labels=labels)
        else:
            path = service.save(version=args.version, labels=labels)
        print(f"saved {service.tag} to {path}")
        from bentonb.notebook import live

        handle = live.live_handle(service.name)
        if handle is not None:
            print(live.swap_in(handle, service, "packed"))
        return service

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
        from bentonb.notebook import handle as handles

        args = parse_argstring(self.bento_serve, line)
        if args.list:
            rows = [h.summary() for h in handles.RUNNING.values()]
            for row in rows:
                public = f"  public {row['public_url']}" if row["public_url"] else ""
                print(f"{row['service']}  {row['url']}{public}")
            if not rows:
                print("nothing is being served")
            return None
        if args.stop:
            stopped = handles.stop(args.target.split(":")[0] if args.target else None)
            print(f"stopped {', '.join(stopped) if stopped else 'nothing (none was serving)'}")
            return None
        if not args.target:
            raise UsageError("say what to serve: %bento_serve IrisClassifier:latest (a tag, a "
                             "bundle path or a packed service variable)")
        if args.port is not None and not 0 <= args.port <= 65535:
            raise UsageError(f"--port {args.port} is not a port number (0-65535)")
        for flag in ("mb_max_batch_size", "mb_max_latency"):
            value = getattr(args, flag)
            if value is not None and value <= 0:
                raise UsageError(f"--{flag.replace('_', '-')} must be positive")
        target = self.shell.user_ns.get(args.target, args.target)
        if args.ray:
            return _serve_on_ray(target, args)
        handle = handles.serve(target, port=args.port, host=args.host, ngrok=args.ngrok,
                               ngrok_token=args.ngrok_token, api_key=args.api_key,
                               mb_max_batch_size=args.mb_max_batch_size,
                               mb_max_latency=args.mb_max_latency,
                               allow_host=args.allow_host, cors_origin=args.cors_origin,
                               timeout=args.timeout, max_concurrency=args.max_concurrency,
                               max_queue=args.max_queue,
                               max_request_size=args.max_request_size,
                               max_image_pixels=args.max_image_pixels)
        handle.live = not args.no_live
        self._announce(handle)
        if not args.no_widget:
            from IPython.display import display

            display(handle.widget())
            handle.displayed_in = self.shell.execution_count
        return handle

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

    @staticmethod
    def _announce(handle: Any) -> None:
        if handle.notice:
            print(handle.notice)
        print(f"serving {handle.service.tag or handle.name} at {handle.url} "
              f"(docs {handle.url}/docs)")
        if handle.public_url:
            print(f"public URL: {handle.public_url}")
        if handle.api_key:
            print(f"API key: {handle.api_key}")
        print(handle.curl())


def _service_class_name(cls: type) -> str:
    """The served name of a ``@bentonb.service`` class (its options' name)."""
    from bentonb.sdk.classes import SERVICE_MARK

    return getattr(cls, SERVICE_MARK).name


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(BentonbMagics)
