"""NumpyInput: a JSON nested list -> numpy.ndarray, with optional dtype and shape check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, parse_json
from bentonb.errors import BadInput, InvalidArgument


class NumpyInput(BaseInputAdapter):
    """Reads a JSON array into an ndarray. ``shape`` may hold ``-1`` (or ``None``) for
    any length on that axis; a mismatch is a 400 that shows both shapes."""

    media_types = ("application/json",)

    def __init__(self, dtype: str | None = None, shape: Sequence[int | None] | None = None) -> None:
        if shape is not None and not all(s is None or isinstance(s, int) for s in shape):
            raise InvalidArgument(f"NumpyInput(shape=...) must be a list of ints, got {shape!r}")
        self.dtype = dtype
        self.shape = [(-1 if s is None else s) for s in shape] if shape is not None else None

    def config(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": self.shape}

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return self.from_python(parse_json(data))

    def from_python(self, value: Any) -> Any:
        import numpy as np

        try:
            array = np.asarray(value, dtype=self.dtype)
        except (ValueError, TypeError) as exc:
            if "inhomogeneous" in str(exc):
                raise BadInput("JSON array is ragged: its rows have different lengths") from exc
            raise BadInput(f"JSON cannot be read as an array"
                           f"{' of ' + self.dtype if self.dtype else ''}: {exc}") from exc
        if array.dtype == object:
            raise BadInput("JSON array is ragged or holds non-numbers")
        if self.shape is not None and not self._shape_matches(array.shape):
            raise BadInput(f"array has shape {list(array.shape)}, expected {self.shape} "
                           "(-1 means any length)")
        return array

    def _shape_matches(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == len(self.shape) and all(
            want == -1 or want == got for want, got in zip(self.shape, shape))

    def example(self) -> str:
        if self.shape:
            import json

            import numpy as np

            return json.dumps(np.zeros([1 if s == -1 else s for s in self.shape]).tolist())
        return "[[1.0, 2.0, 3.0]]"

    def openapi_request(self) -> dict[str, Any]:
        return {"application/json": {"schema": {"type": "array", "items": {}}}}
