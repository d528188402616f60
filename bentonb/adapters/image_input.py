"""ImageInput: an image (raw body or multipart upload) -> RGB numpy array, HWC uint8."""

from __future__ import annotations

import io
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest, multipart_files
from bentonb.errors import BadInput


class ImageInput(BaseInputAdapter):
    """Reads PNG, JPEG, GIF, BMP, WebP, TIFF... into ``numpy.ndarray`` (height, width,
    channels). ``pilmode`` is the Pillow mode to convert to (``"RGB"`` by default,
    ``"L"`` for grey)."""

    media_types = ("image/*", "multipart/form-data", "application/octet-stream")
    accepts_files = True
    heavy_parse = True

    def __init__(self, pilmode: str = "RGB") -> None:
        self.pilmode = pilmode

    def config(self) -> dict[str, Any]:
        return {"pilmode": self.pilmode}

    def from_http(self, request: HttpRequest) -> Any:
        self.check_media_type(request)
        if request.media_type == "multipart/form-data":
            _, _, content = multipart_files(request)[0]
            return self.from_bytes(content)
        return self.from_bytes(request.body)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        if not data:
            raise BadInput("image body is empty")
        try:
            with Image.open(io.BytesIO(data)) as img:
                return np.asarray(img.convert(self.pilmode))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise BadInput(f"cannot read image ({len(data)} bytes): {exc}") from exc

    def from_python(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return self.from_bytes(bytes(value))
        return value

    def example(self) -> str:
        return ""

    def openapi_request(self) -> dict[str, Any]:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {
            "image/png": binary,
            "image/jpeg": binary,
            "multipart/form-data": {"schema": {
                "type": "object", "properties": {"image": {"type": "string",
                                                           "format": "binary"}}}},
        }
