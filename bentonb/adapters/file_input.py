"""FileInput: any body (raw or a multipart upload) -> a binary stream."""

from __future__ import annotations

import io
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import multipart_file
from bentonb.errors import BadInput


class FileInput(BaseInputAdapter):
    """Gives the API function an ``io.BytesIO`` with the uploaded bytes; the
    stream's ``name`` is the upload's file name when there is one. A multipart body
    gives its ``file`` field, or else its first file upload."""

    media_types = ("application/octet-stream", "multipart/form-data", "*/*")
    accepts_files = True

    def check_media_type(self, request: HttpRequest) -> None:
        """Every media type is a file."""

    def from_http(self, request: HttpRequest) -> Any:
        if request.media_type == "multipart/form-data":
            part = multipart_file(request, "file", "file")
            if not part.content:
                raise BadInput(f"the uploaded file {part.filename or part.name!r} is empty")
            stream = io.BytesIO(part.content)
            stream.name = part.filename or "upload"
            return stream
        if not request.body:
            raise BadInput("request body is empty; send the file's bytes")
        return self.from_bytes(request.body)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        stream = io.BytesIO(data)
        stream.name = "upload"
        return stream

    def from_python(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return self.from_bytes(bytes(value))
        return value

    def example(self) -> str:
        return ""

    def openapi_request(self) -> dict[str, Any]:
        return {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {
                "type": "object", "properties": {"file": {"type": "string",
                                                          "format": "binary"}},
                "required": ["file"]}},
        }
