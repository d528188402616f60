"""FileInput: any body (raw or a multipart upload) -> a binary stream."""

from __future__ import annotations

import io
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest, multipart_files


class FileInput(BaseInputAdapter):
    """Gives the API function an ``io.BytesIO`` with the uploaded bytes; the
    stream's ``name`` is the upload's file name when there is one."""

    media_types = ("application/octet-stream", "multipart/form-data", "*/*")
    accepts_files = True

    def check_media_type(self, request: HttpRequest) -> None:
        """Every media type is a file."""

    def from_http(self, request: HttpRequest) -> Any:
        if request.media_type == "multipart/form-data":
            _, filename, content = multipart_files(request)[0]
            stream = io.BytesIO(content)
            stream.name = filename or "upload"
            return stream
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
        return {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
