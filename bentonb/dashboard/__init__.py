"""The store, seen: a web dashboard over the bundle store.

``catalog`` (what the store holds, as plain data: shared by every face),
``pages`` and ``highlight`` (the HTML), ``handlers`` (the routes as mixins),
``app`` (the standalone server of ``bentonb yatai-service-start``) and
``jupyter`` (the same routes inside Jupyter Server, under ``<base_url>bentonb/``).
It sits beside :mod:`bentonb.server` and may use its guards and page style; it
never imports notebook/ or the CLI. Importing this package imports nothing heavy.
"""
