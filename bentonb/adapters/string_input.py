"""StringInput: a text body (or a GET ``?text=`` query) -> str."""

from __future__ import annotations

from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.errors import BadInput


class StringInput(BaseInputAdapter):
    """Gives the API function the body decoded as text (charset from Content-Type)."""

    media_types = ("text/plain", "text/*", "application/json")
    accepts_query = True

    def from_http(self, request: HttpRequest) -> Any:
        if request.method == "GET":
            values = request.query.get("text") or request.query.get("input")
            if not values:
                raise BadInput("GET request needs the text as a query: ?text=...")
            return values[-1]
        self.check_media_type(request)
        return self._decode(request.body, request.charset)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return self._decode(data, "utf-8")

    @staticmethod
    def _decode(data: bytes, charset: str) -> str:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError) as exc:
            raise BadInput(f"body is not valid {charset} text: {exc}") from exc

    def example(self) -> str:
        return "I am driving BMW"

    def openapi_request(self) -> dict[str, Any]:
        return {"text/plain": {"schema": {"type": "string"}}}
