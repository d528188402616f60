"""MultipartInput: a ``multipart/form-data`` body -> a dict, each part read by its own
input adapter (``MultipartInput(image=ImageInput(), meta=JsonInput())``)."""

from __future__ import annotations

from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import multipart_parts
from bentonb.errors import BadInput, InvalidArgument, UnsupportedMediaType


class MultipartInput(BaseInputAdapter):
    """Reads a form whose parts are named exactly as the keyword arguments: the API
    function receives ``{name: value}``. A missing, unexpected or repeated part is a
    400 naming it; a part its adapter cannot read is a 400 naming the part."""

    media_types = ("multipart/form-data",)
    accepts_files = True
    heavy_parse = True

    def __init__(self, **parts: Any) -> None:
        from bentonb.adapters.base import input_adapter

        if not parts:
            raise InvalidArgument("MultipartInput needs its parts as keyword arguments, "
                                  "e.g. MultipartInput(image=ImageInput(), meta=JsonInput())")
        self.parts: dict[str, BaseInputAdapter] = {}
        for name, spec in parts.items():
            adapter = input_adapter(spec)
            if isinstance(adapter, MultipartInput):
                raise InvalidArgument(f"part '{name}' of a multipart input cannot itself be "
                                      "multipart")
            self.parts[name] = adapter

    def config(self) -> dict[str, Any]:
        return {"parts": {name: a.type_name for name, a in self.parts.items()}}

    def from_http(self, request: HttpRequest) -> Any:
        if request.media_type != "multipart/form-data":
            raise UnsupportedMediaType(
                f"{self.type_name} reads 'multipart/form-data' with the parts "
                f"{', '.join(map(repr, self.parts))}; got Content-Type "
                f"'{request.media_type or 'none'}'")
        sent = multipart_parts(request)
        names = [p.name for p in sent]
        repeated = sorted({n for n in names if names.count(n) > 1})
        missing = [n for n in self.parts if n not in names]
        extra = [n for n in names if n not in self.parts]
        if missing or extra or repeated:
            problems = ([f"missing part(s) {', '.join(map(repr, missing))}"] if missing else []) \
                + ([f"unexpected part(s) {', '.join(map(repr, extra))}"] if extra else []) \
                + ([f"repeated part(s) {', '.join(map(repr, repeated))}"] if repeated else [])
            raise BadInput(f"multipart body: {'; '.join(problems)}; send exactly the parts "
                           f"{', '.join(map(repr, self.parts))}")
        values = {}
        for part in sent:
            headers = {"Content-Type": part.content_type} if part.content_type else {}
            sub = HttpRequest(part.content, headers, "POST", {}, limits=request.limits)
            try:
                value = self.parts[part.name].from_http(sub)
            except (BadInput, UnsupportedMediaType) as exc:
                raise type(exc)(f"part '{part.name}': {exc}") from exc
            if part.filename and hasattr(value, "name") and hasattr(value, "read"):
                value.name = part.filename  # a file part keeps its upload's name
            values[part.name] = value
        return values

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        raise BadInput(f"{self.type_name} reads HTTP multipart forms only")

    def from_python(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise BadInput(f"{self.type_name} takes a dict of its parts "
                           f"({', '.join(self.parts)}), got {type(value).__name__}")
        missing = [n for n in self.parts if n not in value]
        extra = [n for n in value if n not in self.parts]
        if missing or extra:
            raise BadInput(f"parts missing: {missing}, unexpected: {extra}; give exactly "
                           f"{list(self.parts)}")
        return {n: self.parts[n].from_python(v) for n, v in value.items()}

    def example(self) -> str:
        return ""

    def openapi_request(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        encoding: dict[str, Any] = {}
        defs: dict[str, Any] = {}
        for name, adapter in self.parts.items():
            media, spec = next(iter(adapter.openapi_request().items()))
            if adapter.accepts_files:
                properties[name] = {"type": "string", "format": "binary"}
            else:
                schema = dict(spec.get("schema", {}))
                defs.update(schema.pop("$defs", {}))
                properties[name] = schema
                encoding[name] = {"contentType": media}
        schema = {"type": "object", "properties": properties, "required": list(self.parts)}
        if defs:
            schema["$defs"] = defs
        content: dict[str, Any] = {"schema": schema}
        if encoding:
            content["encoding"] = encoding
        return {"multipart/form-data": content}
