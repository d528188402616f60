"""JsonInput: a JSON body -> the parsed value (or a validated pydantic model)."""

from __future__ import annotations

from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import load_json, require_utf8
from bentonb.errors import BadInput, InvalidArgument

#: Where nested pydantic schemas live once hoisted into an OpenAPI document.
SCHEMA_REF = "#/components/schemas/{model}"


def pydantic_errors(exc: Any) -> str:
    """One line per pydantic validation error: ``field.path: message``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        lines.append(f"{where}: {err.get('msg')}")
    return "; ".join(lines)


def check_pydantic_model(model: Any, who: str) -> None:
    if model is not None and not (isinstance(model, type) and hasattr(model, "model_validate")):
        raise InvalidArgument(f"{who}(pydantic_model=...) must be a pydantic BaseModel class, "
                              f"got {model!r}")


class JsonInput(BaseInputAdapter):
    """Reads a JSON document (strict RFC 8259, UTF-8, nested at most
    ``RequestLimits.max_json_depth`` deep). With ``pydantic_model=`` the body is
    validated and the API function receives a model instance; a failed validation
    is a 400 listing every wrong field. A GET request's query becomes an object."""

    media_types = ("application/json",)
    accepts_query = True

    def __init__(self, pydantic_model: Any = None) -> None:
        check_pydantic_model(pydantic_model, "JsonInput")
        self.pydantic_model = pydantic_model

    def config(self) -> dict[str, Any]:
        # The class itself lives in the service source; the manifest names it.
        return {"pydantic_model": getattr(self.pydantic_model, "__name__", None)}

    def from_http(self, request: HttpRequest) -> Any:
        if request.method == "GET":
            return self.from_python({k: v[-1] for k, v in request.query.items()})
        self.check_media_type(request)
        require_utf8(request)
        return self.from_python(load_json(request.body, request.limits))

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return self.from_python(load_json(data))

    def from_python(self, value: Any) -> Any:
        if self.pydantic_model is None or isinstance(value, self.pydantic_model):
            return value
        from pydantic import ValidationError

        try:
            return self.pydantic_model.model_validate(value)
        except ValidationError as exc:
            raise BadInput(f"invalid {self.pydantic_model.__name__}: {pydantic_errors(exc)}") \
                from exc

    def example(self) -> str:
        if self.pydantic_model is not None:
            import json

            schema = self.pydantic_model.model_json_schema(ref_template=SCHEMA_REF)
            return json.dumps({name: _example_value(prop)
                               for name, prop in schema.get("properties", {}).items()})
        return '{"text": "I am driving BMW"}'

    def openapi_request(self) -> dict[str, Any]:
        if self.pydantic_model is None:
            return {"application/json": {"schema": {"type": "object"}}}
        schema = self.pydantic_model.model_json_schema(ref_template=SCHEMA_REF)
        return {"application/json": {"schema": schema}}


def _example_value(prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if "default" in prop:
        return prop["default"]
    if kind == "array":
        return [_example_value(prop.get("items", {}))]
    return {"integer": 1, "number": 1.0, "boolean": True, "string": "text",
            "object": {}}.get(kind, None)
