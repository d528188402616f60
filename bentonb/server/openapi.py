"""The OpenAPI 3.0 document of a service, built from its adapters.

3.0 rather than 3.1 because the bundled Swagger UI renders 3.0; pydantic's
JSON Schema is converted (``anyOf [X, null]`` becomes ``nullable``, ``const``
becomes a one-value ``enum``, nested ``$defs`` move to ``components``). It
never imports tornado, the handlers, notebook/ or the CLI.
"""

from __future__ import annotations

import copy
from typing import Any

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "request_id": {"type": "string"}},
    "required": ["error"],
}
_ERRORS = {
    "400": "The request body cannot be read as this API's input.",
    "413": "The request body is larger than the server accepts.",
    "415": "The Content-Type is not one this API reads.",
    "500": "The API function raised; the traceback is in the server log.",
    "503": "The server is overloaded; retry after the Retry-After header's seconds.",
}

#: How a streaming API answers, as its description says.
STREAMING_NOTE = ("each item is sent as the API function yields it, as JSON lines "
                  "(application/x-ndjson), or as Server-Sent Events with "
                  "'Accept: text/event-stream'; an error after the first item ends the "
                  "stream with an error event.")


def to_openapi30(schema: Any) -> Any:
    """Convert a JSON Schema (as pydantic writes it) to an OpenAPI 3.0 schema object."""
    if isinstance(schema, list):
        return [to_openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_openapi30(v) for k, v in schema.items()
           if k not in ("$defs", "const", "examples", "prefixItems", "$schema")}
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if schema.get("examples"):
        out["example"] = schema["examples"][0]
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                out.update(rest[0])
            else:
                out[key] = rest
            out["nullable"] = True
    if out.get("type") == "null":
        out.pop("type")
        out["nullable"] = True
    return out


def _hoist_defs(content: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic ``$defs`` into ``components.schemas`` (where their refs point)."""
    content = copy.deepcopy(content)
    for media in content.values():
        schema = media.get("schema", {})
        schemas.update({k: to_openapi30(v) for k, v in schema.pop("$defs", {}).items()})
        media["schema"] = to_openapi30(schema)
    return content


def openapi_spec(service: Any) -> dict[str, Any]:
    """Return the OpenAPI 3.0 document for every API of ``service``."""
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths: dict[str, Any] = {}
    for api in service.inference_apis:
        doc = api.doc or f"{api.name}: {api.input_adapter.type_name} in, " \
                         f"{api.output_adapter.type_name} out."
        content = _hoist_defs(api.output_adapter.openapi_response(), schemas)
        streaming = bool(getattr(api, "streaming", False))
        if streaming:
            doc = f"{doc}\n\nStreams; not micro-batched: {STREAMING_NOTE}"
            item = next(iter(content.values()), {}).get("schema", {})
            content = {"application/x-ndjson": {"schema": item},
                       "text/event-stream": {"schema": {"type": "string"}}}
        responses = {"200": {"description": "The stream of items." if streaming
                             else "The prediction.", "content": content}}
        responses.update({code: {"description": text, "content": error_content}
                          for code, text in _ERRORS.items()})
        paths[f"/{api.route}"] = {"post": {
            "operationId": api.name,
            "summary": doc.splitlines()[0],
            "description": doc,
            "tags": ["APIs"],
            "requestBody": {"required": True,
                            "content": _hoist_defs(api.input_adapter.openapi_request(), schemas)},
            "responses": responses,
            **({"x-bentonb-streaming": True} if streaming else {}),
        }}
    for route, text in [("healthz", "Liveness and readiness."), ("livez", "Liveness."),
                        ("readyz", "Readiness: the models are loaded.")]:
        paths[f"/{route}"] = {"get": {"operationId": route, "summary": text, "tags": ["Infra"],
                                      "responses": {"200": {"description": "OK"}}}}
    paths["/metadata"] = {"get": {"operationId": "metadata", "summary": "The bundle manifest.",
                                  "tags": ["Infra"],
                                  "responses": {"200": {"description": "The manifest.",
                                                        "content": {"application/json": {
                                                            "schema": {"type": "object"}}}}}}}
    paths["/metrics"] = {"get": {"operationId": "metrics", "summary": "Prometheus metrics.",
                                 "tags": ["Infra"],
                                 "responses": {"200": {"description": "Metrics text.",
                                                       "content": {"text/plain": {
                                                           "schema": {"type": "string"}}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": service.name, "version": service.version or "unsaved",
                 "description": (getattr(service, "description", None)
                                 or type(service).__doc__ or "").strip()
                 or f"{service.name} prediction service, served by bentonb."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
