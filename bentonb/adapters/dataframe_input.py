"""DataframeInput: JSON (any pandas orient, declared or detected) or CSV -> pandas.DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest
from bentonb.adapters.body import load_json, require_utf8
from bentonb.adapters.dataframe_body import (
    ORIENT_SHAPES,
    check_cells,
    frame_from_json,
    read_csv_body,
)
from bentonb.errors import BadInput, InvalidArgument


class ParsedRows:
    """JSON rows of one request, checked but not yet a DataFrame: a batch of many
    requests becomes one DataFrame at once, which is much cheaper than many."""

    __slots__ = ("kind", "rows", "width")

    def __init__(self, kind: str, rows: list, width: int | None) -> None:
        self.kind, self.rows, self.width = kind, rows, width

    def __len__(self) -> int:
        return len(self.rows)


class DataframeInput(BaseInputAdapter):
    """Reads a table: each row is one item, so a request of N rows gets N results.

    JSON bodies may use the ``records``, ``values``, ``split``, ``columns`` or
    ``index`` orient: ``orient=`` declares it, otherwise it is detected from the
    shape (``index`` is then read as ``columns``). ``text/csv`` bodies need a
    header row. ``columns`` names (and orders) the columns; ``dtype`` is one dtype
    or a ``{column: dtype}`` mapping applied after parsing. Each request is
    checked on its own (shape, columns, dtype), so a wrong one is refused with 400
    before it can join a batch.
    """

    media_types = ("application/json", "text/csv")
    items_are_rows = True
    always_batch = True

    def __init__(self, columns: Sequence[str] | None = None,
                 dtype: str | dict[str, str] | None = None, orient: str | None = None) -> None:
        if columns is not None and (isinstance(columns, str) or not all(
                isinstance(c, str) for c in columns)):
            raise InvalidArgument("DataframeInput(columns=...) must be a list of column names")
        if orient is not None and orient not in ORIENT_SHAPES:
            raise InvalidArgument(f"DataframeInput(orient={orient!r}) must be one of "
                                  f"{', '.join(ORIENT_SHAPES)} (or None to detect it)")
        self.columns = list(columns) if columns is not None else None
        self.dtype = dtype
        self.orient = orient

    def config(self) -> dict[str, Any]:
        return {"columns": self.columns, "dtype": self.dtype, "orient": self.orient}

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        if media_type == "text/csv" or (not media_type and self._looks_like_csv(data)):
            return self._finish(read_csv_body(data))
        return self.from_python(load_json(data))

    def from_http(self, request: HttpRequest) -> Any:
        return self.merge([self.parse_http(request)])

    def parse_http(self, request: HttpRequest) -> Any:
        self.check_media_type(request)
        media = request.media_type
        if media == "text/csv" or (not media and self._looks_like_csv(request.body)):
            return self._finish(read_csv_body(request.body, request.charset))
        require_utf8(request)
        value = load_json(request.body, request.limits)
        return self._rows(value, request.body) or self.from_python(value)

    def _rows(self, value: Any, body: bytes) -> ParsedRows | None:
        """The cheap form for the common bodies (a list of rows or of records), checked
        as the DataFrame path would check them; None for anything else."""
        if self.dtype is not None or not isinstance(value, list) or not value:
            return None
        first = value[0]
        if isinstance(first, list) and self.orient in (None, "values"):
            width = len(first)
            if width == 0 or not all(isinstance(r, list) and len(r) == width for r in value):
                return None
            self._value_columns(width)
            kind = "values"
        elif isinstance(first, dict) and self.orient in (None, "records") and \
                all(isinstance(r, dict) for r in value):
            if not any(value):
                return None
            if self.columns is not None:
                missing = [c for c in self.columns if any(c not in r for r in value)]
                if missing:
                    raise BadInput(f"input is missing column(s): {', '.join(missing)}")
            kind, width = "records", None
        else:
            return None
        # One '[' or '{' per row plus the outer list: no cell can hold a list or object.
        if body.count(b"[") + body.count(b"{") != len(value) + 1:
            for i, row in enumerate(value):
                cells = row.values() if kind == "records" else row
                if any(isinstance(c, (list, dict)) for c in cells):
                    raise BadInput(f"row {i} holds a list or object in a cell; each cell "
                                   "must be a number, string, boolean or null")
        return ParsedRows(kind, value, width)

    def schema(self, value: Any) -> dict[str, str]:
        from pandas.api import types

        frame = self.merge([value])
        kinds = {}
        for column, dtype in frame.dtypes.items():
            nulls = frame[column].isna()
            if nulls.all():
                kinds[str(column)] = "null"
                continue
            mixed = types.is_object_dtype(dtype)  # nulls among bools, say
            cells = list(frame[column][~nulls]) if mixed else []
            if types.is_bool_dtype(dtype) or (mixed and all(
                    isinstance(c, bool) for c in cells)):
                kind = "bool"
            elif types.is_numeric_dtype(dtype) or (mixed and all(
                    isinstance(c, (int, float)) for c in cells)):
                kind = "number"
            else:
                kind = "text"
            kinds[str(column)] = kind + (" or null" if nulls.any() else "")
        return kinds

    @staticmethod
    def _looks_like_csv(data: bytes) -> bool:
        head = data.lstrip()[:1]
        return bool(head) and head not in b"[{"

    def from_python(self, value: Any) -> Any:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return self._finish(value)
        if type(value).__module__ == "numpy":
            value = value.tolist()
        try:
            df = frame_from_json(value, self.orient, self.columns)
        except BadInput:
            raise  # already says what is wrong; ValueError below would re-wrap it
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise BadInput(f"JSON body cannot be read as a table: {exc}") from exc
        check_cells(df)
        return self._finish(df)

    def _value_columns(self, width: int) -> list[Any] | None:
        if self.columns is None:
            return None
        if len(self.columns) != width:
            raise BadInput(f"rows have {width} values but {len(self.columns)} columns are "
                           f"expected: {', '.join(self.columns)}")
        return self.columns

    def _finish(self, df: Any) -> Any:
        if len(df) and df.shape[1] == 0:
            raise BadInput("table has rows but no columns; each row needs values")
        if self.columns is not None:
            missing = [c for c in self.columns if c not in df.columns]
            if missing:
                raise BadInput(f"input is missing column(s): {', '.join(map(str, missing))}")
            df = df[self.columns]
        if self.dtype is not None:
            try:
                df = df.astype(self.dtype)
            except (ValueError, TypeError, KeyError, OverflowError) as exc:
                raise BadInput(f"input cannot be converted to dtype {self.dtype}: {exc}") \
                    from exc
        return df

    def count(self, value: Any) -> int:
        return len(value)

    def merge(self, values: Sequence[Any]) -> Any:
        import pandas as pd

        if all(isinstance(v, ParsedRows) for v in values):
            kinds = {(v.kind, v.width) for v in values}
            if len(kinds) == 1:
                rows = values[0].rows if len(values) == 1 else [r for v in values for r in v.rows]
                kind = values[0].kind
                if kind != "values":
                    df = pd.DataFrame.from_records(rows)
                elif all(type(c) is float for row in rows for c in row):
                    # The same float64 frame, built from one array: a fraction of the cost.
                    import numpy as np

                    df = pd.DataFrame(np.array(rows), columns=self.columns)
                else:
                    df = pd.DataFrame(rows, columns=self.columns)
                return self._finish(df)
        frames = [self.from_python(v.rows) if isinstance(v, ParsedRows) else v
                  for v in values]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    def example(self) -> str:
        if self.columns:
            return "[{" + ", ".join(f'"{c}": 0' for c in self.columns) + "}]"
        return "[[5.1, 3.5, 1.4, 0.2]]"

    def openapi_request(self) -> dict[str, Any]:
        cell = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}],
                "nullable": True}
        row: dict[str, Any] = {"type": "array", "items": cell, "minItems": 1}
        if self.columns:
            row = {"type": "object", "properties": {c: cell for c in self.columns},
                   "required": list(self.columns)}
        return {
            "application/json": {"schema": {"type": "array", "items": row, "minItems": 1}},
            "text/csv": {"schema": {"type": "string"}},
        }
