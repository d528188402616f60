"""NumpyInput: a JSON nested list -> numpy.ndarray, with optional dtype and shape check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import load_json, require_utf8
from bentonb.errors import BadInput, InvalidArgument

#: numpy kinds a JSON array of numbers gives: bool, int, unsigned, float.
_NUMERIC_KINDS = "biuf"


class NumpyInput(BaseInputAdapter):
    """Reads a JSON array of numbers into an ndarray. ``shape`` may hold ``-1`` (or
    ``None``) for any length on that axis; a mismatch is a 400 that shows both shapes.
    Strings, nulls, objects and ragged rows are refused (400) unless ``dtype`` says
    how to read them."""

    media_types = ("application/json",)

    def __init__(self, dtype: str | None = None, shape: Sequence[int | None] | None = None) -> None:
        if shape is not None and not all(s is None or isinstance(s, int) for s in shape):
            raise InvalidArgument(f"NumpyInput(shape=...) must be a list of ints, got {shape!r}")
        self.dtype = dtype
        self.shape = [(-1 if s is None else s) for s in shape] if shape is not None else None

    def config(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": self.shape}

    def from_http(self, request: HttpRequest) -> Any:
        self.check_media_type(request)
        require_utf8(request)
        return self.from_python(load_json(request.body, request.limits))

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        return self.from_python(load_json(data))

    def from_python(self, value: Any) -> Any:
        import numpy as np

        if isinstance(value, dict):
            raise BadInput("expected a JSON array of numbers, got an object")
        try:
            with np.errstate(over="raise"):  # 1e300 as float32 is not inf, it is a mistake
                array = np.asarray(value, dtype=self.dtype)
        except FloatingPointError as exc:
            raise BadInput(f"JSON array holds numbers too large for {self.dtype}") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            if "inhomogeneous" in str(exc):
                raise BadInput("JSON array is ragged: its rows have different lengths") from exc
            raise BadInput(f"JSON cannot be read as an array"
                           f"{' of ' + self.dtype if self.dtype else ''}: {exc}") from exc
        if array.dtype == object:
            raise BadInput("JSON array is ragged or holds values that are not numbers "
                           "(objects, nulls or mixed types)")
        if self.dtype is None and array.dtype.kind not in _NUMERIC_KINDS:
            raise BadInput(f"JSON array holds {_kind_name(array.dtype.kind)}, not numbers; "
                           "send numbers (or declare NumpyInput(dtype=...))")
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
        if self.shape is None:  # any number of dimensions
            schema: dict[str, Any] = {"type": "array", "items": {
                "anyOf": [{"type": "number"}, {"type": "array"}]}}
            return {"application/json": {"schema": schema}}
        schema = {"type": "number"}
        for length in reversed(self.shape):
            schema = {"type": "array", "items": schema}
            if length != -1:
                schema.update(minItems=length, maxItems=length)
        return {"application/json": {"schema": schema}}


def _kind_name(kind: str) -> str:
    return {"U": "strings", "S": "strings", "M": "dates", "m": "time spans",
            "c": "complex numbers"}.get(kind, f"values of numpy kind '{kind}'")
