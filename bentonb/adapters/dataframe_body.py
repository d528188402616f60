"""Tables out of untrusted bodies: a parsed JSON value in any pandas orient, or CSV.

Every shape pandas would quietly turn into something else (ragged CSV rows,
nested values in cells, a ``split`` object without ``data``) is refused here
with a :class:`BadInput` naming the orient and the shape it expects.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from bentonb.adapters.body import decode_text, text_codec
from bentonb.errors import BadInput

#: What each orient looks like, for error messages.
ORIENT_SHAPES = {
    "records": 'a list of row objects: [{"col": value, ...}, ...]',
    "values": "a list of rows, each a list of values: [[1, 2], [3, 4]]",
    "split": 'an object {"columns": [...], "data": [[...], ...]} (and optional "index")',
    "columns": 'an object of columns: {"col": [values]} or {"col": {"row": value}}',
    "index": 'an object of rows: {"row": {"col": value, ...}, ...}',
}
_SCALARS = (str, int, float, bool, type(None))


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _wrong_shape(orient: str, got: str) -> BadInput:
    return BadInput(f"orient '{orient}' expects {ORIENT_SHAPES[orient]}; got {got}")


def detect_orient(value: Any) -> str:
    """The orient of a JSON table whose orient was not declared."""
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "records"
        if value and all(isinstance(v, list) for v in value):
            return "values"
        if any(isinstance(v, (list, dict)) for v in value):
            raise BadInput("JSON list mixes rows of different kinds (lists, objects, values); "
                           f"send {ORIENT_SHAPES['records']} or {ORIENT_SHAPES['values']}")
        return "single column"
    if isinstance(value, dict):
        if "data" in value and set(value) <= {"columns", "data", "index"}:
            return "split"
        if value and all(isinstance(v, (dict, list)) for v in value.values()):
            return "columns"
        if all(isinstance(v, _SCALARS) for v in value.values()):
            return "single row"
        raise BadInput("JSON object mixes columns and single values; send "
                       f"{ORIENT_SHAPES['columns']}")
    raise BadInput(f"expected a JSON table (a list of rows or an object of columns), "
                   f"got {_kind(value)}")


def frame_from_json(value: Any, orient: str | None, columns: Sequence[str] | None) -> Any:
    """A DataFrame from a parsed JSON value in ``orient`` (detected when None)."""
    import pandas as pd

    orient = orient or detect_orient(value)
    if orient == "single column":
        return pd.DataFrame({(columns or [0])[0]: value})
    if orient == "single row":
        return pd.DataFrame([value])
    if orient in ("records", "values"):
        if not isinstance(value, list):
            raise _wrong_shape(orient, _kind(value))
        want = dict if orient == "records" else list
        bad = next((i for i, row in enumerate(value) if not isinstance(row, want)), None)
        if bad is not None:
            raise _wrong_shape(orient, f"{_kind(value[bad])} as row {bad}")
        if orient == "records":
            return pd.DataFrame.from_records(value) if value else pd.DataFrame(columns=columns)
        return _values_frame(value, columns)
    if not isinstance(value, dict):
        raise _wrong_shape(orient, _kind(value))
    if orient == "split":
        return _split_frame(value)
    if orient == "columns":
        if not all(isinstance(v, (dict, list)) for v in value.values()):
            raise _wrong_shape(orient, "a column that is a single value")
        lengths = {len(v) for v in value.values() if isinstance(v, list)}
        if len(lengths) > 1:
            raise BadInput(f"orient 'columns': the columns have different lengths "
                           f"{sorted(lengths)}; every column needs one value per row")
        return pd.DataFrame(value)
    if orient == "index":
        if not all(isinstance(v, dict) for v in value.values()):
            raise _wrong_shape(orient, "a row that is not an object")
        return pd.DataFrame.from_dict(value, orient="index")
    raise BadInput(f"unknown orient '{orient}'; use one of {', '.join(ORIENT_SHAPES)}")


def _values_frame(rows: list, columns: Sequence[str] | None) -> Any:
    import pandas as pd

    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise BadInput(f"JSON rows have different lengths: {sorted(widths)}; every row needs "
                       "one value per column")
    width = widths.pop() if widths else 0
    if columns is not None and len(columns) != width:
        raise BadInput(f"rows have {width} values but {len(columns)} columns are "
                       f"expected: {', '.join(columns)}")
    return pd.DataFrame(rows, columns=columns)


def _split_frame(value: dict) -> Any:
    data, names, index = value.get("data"), value.get("columns"), value.get("index")
    if not isinstance(data, list):
        raise _wrong_shape("split", f"{_kind(data)} as \"data\"")
    bad = next((i for i, row in enumerate(data) if not isinstance(row, list)), None)
    if bad is not None:
        raise _wrong_shape("split", f"{_kind(data[bad])} as row {bad} of \"data\"")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(n, _SCALARS) for n in names)):
        raise _wrong_shape("split", f"{_kind(names)} as \"columns\"")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise BadInput(f"orient 'split': \"index\" must be a list of {len(data)} labels, one "
                       "per row of \"data\"")
    frame = _values_frame(data, None)
    if names is not None:
        if len(names) != frame.shape[1]:
            raise BadInput(f"orient 'split': {len(names)} columns are named but the rows "
                           f"of \"data\" have {frame.shape[1]} values")
        frame.columns = names
    if index is not None:
        frame.index = index
    return frame


def check_cells(df: Any) -> None:
    """Every cell of a table is one value: a number, string, boolean or null."""
    for i, dtype in enumerate(df.dtypes):
        if dtype.kind != "O":  # numbers, booleans, dates: one value per cell already
            continue
        for position, cell in enumerate(df.iloc[:, i].to_numpy()):
            if isinstance(cell, (list, dict)):
                raise BadInput(f"column {df.columns[i]!r} row {position} holds {_kind(cell)}; "
                               "each cell must be a number, string, boolean or null")


def read_csv_body(data: bytes, charset: str = "utf-8") -> Any:
    """A DataFrame from a CSV body with a header row, every row as wide as the header.

    The first line is always the header, even when its names are numbers: the
    tutorials post ``0,1,2,3`` as the header of unnamed iris features.
    """
    import pandas as pd

    if not data.strip():
        raise BadInput("CSV body is empty; send a header line of column names, then rows")
    if text_codec(charset) != "utf-8":
        data = decode_text(data, charset, "CSV body").encode("utf-8")
    check_csv_widths(data)
    try:
        df = pd.read_csv(io.BytesIO(data))
    except (ValueError, OverflowError) as exc:  # pandas' parser errors are ValueErrors
        raise BadInput(f"CSV body cannot be read: {exc}") from exc
    return df


def check_csv_widths(data: bytes) -> None:
    """Refuse a CSV whose rows are not all as wide as its first line (pandas would
    fill short rows with NaN, or read a longer first row as an index)."""
    if b'"' in data:  # quoted fields may hold commas and newlines: let csv count them
        reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
        try:
            widths = [(reader.line_num, len(row)) for row in reader if row]
        except csv.Error as exc:
            raise BadInput(f"CSV body cannot be read: {exc} (line {reader.line_num})") \
                from exc
    else:
        widths = _unquoted_widths(data)
    if not widths:
        return
    expected = widths[0][1]
    for line, width in widths:
        if width != expected:
            raise BadInput(f"CSV line {line} has {width} fields but the header has "
                           f"{expected}; every row needs one value per column")


def _unquoted_widths(data: bytes) -> list[tuple[int, int]]:
    """``(line number, fields)`` of the first line and of every line of another width,
    counted with numpy: this runs on every CSV request, so no Python loop per line."""
    import numpy as np

    raw = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [raw.size]))
    lengths = ends - starts
    ends_in_cr = (lengths > 0) & (raw[np.maximum(ends - 1, 0)] == ord("\r"))
    present = np.flatnonzero(lengths - ends_in_cr > 0)
    if present.size == 0:
        return []
    commas = np.flatnonzero(raw == ord(","))
    fields = np.bincount(np.searchsorted(newlines, commas), minlength=starts.size) + 1
    first = present[0]
    odd = present[fields[present] != fields[first]]
    return [(int(i) + 1, int(fields[i])) for i in (first, *odd[:1])]

