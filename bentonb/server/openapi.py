"""The OpenAPI 3 document of a service, built from its adapters."""

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


def _hoist_defs(content: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic ``$defs`` into ``components.schemas`` (where their refs point)."""
    content = copy.deepcopy(content)
    for media in content.values():
        schema = media.get("schema", {})
        schemas.update(schema.pop("$defs", {}))
    return content


def openapi_spec(service: Any) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document for every API of ``service``."""
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths: dict[str, Any] = {}
    for api in service.inference_apis:
        doc = api.doc or f"{api.name}: {api.input_adapter.type_name} in, " \
                         f"{api.output_adapter.type_name} out."
        responses = {"200": {"description": "The prediction.",
                             "content": _hoist_defs(api.output_adapter.openapi_response(),
                                                    schemas)}}
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
        "openapi": "3.1.0",
        "info": {"title": service.name, "version": service.version or "unsaved",
                 "description": (type(service).__doc__ or "").strip()
                 or f"{service.name} prediction service, served by bentonb."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
