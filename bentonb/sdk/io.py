"""``bentonb.io`` (1.x names): each is the adapter of the same IO type, so HTTP
parsing, checks, errors and OpenAPI schemas are those of the 0.x adapters. An
IO descriptor used as ``output=`` gives its output adapter through
:meth:`output_adapter`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, BaseOutputAdapter
from bentonb.adapters.dataframe_input import DataframeInput
from bentonb.adapters.dataframe_output import DataframeOutput
from bentonb.adapters.file_input import FileInput
from bentonb.adapters.image_input import ImageInput
from bentonb.adapters.json_input import JsonInput
from bentonb.adapters.json_output import JsonOutput
from bentonb.adapters.multipart_input import MultipartInput
from bentonb.adapters.numpy_input import NumpyInput
from bentonb.adapters.string_input import StringInput
from bentonb.errors import InvalidArgument


class JSON(JsonInput):
    """``JSON(pydantic_model=Model)``: a validated model in, a serialised model out."""

    def output_adapter(self) -> BaseOutputAdapter:
        return JsonOutput(pydantic_model=self.pydantic_model)


class NumpyNdarray(NumpyInput):
    """``NumpyNdarray(dtype=, shape=, enforce_dtype=, enforce_shape=)``: a JSON array.
    Without ``enforce_*`` the dtype is still applied and the shape only documented."""

    def __init__(self, dtype: Any = None, shape: Sequence[int] | None = None,
                 enforce_dtype: bool = False, enforce_shape: bool = False) -> None:
        super().__init__(dtype=str(getattr(dtype, "name", dtype)) if dtype is not None
                         else None, shape=shape if enforce_shape else None)
        self.documented_shape = list(shape) if shape is not None else None
        self.enforce_dtype = enforce_dtype

    def output_adapter(self) -> BaseOutputAdapter:
        return JsonOutput()


class PandasDataFrame(DataframeInput):
    """``PandasDataFrame(orient=, columns=, dtype=)``: one request is one DataFrame."""

    always_batch = False

    def __init__(self, orient: str | None = "records", columns: Sequence[str] | None = None,
                 dtype: Any = None, **_ignored: Any) -> None:
        super().__init__(columns=columns, dtype=dtype if isinstance(dtype, (str, dict))
                         else None, orient=orient)

    def output_adapter(self) -> BaseOutputAdapter:
        return DataframeOutput(orient=self.orient or "records")


class PandasSeries(PandasDataFrame):
    """``PandasSeries()``: a JSON array becomes a Series."""

    def __init__(self, orient: str | None = "records", dtype: Any = None,
                 **_ignored: Any) -> None:
        super().__init__(orient=None, dtype=dtype)

    def from_python(self, value: Any) -> Any:
        if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
            value = [[v] for v in value]
        return super().from_python(value)

    def output_adapter(self) -> BaseOutputAdapter:
        return JsonOutput()


class Image(ImageInput):
    """``Image(pilmode="RGB")``: an uploaded image as a PIL image."""

    def __init__(self, pilmode: str = "RGB", **_ignored: Any) -> None:
        super().__init__(pilmode=pilmode)

    def output_adapter(self) -> BaseOutputAdapter:
        raise InvalidArgument("Image() as an output is not supported yet; return a "
                              "JSON-able value with output=JSON()")


class File(FileInput):
    """``File()``: the uploaded bytes as a stream with a ``name``."""

    def output_adapter(self) -> BaseOutputAdapter:
        raise InvalidArgument("File() as an output is not supported yet; use output=JSON()")


class Text(StringInput):
    """``Text()``: the body as a str; as an output, the answer as JSON text."""

    def output_adapter(self) -> BaseOutputAdapter:
        return JsonOutput()


class Multipart(MultipartInput):
    """``Multipart(image=Image(), meta=JSON())``: a multipart/form-data body whose parts
    are read by their own IO; the function receives a dict of the parts' values."""

    def output_adapter(self) -> BaseOutputAdapter:
        raise InvalidArgument("Multipart() as an output is not supported; use output=JSON()")


def as_input(spec: Any) -> BaseInputAdapter:
    from bentonb.adapters.base import input_adapter

    return input_adapter(spec)


def as_output(spec: Any) -> BaseOutputAdapter:
    """An IO descriptor, an output adapter, or None (JSON) as an output adapter."""
    if spec is None:
        return JsonOutput()
    if isinstance(spec, type):
        spec = spec()
    if isinstance(spec, BaseOutputAdapter):
        return spec
    make = getattr(spec, "output_adapter", None)
    if callable(make):
        return make()
    raise InvalidArgument(f"output= must be a bentonb.io descriptor such as JSON(), got "
                          f"{spec!r:.80}")


__all__ = ["JSON", "File", "Image", "Multipart", "NumpyNdarray", "PandasDataFrame",
           "PandasSeries", "Text"]
