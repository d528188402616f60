"""JsonOutput: any JSON-able result (numpy, pandas and pydantic included) -> strict JSON."""

from __future__ import annotations

import dataclasses
import datetime
import sys
from typing import Any

from bentonb.adapters.base import BaseOutputAdapter, HttpResponse
from bentonb.adapters.body import dump_json
from bentonb.adapters.json_input import SCHEMA_REF, check_pydantic_model, pydantic_errors
from bentonb.errors import OutputError

_PLAIN = frozenset({str, bool, int, float})


def to_jsonable(value: Any) -> Any:
    """Convert numpy, pandas, pydantic, dataclass and date values to plain JSON types.

    Floats stay floats, NaN and infinities included: :func:`dump_json` writes
    those as ``null``, so the answer is strict JSON.
    """
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        raise OutputError("JsonOutput cannot send bytes; return text (decode the bytes) or "
                          "base64-encode them into a str")
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump(mode="json")
    if "numpy" in sys.modules:
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":  # tolist() already gives plain numbers
                return value.tolist()
            return to_jsonable(value.tolist())
        if isinstance(value, np.generic):
            return value.item()
    if "pandas" in sys.modules:
        import pandas as pd

        if isinstance(value, (pd.DataFrame, pd.Series)):
            import orjson

            # pandas writes NaN and infinities as null itself.
            orient = "records" if isinstance(value, pd.DataFrame) else "values"
            return orjson.loads(value.to_json(orient=orient))
        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    if isinstance(value, float):  # a float subclass the JSON writer does not know
        return float(value)
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, (set, frozenset)):
        return [to_jsonable(v) for v in value]
    raise OutputError(f"JsonOutput cannot encode a {type(value).__module__}."
                      f"{type(value).__qualname__} as JSON")


class JsonOutput(BaseOutputAdapter):
    """Sends the result as strict RFC 8259 JSON: NaN and +-Infinity become ``null``.
    ``pydantic_model=`` validates each answer against the model (a wrong answer is a
    500, not a silent drift) and documents it."""

    def __init__(self, pydantic_model: Any = None) -> None:
        check_pydantic_model(pydantic_model, "JsonOutput")
        self.pydantic_model = pydantic_model

    def config(self) -> dict[str, Any]:
        return {"pydantic_model": getattr(self.pydantic_model, "__name__", None)}

    def validate(self, value: Any) -> Any:
        if self.pydantic_model is None or isinstance(value, self.pydantic_model):
            return value
        from pydantic import ValidationError

        try:
            return self.pydantic_model.model_validate(to_jsonable(value))
        except ValidationError as exc:
            raise OutputError(f"API returned an invalid {self.pydantic_model.__name__}: "
                              f"{pydantic_errors(exc)}") from exc

    def to_http(self, value: Any) -> HttpResponse:
        return HttpResponse(dump_json(to_jsonable(self.validate(value))), "application/json")

    def openapi_response(self) -> dict[str, Any]:
        schema = (self.pydantic_model.model_json_schema(ref_template=SCHEMA_REF)
                  if self.pydantic_model else {})
        return {"application/json": {"schema": schema}}
