"""``bentonb.io``: the 1.x IO descriptors (each is the 0.x adapter of its type)."""

from bentonb.sdk.io import (
    JSON,
    File,
    Image,
    Multipart,
    NumpyNdarray,
    PandasDataFrame,
    PandasSeries,
    Text,
)

__all__ = ["JSON", "File", "Image", "Multipart", "NumpyNdarray", "PandasDataFrame",
           "PandasSeries", "Text"]
