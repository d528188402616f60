"""The HTTP side of bentonb: the Tornado app, micro-batching, docs and metrics.

Importing this package imports nothing heavy; the Tornado app lives in
:mod:`bentonb.server.app`.
"""
