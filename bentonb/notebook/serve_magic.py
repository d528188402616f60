"""``%bento_serve``: serve a tag, a bundle or a notebook service from the kernel (or on
Ray Serve), list and stop what the kernel serves.

Owns what the magic does with its parsed flags; the flags themselves and their
help are declared on the magic in :mod:`bentonb.notebook.magics`. Must never be
imported below the notebook layer (it raises IPython's ``UsageError``) and never
imports the CLI.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError


def serve(shell: Any, args: Any) -> Any:
    """Carry out ``%bento_serve`` with its parsed ``args``; the handle, or None for
    ``--list`` and ``--stop``."""
    from bentonb.notebook import handle as handles

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
    target = shell.user_ns.get(args.target, args.target)
    if args.ray:
        return serve_on_ray(target, args)
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
    announce(handle)
    if not args.no_widget:
        from IPython.display import display

        display(handle.widget())
        handle.displayed_in = shell.execution_count
    return handle


def serve_on_ray(target: Any, args: Any) -> str:
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
    replicas = f"{args.replicas} replica{'s' if args.replicas > 1 else ''}"
    print(f"serving on Ray Serve at {url} ({replicas}); docs: {url}/docs; "
          "stop: from ray import serve; serve.shutdown()")
    return url


def announce(handle: Any) -> None:
    """Print where a service is served, its key and a curl line to call it."""
    if handle.notice:
        print(handle.notice)
    print(f"serving {handle.service.tag or handle.name} at {handle.url} "
          f"(docs {handle.url}/docs)")
    if handle.public_url:
        print(f"public URL: {handle.public_url}")
    if handle.api_key:
        print(f"API key: {handle.api_key}")
    print(handle.curl())
