"""StringInput: a text body (or a GET ``?text=`` query) -> str."""

from __future__ import annotations

from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import decode_text
from bentonb.errors import BadInput


class StringInput(BaseInputAdapter):
    """Gives the API function the body decoded as text (charset from Content-Type,
    UTF-8 when none is given). An empty body, bytes that are not valid in the
    charset, and an unknown charset are refused with 400."""

    media_types = ("text/plain", "text/*", "application/json")
    accepts_query = True

    def from_http(self, request: HttpRequest) -> Any:
        if request.method == "GET":
            values = request.query.get("text") or request.query.get("input")
            if not values:
                raise BadInput("GET request needs the text as a query: ?text=...")
            return values[-1]
        self.check_media_type(request)
        if not request.body:
            raise BadInput("request body is empty; send the text")
        return decode_text(request.body, request.charset)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return decode_text(data)

    def example(self) -> str:
        return "I am driving BMW"

    def openapi_request(self) -> dict[str, Any]:
        return {"text/plain": {"schema": {"type": "string", "minLength": 1}}}
