"""ImageInput: an image (raw body or multipart upload) -> RGB numpy array, HWC uint8."""

from __future__ import annotations

import io
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest, RequestLimits
from bentonb.adapters.body import multipart_file
from bentonb.errors import BadInput, PayloadTooLarge

_DEFAULT_LIMITS = RequestLimits()
#: The formats a request may carry. Pillow knows more, but some decode through
#: outside programs (EPS runs Ghostscript) or rarely-used code: not for strangers.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "ICO", "PPM", "TGA")


class ImageInput(BaseInputAdapter):
    """Reads PNG, JPEG, GIF, BMP, WebP, TIFF... into ``numpy.ndarray`` (height, width,
    channels). ``pilmode`` is the Pillow mode to convert to (``"RGB"`` by default,
    ``"L"`` for grey). An image of more than ``RequestLimits.max_image_pixels``
    pixels is refused (413) from its header, before any pixel is decoded."""

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
            content = multipart_file(request, "image", "image").content
        else:
            content = request.body
        return self.decode(content, request.limits)

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return self.decode(data)

    def decode(self, data: bytes, limits: RequestLimits = _DEFAULT_LIMITS) -> Any:
        """The image in ``data`` as an array; :class:`BadInput` when it is not an image,
        :class:`PayloadTooLarge` when it has more pixels than ``limits`` allow."""
        import numpy as np
        from PIL import Image

        if not data:
            raise BadInput("image body is empty; send the image file's bytes")
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
                # Opening reads only the header: refuse here, before decoding the pixels.
                width, height = img.size
                if width * height > limits.max_image_pixels:
                    raise PayloadTooLarge(_too_many_pixels(width, height, limits))
                return np.asarray(img.convert(self.pilmode))
        except Image.DecompressionBombError as exc:
            # Pillow's own guard fires inside open() for the largest images.
            raise PayloadTooLarge(f"image is too large to decode: {str(exc).rstrip('.')}; this "
                                  f"server accepts at most {limits.max_image_pixels:,} pixels "
                                  "per image") from exc
        except (BadInput, MemoryError):
            raise
        except Image.UnidentifiedImageError as exc:
            raise BadInput(f"cannot read image ({len(data)} bytes): not a "
                           f"{', '.join(IMAGE_FORMATS)} image") from exc
        except Exception as exc:  # noqa: BLE001 - each format's decoder fails its own way
            raise BadInput(f"cannot read image ({len(data)} bytes): "
                           f"{type(exc).__name__}: {exc}") from exc

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
                                                           "format": "binary"}},
                "required": ["image"]}},
        }


def _too_many_pixels(width: int, height: int, limits: RequestLimits) -> str:
    return (f"image is {width}x{height} = {width * height:,} pixels; this server accepts "
            f"at most {limits.max_image_pixels:,} pixels per image")
