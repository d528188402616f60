"""DataframeInput: JSON (any pandas orient, auto-detected) or CSV -> pandas.DataFrame."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, HttpRequest, parse_json
from bentonb.errors import BadInput, InvalidArgument


class ParsedRows:
    """JSON rows of one request, checked but not yet a DataFrame: a batch of many
    requests becomes one DataFrame at once, which is much cheaper than many."""

    __slots__ = ("kind", "rows", "width")

    def __init__(self, kind: str, rows: list, width: int | None) -> None:
        self.kind, self.rows, self.width = kind, rows, width

    def __len__(self) -> int:
        return len(self.rows)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class DataframeInput(BaseInputAdapter):
    """Reads a table: each row is one item, so a request of N rows gets N results.

    JSON bodies may use the ``records``, ``columns``, ``values`` or ``split``
    orient (detected from the shape); ``text/csv`` bodies need a header row.
    ``columns`` names (and orders) the columns; ``dtype`` is one dtype or a
    ``{column: dtype}`` mapping applied after parsing.
    """

    media_types = ("application/json", "text/csv")
    items_are_rows = True
    always_batch = True

    def __init__(self, columns: Sequence[str] | None = None,
                 dtype: str | dict[str, str] | None = None, orient: str | None = None) -> None:
        if columns is not None and (isinstance(columns, str) or not all(
                isinstance(c, str) for c in columns)):
            raise InvalidArgument("DataframeInput(columns=...) must be a list of column names")
        self.columns = list(columns) if columns is not None else None
        self.dtype = dtype
        self.orient = orient

    def config(self) -> dict[str, Any]:
        return {"columns": self.columns, "dtype": self.dtype, "orient": self.orient}

    def from_bytes(self, data: bytes, media_type: str = "") -> Any:
        if media_type == "text/csv" or (not media_type and self._looks_like_csv(data)):
            return self._from_csv(data)
        return self.from_python(parse_json(data))

    def from_http(self, request: HttpRequest) -> Any:
        return self.merge([self.parse_http(request)])

    def parse_http(self, request: HttpRequest) -> Any:
        self.check_media_type(request)
        media = request.media_type
        if media == "text/csv" or (not media and self._looks_like_csv(request.body)):
            return self._from_csv(request.body)
        value = parse_json(request.body)
        return self._rows(value) or self.from_python(value)

    def _rows(self, value: Any) -> ParsedRows | None:
        """The cheap form for the common bodies (a list of rows or of records), checked
        as the DataFrame path would check them; None for anything else."""
        if self.dtype is not None or not isinstance(value, list) or not value:
            return None
        first = value[0]
        if isinstance(first, list):
            width = len(first)
            if not all(isinstance(r, list) and len(r) == width for r in value):
                return None
            self._value_columns(width)
            return ParsedRows("values", value, width)
        if isinstance(first, dict) and all(isinstance(r, dict) for r in value):
            if self.columns is not None:
                missing = [c for c in self.columns if any(c not in r for r in value)]
                if missing:
                    raise BadInput(f"input is missing column(s): {', '.join(missing)}")
            return ParsedRows("records", value, None)
        return None

    @staticmethod
    def _looks_like_csv(data: bytes) -> bool:
        head = data.lstrip()[:1]
        return bool(head) and head not in b"[{"

    def _from_csv(self, data: bytes) -> Any:
        import pandas as pd

        try:
            df = pd.read_csv(io.BytesIO(data))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise BadInput(f"CSV body cannot be read: {exc}") from exc
        header = [str(c) for c in df.columns]
        if header and all(_is_number(c) for c in header):
            raise BadInput(
                f"CSV body has no header row: its first line ({','.join(header)}) looks like "
                "data; add a line of column names first"
            )
        return self._finish(df)

    def from_python(self, value: Any) -> Any:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return self._finish(value)
        try:
            df = self._frame(value)
        except BadInput:
            raise  # already says what is wrong; ValueError below would re-wrap it
        except (ValueError, TypeError) as exc:
            raise BadInput(f"JSON body cannot be read as a table: {exc}") from exc
        return self._finish(df)

    def _frame(self, value: Any) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, list):
            if not value:
                return pd.DataFrame(columns=self.columns)
            if all(isinstance(v, dict) for v in value):
                return pd.DataFrame.from_records(value)
            if all(isinstance(v, list) for v in value):
                widths = {len(v) for v in value}
                if len(widths) != 1:
                    raise BadInput(f"JSON rows have different lengths: {sorted(widths)}")
                return pd.DataFrame(value, columns=self._value_columns(widths.pop()))
            if any(isinstance(v, (list, dict)) for v in value):
                raise BadInput("JSON list mixes rows of different kinds (lists, objects, values)")
            return pd.DataFrame({(self.columns or [0])[0]: value})
        if isinstance(value, dict):
            if "columns" in value and "data" in value:
                return pd.DataFrame(value["data"], columns=value["columns"],
                                    index=value.get("index"))
            if value and all(isinstance(v, (dict, list)) for v in value.values()):
                return pd.DataFrame(value)
            if all(not isinstance(v, (dict, list)) for v in value.values()):
                return pd.DataFrame([value])
            raise BadInput("JSON object mixes columns and single values")
        raise BadInput(
            f"expected a JSON table (a list of rows or an object of columns), "
            f"got {type(value).__name__}"
        )

    def _value_columns(self, width: int) -> list[Any] | None:
        if self.columns is None:
            return None
        if len(self.columns) != width:
            raise BadInput(f"rows have {width} values but {len(self.columns)} columns are "
                           f"expected: {', '.join(self.columns)}")
        return self.columns

    def _finish(self, df: Any) -> Any:
        if self.columns is not None:
            missing = [c for c in self.columns if c not in df.columns]
            if missing:
                raise BadInput(f"input is missing column(s): {', '.join(map(str, missing))}")
            df = df[self.columns]
        if self.dtype is not None:
            try:
                df = df.astype(self.dtype)
            except (ValueError, TypeError, KeyError) as exc:
                raise BadInput(f"input cannot be converted to dtype {self.dtype}: {exc}") from exc
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
                df = (pd.DataFrame(rows, columns=self.columns) if kind == "values"
                      else pd.DataFrame.from_records(rows))
                return self._finish(df)
        frames = [self._finish(self._frame(v.rows)) if isinstance(v, ParsedRows) else v
                  for v in values]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    def example(self) -> str:
        if self.columns:
            return "[{" + ", ".join(f'"{c}": 0' for c in self.columns) + "}]"
        return "[[5.1, 3.5, 1.4, 0.2]]"

    def openapi_request(self) -> dict[str, Any]:
        row: dict[str, Any] = {"type": "array", "items": {}}
        if self.columns:
            row = {"type": "object", "properties": {c: {} for c in self.columns},
                   "required": list(self.columns)}
        return {
            "application/json": {"schema": {"type": "array", "items": row}},
            "text/csv": {"schema": {"type": "string"}},
        }
