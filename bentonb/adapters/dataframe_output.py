"""DataframeOutput: a table-like result -> JSON records (or CSV)."""

from __future__ import annotations

from typing import Any

from bentonb.adapters.base import BaseOutputAdapter, HttpResponse
from bentonb.errors import InvalidArgument, OutputError

_ORIENTS = ("records", "columns", "values", "split", "index")


class DataframeOutput(BaseOutputAdapter):
    """Sends the result as a DataFrame in JSON ``orient`` (``records`` by default) or as
    CSV with ``output_format="csv"``. Lists, arrays and Series become one column.
    The JSON is strict RFC 8259: NaN and +-Infinity are written as ``null``."""

    def __init__(self, orient: str = "records", output_format: str = "json") -> None:
        if orient not in _ORIENTS:
            raise InvalidArgument(f"DataframeOutput(orient={orient!r}) must be one of {_ORIENTS}")
        if output_format not in ("json", "csv"):
            raise InvalidArgument("DataframeOutput(output_format=...) must be 'json' or 'csv'")
        self.orient = orient
        self.output_format = output_format
        self.media_type = "text/csv" if output_format == "csv" else "application/json"

    def config(self) -> dict[str, Any]:
        return {"orient": self.orient, "output_format": self.output_format}

    def validate(self, value: Any) -> Any:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return value
        if isinstance(value, pd.Series):
            return value.to_frame()
        try:
            return pd.DataFrame(value)
        except (ValueError, TypeError) as exc:
            raise OutputError(f"DataframeOutput cannot make a table of the API's "
                              f"{type(value).__name__} result: {exc}") from exc

    def to_http(self, value: Any) -> HttpResponse:
        df = self.validate(value)
        try:
            if self.output_format == "csv":
                return HttpResponse(df.to_csv(index=False).encode("utf-8"), "text/csv")
            # pandas writes NaN and infinities as null: the body is strict JSON.
            body = df.to_json(orient=self.orient).encode("utf-8")
        except (ValueError, TypeError, OverflowError, UnicodeEncodeError) as exc:
            raise OutputError(f"DataframeOutput cannot write the result as "
                              f"{self.output_format} (orient {self.orient!r}): {exc}") from exc
        return HttpResponse(body, "application/json")

    def openapi_response(self) -> dict[str, Any]:
        if self.output_format == "csv":
            return {"text/csv": {"schema": {"type": "string"}}}
        return {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}
