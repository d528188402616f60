"""What every API description shares, whichever API generation wrote it: the routes
the server keeps for itself, the route grammar, and the default batching bounds."""

from __future__ import annotations

from bentonb.errors import InvalidArgument

#: Routes the server answers itself; an API may not take them.
RESERVED_ROUTES = frozenset({
    "", "docs", "docs.json", "openapi.json", "healthz", "livez", "readyz", "metrics",
    "metadata", "static", "favicon.ico", "ui",
})
DEFAULT_MB_MAX_BATCH_SIZE = 1000
DEFAULT_MB_MAX_LATENCY_MS = 10_000


def check_route(route: str | None, name: str) -> str:
    """The API's route without slashes, refused when the server owns it or it has odd characters."""
    api_route = (route if route is not None else name).strip("/")
    if api_route.split("/")[0] in RESERVED_ROUTES:
        raise InvalidArgument(
            f"route '/{api_route}' of API '{name}' is reserved by the server "
            f"(reserved: {', '.join(sorted(r for r in RESERVED_ROUTES if r))}); "
            "pick another api_name= or route="
        )
    if not all(part and all(c.isalnum() or c in "-_." for c in part)
               for part in api_route.split("/")):
        raise InvalidArgument(f"route {route!r} of API '{name}' may hold letters, digits, "
                              "'-', '_', '.' and '/' only")
    return api_route
