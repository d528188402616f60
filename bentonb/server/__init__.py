"""The HTTP side of bentonb: one Tornado application serving one service.

By job: ``app`` (configuration and the application factory), ``handlers`` and
``predict`` (the routes), ``guards`` (Host, Origin, request ids), ``runtime``
(the loaded service and shared state), ``batching`` and ``direct`` (how requests
wait for the model), ``connections``, ``runner``, ``workers`` and ``thread``
(serving as a process, as worker processes, or from a thread), ``logs``,
``metrics``, ``openapi``, ``pages``. Nothing here imports notebook/ or the CLI.
Importing this package imports nothing heavy.
"""
