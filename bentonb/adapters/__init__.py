"""Input and output adapters: HTTP <-> Python <-> batch, one module per type."""

from bentonb.adapters.base import (
    BaseInputAdapter,
    BaseOutputAdapter,
    HttpRequest,
    HttpResponse,
    RequestLimits,
    input_adapter,
    output_adapter,
)
from bentonb.adapters.dataframe_input import DataframeInput
from bentonb.adapters.dataframe_output import DataframeOutput
from bentonb.adapters.file_input import FileInput
from bentonb.adapters.image_input import ImageInput
from bentonb.adapters.json_input import JsonInput
from bentonb.adapters.json_output import JsonOutput, to_jsonable
from bentonb.adapters.multipart_input import MultipartInput
from bentonb.adapters.numpy_input import NumpyInput
from bentonb.adapters.string_input import StringInput

__all__ = [
    "BaseInputAdapter",
    "BaseOutputAdapter",
    "DataframeInput",
    "DataframeOutput",
    "FileInput",
    "HttpRequest",
    "HttpResponse",
    "ImageInput",
    "JsonInput",
    "JsonOutput",
    "MultipartInput",
    "NumpyInput",
    "RequestLimits",
    "StringInput",
    "input_adapter",
    "output_adapter",
    "to_jsonable",
]
