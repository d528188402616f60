"""Hostile bodies over real HTTP: every malformed body is a 4xx naming the problem.

One server with an API per adapter (and per DataFrame orient) answers a table of
hand-made bad bodies; each row says the exact status and what the message must
mention. Then: image bombs refused from their header, strict JSON out, and a bad
request in a DataFrame batch failing alone.
"""

from __future__ import annotations

import io
import json
import logging
import re
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import requests
from helpers import wait_until
from PIL import Image
from pydantic import BaseModel, Field

import bentonb
from bentonb.adapters import (
    DataframeInput,
    DataframeOutput,
    FileInput,
    HttpRequest,
    ImageInput,
    JsonInput,
    JsonOutput,
    NumpyInput,
    StringInput,
)
from bentonb.adapters.base import RequestLimits
from bentonb.errors import PayloadTooLarge

JSON, CSV, TEXT, PNG = "application/json", "text/csv", "text/plain", "image/png"


class Order(BaseModel):
    item: str
    quantity: int = Field(gt=0)
    tags: list[str] = []


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height 1-bit pixels but carries a few bytes of data:
    enough for a decoder to believe it, nothing to hold in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (6, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 0, 0)).save(buf, format=fmt)
    return buf.getvalue()


def form(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary",
         declared: str | None = "b0undary", close: bool = True) -> tuple[str, bytes]:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"'
                                                     if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode() if close else b""
    media = "multipart/form-data" + (f"; boundary={declared}" if declared else "")
    return media, body


class Hostile(bentonb.BentoService):
    """One API per adapter and per DataFrame orient."""

    @bentonb.api(input=DataframeInput())
    def frame(self, df):
        return [len(df.columns)] * len(df)

    @bentonb.api(input=DataframeInput(columns=["a", "b"], dtype="float64"))
    def typed(self, df):
        return (df["a"] + df["b"]).to_numpy()

    @bentonb.api(input=JsonInput())
    def doc(self, value):
        return value

    @bentonb.api(input=JsonInput(pydantic_model=Order))
    def order(self, order):
        return {"total": order.quantity}

    @bentonb.api(input=NumpyInput())
    def array(self, arr):
        return list(arr.shape)

    @bentonb.api(input=NumpyInput(dtype="float32", shape=[-1, 3]))
    def triples(self, arr):
        return arr.sum(axis=1)

    @bentonb.api(input=ImageInput())
    def image(self, img):
        return list(img.shape)

    @bentonb.api(input=FileInput())
    def upload(self, stream):
        return len(stream.read())

    @bentonb.api(input=StringInput())
    def text(self, text):
        return len(text)

    @bentonb.api(input=DataframeInput(orient="records"))
    def records(self, df):
        return [len(df.columns)] * len(df)

    @bentonb.api(input=DataframeInput(orient="values"))
    def values(self, df):
        return [len(df.columns)] * len(df)

    @bentonb.api(input=DataframeInput(orient="split"))
    def split(self, df):
        return [len(df.columns)] * len(df)

    @bentonb.api(input=DataframeInput(orient="columns"))
    def columns(self, df):
        return [len(df.columns)] * len(df)

    @bentonb.api(input=DataframeInput(orient="index"))
    def index(self, df):
        return [len(df.columns)] * len(df)


def deep(levels: int, inner: bytes = b"1") -> bytes:
    return b"[" * levels + inner + b"]" * levels


BAD_BODIES = [  # (api, content type, body, status, the message must match)
    # JSON itself: empty, syntax, numbers, depth, Unicode, charset, media type
    ("doc", JSON, b"", 400, "body is empty"),
    ("doc", JSON, b"  \n ", 400, "body is empty"),
    ("doc", JSON, b"{", 400, "not valid JSON: .* line 1 column"),
    ("doc", JSON, b'{"a": 1,}', 400, "trailing comma"),
    ("doc", JSON, b"{'a': 1}", 400, "not valid JSON: .*string key"),
    ("doc", JSON, b'{"a" 1}', 400, "not valid JSON: .*':'"),
    ("doc", JSON, b"[1, 2] x", 400, "not valid JSON: unexpected content after document"),
    ("doc", JSON, b"NaN", 400, "not valid JSON"),
    ("doc", JSON, b"[Infinity]", 400, "not valid JSON"),
    ("doc", JSON, b"1" * 5000, 400, "number too large for a 64-bit float"),
    ("doc", JSON, b"[1e400]", 400, "number too large for a 64-bit float"),
    ("doc", JSON, deep(100_000), 400, "nested deeper than 64 levels"),
    ("doc", JSON, deep(65), 400, "nested deeper than 64 levels"),
    ("doc", JSON, deep(65, b'"]]]]"'), 400, "nested deeper than 64 levels"),
    ("doc", JSON, deep(65, b'"\\"]]]"'), 400, "nested deeper than 64 levels"),
    ("doc", JSON, b'"\\ud800"', 400, "surrogate"),
    ("doc", JSON, b'["\\udc00x"]', 400, "surrogate"),
    ("doc", JSON, b'"\xff"', 400, "not valid UTF-8 text: invalid start byte at byte 1"),
    ("doc", JSON, b'"\xed\xa0\x80"', 400, "not valid UTF-8 text"),
    ("doc", JSON, b"\xff\xfe[\x001\x00]\x00", 400, "not valid UTF-8 text"),
    ("doc", JSON + "; charset=latin-1", b"{}", 400, "must be UTF-8.*charset=latin-1"),
    ("doc", JSON + "; charset=nope", b"{}", 400, "must be UTF-8.*charset=nope"),
    ("doc", "text/xml", b"<a/>", 415, "does not read Content-Type 'text/xml'"),
    # JsonInput with a pydantic model: every wrong field listed
    ("order", JSON, b"{}", 400, "item: Field required; quantity: Field required"),
    ("order", JSON, b'{"item": "x", "quantity": "many"}', 400, "quantity: .*valid integer"),
    ("order", JSON, b'{"item": "x", "quantity": 0}', 400, "quantity: .*greater than 0"),
    ("order", JSON, b'{"item": 5, "quantity": 1}', 400, "item: .*valid string"),
    ("order", JSON, b'{"item": "x", "quantity": 1, "tags": "a"}', 400, "tags: .*valid list"),
    ("order", JSON, b'{"item": "x", "quantity": 1, "tags": [1]}', 400, r"tags\.0: .*string"),
    ("order", JSON, b"[1, 2]", 400, "invalid Order: body: .*dictionary"),
    ("order", JSON, b"null", 400, "invalid Order: .*dictionary"),
    ("order", JSON, b"", 400, "body is empty"),
    ("order", JSON, b'{"item": "x", "quantity": 1e400}', 400, "too large for a 64-bit"),
    # NumpyInput: numbers only, rectangular, the declared shape
    ("array", JSON, b'["a", "b"]', 400, "holds strings, not numbers"),
    ("array", JSON, b'[1, "2"]', 400, "holds strings, not numbers"),
    ("array", JSON, b'"text"', 400, "holds strings, not numbers"),
    ("array", JSON, b"[[1, 2], [3]]", 400, "ragged"),
    ("array", JSON, b"[[1, 2], 3]", 400, "ragged"),
    ("array", JSON, b"[1, null]", 400, "not numbers"),
    ("array", JSON, b'[{"a": 1}]', 400, "not numbers"),
    ("array", JSON, b'{"a": 1}', 400, "array of numbers, got an object"),
    ("array", JSON, b"", 400, "body is empty"),
    ("triples", JSON, b"[[1, 2]]", 400, r"shape \[1, 2\], expected \[-1, 3\]"),
    ("triples", JSON, b"[1, 2, 3]", 400, r"shape \[3\], expected \[-1, 3\]"),
    ("triples", JSON, b'[["a", "b", "c"]]', 400, "array of float32"),
    ("triples", JSON, b"[[1, 2, 3], [4, 5]]", 400, "ragged"),
    ("triples", JSON, b"[[1, 2, 1e300]]", 400, "numbers too large for float32"),
    # DataframeInput, orient detected
    ("frame", JSON, b"", 400, "body is empty"),
    ("frame", JSON, b'"just a string"', 400, "expected a JSON table .*got a string"),
    ("frame", JSON, b"5", 400, "expected a JSON table .*got a number"),
    ("frame", JSON, b"[[1, 2], [3]]", 400, r"rows have different lengths: \[1, 2\]"),
    ("frame", JSON, b'[[1, 2], {"a": 1}]', 400, "mixes rows of different kinds"),
    ("frame", JSON, b"[1, [2]]", 400, "mixes rows of different kinds"),
    ("frame", JSON, b'{"a": [1, 2], "b": 3}', 400, "mixes columns and single values"),
    ("frame", JSON, b"[[1, [2]]]", 400, "row 0 holds a list or object in a cell"),
    ("frame", JSON, b'[{"a": {"b": 1}}]', 400, "row 0 holds a list or object in a cell"),
    ("frame", JSON, b'{"a": [[1], 2]}', 400, "column 'a' row 0 holds a list"),
    ("frame", JSON, b"[[]]", 400, "rows but no columns"),
    ("frame", JSON, b"[{}]", 400, "holds no input items"),
    ("frame", JSON, b"[]", 400, "holds no input items"),
    ("frame", JSON, b'{"columns": ["a"], "data": [[1, 2]]}', 400,
     "1 columns are named but the rows of \"data\" have 2 values"),
    ("frame", JSON, b'{"data": "x"}', 400, "orient 'split' expects .*got a string as \"data\""),
    ("frame", JSON, b'{"columns": ["a"], "data": [[1]], "index": [1, 2]}', 400,
     "\"index\" must be a list of 1 labels"),
    ("frame", JSON, b'{"a": [1, 2], "b": [1]}', 400, r"columns have different lengths"),
    ("frame", JSON, b'[["\\ud800"]]', 400, "surrogate"),
    ("frame", JSON + "; charset=utf-16", b"[[1]]", 400, "must be UTF-8"),
    ("frame", "text/xml", b"<a/>", 415, "send one of: application/json, text/csv"),
    # DataframeInput, CSV
    ("frame", CSV, b"a,b\n1,2\n3\n", 400, "CSV line 3 has 1 fields but the header has 2"),
    ("frame", CSV, b"a,b\n1,2,3\n", 400, "CSV line 2 has 3 fields but the header has 2"),
    ("frame", CSV, b'a,b\n"x,y",2\n"z"\n', 400, "CSV line 3 has 1 fields but the header has 2"),
    ("frame", CSV, b"a,b\r\n1,2\r\n3,4,5\r\n", 400, "CSV line 3 has 3 fields"),
    ("frame", CSV, b"", 400, "CSV body is empty"),
    ("frame", CSV, b"\n\n", 400, "CSV body is empty"),
    ("frame", CSV, b"a,b\n\xff,1\n", 400, "CSV body cannot be read: 'utf-8' codec"),
    ("frame", CSV + "; charset=nope", b"a\n1\n", 400, "unknown charset 'nope'"),
    ("frame", CSV + "; charset=ascii", b"a\n\xc3\xa9\n", 400, "not valid ascii text"),
    ("frame", CSV, b"a,b\n", 400, "holds no input items"),
    # DataframeInput, orient declared: each refuses the other shapes
    ("records", JSON, b"[[1, 2]]", 400, "orient 'records' expects .*got a list as row 0"),
    ("records", JSON, b'{"a": [1]}', 400, "orient 'records' expects .*got an object"),
    ("records", JSON, b'[{"a": 1}, 5]', 400, "orient 'records' .*got a number as row 1"),
    ("values", JSON, b'[{"a": 1}]', 400, "orient 'values' expects .*got an object as row 0"),
    ("values", JSON, b'{"a": [1]}', 400, "orient 'values' expects .*got an object"),
    ("values", JSON, b"[[1, 2], [3]]", 400, "rows have different lengths"),
    ("values", JSON, b"[1, 2]", 400, "orient 'values' expects .*got a number as row 0"),
    ("split", JSON, b"[[1, 2]]", 400, "orient 'split' expects .*got a list"),
    ("split", JSON, b'{"columns": ["a", "b"]}', 400, "orient 'split' .*got null as \"data\""),
    ("split", JSON, b'{"columns": "a", "data": [[1]]}', 400, "got a string as \"columns\""),
    ("split", JSON, b'{"columns": ["a"], "data": [1, 2]}', 400, "a number as row 0 of \"data\""),
    ("columns", JSON, b"[[1, 2]]", 400, "orient 'columns' expects .*got a list"),
    ("columns", JSON, b'{"a": 1}', 400, "orient 'columns' .*a column that is a single value"),
    ("columns", JSON, b'{"a": [1, 2], "b": [3]}', 400, "columns have different lengths"),
    ("index", JSON, b'[{"a": 1}]', 400, "orient 'index' expects .*got a list"),
    ("index", JSON, b'{"0": [1, 2]}', 400, "orient 'index' .*a row that is not an object"),
    ("index", JSON, b'{"0": 5}', 400, "orient 'index' .*a row that is not an object"),
    # DataframeInput with declared columns and dtype
    ("typed", JSON, b'[{"a": 1}]', 400, "missing column.*: b"),
    ("typed", JSON, b"[[1, 2, 3]]", 400, "rows have 3 values but 2 columns are expected"),
    ("typed", JSON, b'[{"a": "x", "b": 1}]', 400, "cannot be converted to dtype float64"),
    ("typed", CSV, b"a\n1\n", 400, "missing column.*: b"),
    ("typed", CSV, b"a,b\nx,1\n", 400, "cannot be converted to dtype float64"),
    # ImageInput: not images, broken forms, bombs
    ("image", PNG, b"not an image", 400, "cannot read image .*not a PNG, JPEG"),
    ("image", PNG, b"", 400, "image body is empty"),
    ("image", PNG, image_bytes()[:50], 400, "cannot read image .*truncated"),
    ("image", PNG, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 400, "cannot read image"),
    ("image", PNG, b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", 400,
     "cannot read image .*not a PNG"),
    ("image", *form([("note", None, b"hello")]), 400,
     "no 'image' part and no file upload \\(parts sent: 'note'\\)"),
    ("image", *form([("image", "a.png", image_bytes())], declared="other"), 400,
     "does not contain its boundary '--other'"),
    ("image", *form([("image", "a.png", image_bytes())], declared=None), 400,
     "no boundary parameter"),
    ("image", *form([("image", "a.png", image_bytes())], close=False), 400,
     "without its closing boundary"),
    ("image", *form([("image", "a.png", b"GIF89a broken")]), 400, "cannot read image"),
    ("image", "multipart/form-data; boundary=b0undary", b"", 400, "does not contain"),
    ("image", JSON, b"[1]", 415, "send one of: image/\\*"),
    ("image", PNG, png_header(8000, 7500), 413,
     "8000x7500 = 60,000,000 pixels; this server accepts at most 50,000,000"),
    ("image", PNG, png_header(30000, 30000), 413,
     "900000000 pixels.*at most 50,000,000 pixels"),
    # FileInput
    ("upload", "application/octet-stream", b"", 400, "body is empty"),
    ("upload", *form([("name", None, b"x")]), 400, "no 'file' part and no file upload"),
    ("upload", *form([("file", "a.bin", b"x")], declared="nope"), 400, "its boundary"),
    ("upload", *form([("file", "a.bin", b"")]), 400, "uploaded file 'a.bin' is empty"),
    # StringInput
    ("text", TEXT, b"", 400, "body is empty"),
    ("text", TEXT, b"\xff\xfe\xfa", 400, "not valid utf-8 text: invalid start byte at byte 0"),
    ("text", TEXT, b"ok \xed\xa0\x80", 400, "not valid utf-8 text"),
    ("text", TEXT + "; charset=nope", b"hi", 400, "unknown charset 'nope'"),
    ("text", TEXT + "; charset=zlib_codec", b"hi", 400, "unknown charset 'zlib_codec'"),
    ("text", TEXT + "; charset=utf-16-le", b"abc", 400, "not valid utf-16-le text"),
    ("text", TEXT + "; charset=ascii", b"caf\xc3\xa9", 400, "not valid ascii text"),
    ("text", TEXT + "; charset=utf-7", b"+2AA-", 400, "unpaired surrogates"),
    ("text", "application/xml", b"<a/>", 415, "does not read Content-Type"),
]


@pytest.fixture(scope="module")
def hostile_url():
    from bentonb.server.app import ServerConfig
    from bentonb.server.thread import BackgroundServer

    server = BackgroundServer(Hostile(), ServerConfig(host="127.0.0.1", port=0))
    yield server.url
    server.stop(timeout=5)


def test_the_table_is_large():
    assert len(BAD_BODIES) >= 80


@pytest.mark.parametrize("api, media, body, status, message", BAD_BODIES,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(BAD_BODIES)])
def test_bad_body_is_a_clear_4xx(hostile_url, api, media, body, status, message):
    started = time.perf_counter()
    r = requests.post(f"{hostile_url}/{api}", data=body, headers={"Content-Type": media},
                      timeout=30)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    answer = r.json()
    assert set(answer) == {"error", "request_id"}
    assert re.search(message, answer["error"]), answer["error"]
    assert time.perf_counter() - started < 5  # refused from the header, not decoded


GOOD_BODIES = [  # the same APIs accept right bodies: the 4xx above are about the bodies
    ("frame", JSON, b"[[1, 2], [3, 4]]", [2, 2]),
    ("frame", CSV, b'a,b\n"x,y",2\n', [2]),
    ("typed", JSON, b'[{"a": 1, "b": 2.5}]', [3.5]),
    ("records", JSON, b'[{"a": 1}]', [1]),
    ("values", JSON, b"[[1, 2, 3]]", [3]),
    ("split", JSON, b'{"columns": ["a", "b"], "data": [[1, 2]], "index": [7]}', [2]),
    ("columns", JSON, b'{"a": {"0": 1, "1": 2}}', [1, 1]),
    ("index", JSON, b'{"r0": {"a": 1, "b": 2}}', [2]),
    ("doc", JSON, deep(64), json.loads(deep(64))),
    ("doc", JSON + "; charset=UTF-8", "\ufeff{\"é\": 1}".encode(), {"é": 1}),
    ("order", JSON, b'{"item": "x", "quantity": 2}', {"total": 2}),
    ("array", JSON, b"[[1, 2], [3, 4]]", [2, 2]),
    ("triples", JSON, b"[[1, 2, 3]]", [6.0]),
    ("image", *form([("image", "a.png", image_bytes())]), [4, 6, 3]),
    ("image", *form([("other", "a.png", image_bytes("BMP"))]), [4, 6, 3]),
    ("image", PNG, image_bytes("WEBP"), [4, 6, 3]),
    ("upload", *form([("file", "a.bin", b"xyz")]), 3),
    ("text", TEXT + "; charset=latin-1", "café".encode("latin-1"), 4),
]


@pytest.mark.parametrize("api, media, body, expected", GOOD_BODIES,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(GOOD_BODIES)])
def test_good_body_is_answered(hostile_url, api, media, body, expected):
    r = requests.post(f"{hostile_url}/{api}", data=body, headers={"Content-Type": media},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_pixel_cap_comes_from_the_request_limits():
    request = HttpRequest(image_bytes(size=(20, 20)), {"Content-Type": PNG},
                          limits=RequestLimits(max_image_pixels=399))
    with pytest.raises(PayloadTooLarge, match="20x20 = 400 pixels; .* at most 399"):
        ImageInput().from_http(request)
    allowed = HttpRequest(request.body, request.headers, limits=RequestLimits(400))
    assert ImageInput().from_http(allowed).shape == (20, 20, 3)
    assert RequestLimits().max_image_pixels == 50_000_000
    assert RequestLimits().max_json_depth == 64


def test_json_depth_comes_from_the_request_limits():
    shallow = RequestLimits(max_json_depth=3)
    with pytest.raises(Exception, match="nested deeper than 3 levels"):
        JsonInput().from_http(HttpRequest(b"[[[[1]]]]", {}, limits=shallow))
    assert JsonInput().from_http(HttpRequest(b"[[[1]]]", {}, limits=shallow)) == [[[1]]]


# -- strict JSON out -------------------------------------------------------------------------

NOT_FINITE = {"nan": float("nan"), "inf": [float("inf"), -float("inf")],
              "nested": {"deep": [[float("nan"), 1.5]]}, "tuple": (float("-inf"),)}
TABLE = pd.DataFrame({"x": [np.nan, np.inf, -np.inf, 2.0], "y": ["a", None, "c", "d"]})


class NotFinite(bentonb.BentoService):
    """Answers full of NaN and infinities, in every container the outputs take."""

    @bentonb.api(input=JsonInput(), output=JsonOutput())
    def answer(self, kind):
        return {
            "plain": NOT_FINITE,
            "numpy": {"array": np.array([[np.nan, np.inf], [-np.inf, 1.0]], dtype=np.float32),
                      "scalar": np.float64("nan"), "ints": np.array([1, 2])},
            "series": pd.Series([np.nan, np.inf, 3.0]),
            "frame": TABLE,
            "mixed": [{"s": pd.Series([np.inf])}, np.array([np.nan]), (np.float16("inf"),)],
        }[kind]

    @bentonb.api(input=JsonInput(), output=DataframeOutput(orient="records"))
    def records(self, _):
        return TABLE

    @bentonb.api(input=JsonInput(), output=DataframeOutput(orient="split"))
    def split(self, _):
        return TABLE

    @bentonb.api(input=JsonInput(), output=DataframeOutput(orient="columns"))
    def columns(self, _):
        return TABLE

    @bentonb.api(input=JsonInput(), output=DataframeOutput(orient="index"))
    def index(self, _):
        return TABLE

    @bentonb.api(input=JsonInput(), output=DataframeOutput(orient="values"))
    def values(self, _):
        return TABLE


def strict_json(text: str):
    """Parse as RFC 8259 JSON: NaN, Infinity and -Infinity are not JSON."""
    def refuse(constant):
        raise AssertionError(f"the answer holds the non-JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("kind, expected", [
    ("plain", {"nan": None, "inf": [None, None], "nested": {"deep": [[None, 1.5]]},
               "tuple": [None]}),
    ("numpy", {"array": [[None, None], [None, 1.0]], "scalar": None, "ints": [1, 2]}),
    ("series", [None, None, 3.0]),
    ("frame", [{"x": None, "y": "a"}, {"x": None, "y": None}, {"x": None, "y": "c"},
               {"x": 2.0, "y": "d"}]),
    ("mixed", [{"s": [None]}, [None], [None]]),
])
def test_json_output_writes_nan_and_infinity_as_null(serve, kind, expected):
    server = serve(NotFinite())
    r = requests.post(f"{server.url}/answer", json=kind, timeout=30)
    assert r.status_code == 200, r.text
    assert strict_json(r.text) == expected


@pytest.mark.parametrize("orient, expected", [
    ("records", [{"x": None, "y": "a"}, {"x": None, "y": None}, {"x": None, "y": "c"},
                 {"x": 2.0, "y": "d"}]),
    ("split", {"columns": ["x", "y"], "index": [0, 1, 2, 3],
               "data": [[None, "a"], [None, None], [None, "c"], [2.0, "d"]]}),
    ("columns", {"x": {"0": None, "1": None, "2": None, "3": 2.0},
                 "y": {"0": "a", "1": None, "2": "c", "3": "d"}}),
    ("index", {"0": {"x": None, "y": "a"}, "1": {"x": None, "y": None},
               "2": {"x": None, "y": "c"}, "3": {"x": 2.0, "y": "d"}}),
    ("values", [[None, "a"], [None, None], [None, "c"], [2.0, "d"]]),
])
def test_dataframe_output_writes_nan_and_infinity_as_null(serve, orient, expected):
    server = serve(NotFinite())
    r = requests.post(f"{server.url}/{orient}", json={}, timeout=30)
    assert r.status_code == 200, r.text
    assert strict_json(r.text) == expected


# -- a bad request in a DataFrame batch fails alone ------------------------------------------

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class GatedIris(bentonb.BentoService):
    """Iris whose first model call waits at a gate, so that the requests sent meanwhile
    queue up and leave together as the next batch."""

    @bentonb.api(input=DataframeInput(columns=IRIS_COLUMNS, dtype="float64"),
                 output=JsonOutput(), mb_max_batch_size=1000)
    def predict(self, df):
        self.batches.append(len(df))
        self.entered.set()
        self.gate.wait(30)
        return self.model.predict(df.to_numpy())


def test_a_bad_request_in_a_dataframe_batch_fails_alone(serve, iris_model, iris_data):
    X, _ = iris_data
    svc = GatedIris()
    svc.model, svc.batches = iris_model, []
    svc.gate, svc.entered = threading.Event(), threading.Event()
    server = serve(svc)
    url = f"{server.url}/predict"

    def post(payload):
        return requests.post(url, json=payload, timeout=60)

    good = [[dict(zip(IRIS_COLUMNS, row)) for row in X[i:i + 1 + i % 3].tolist()]
            for i in range(0, 100, 20)]
    wrong_dtype = [dict(zip(IRIS_COLUMNS, [5.1, "wide", 1.4, 0.2]))]
    missing_column = [dict(zip(IRIS_COLUMNS[:3], [5.1, 3.5, 1.4]))]
    with ThreadPoolExecutor(8) as pool:
        blocker = pool.submit(post, good[0])
        wait_until(svc.entered.is_set, 20, message="the first batch is in the model")
        answers = [pool.submit(post, body) for body in good]
        bad = [pool.submit(post, body) for body in (wrong_dtype, missing_column)]
        rows = sum(len(body) for body in good)
        queued = f'bentonb_queue_depth{{api="predict"}} {float(rows)}'
        wait_until(lambda: queued in requests.get(f"{server.url}/metrics", timeout=10).text,
                   20, message=f"{rows} rows are queued")
        wait_until(lambda: all(f.done() for f in bad), 20,
                   message="the bad requests are answered")
        svc.gate.set()
        assert blocker.result().status_code == 200
        for body, future in zip(good, answers):
            r = future.result()
            assert r.status_code == 200, r.text
            expected = iris_model.predict([[row[c] for c in IRIS_COLUMNS] for row in body])
            assert r.json() == expected.tolist()
    first, second = (f.result() for f in bad)
    assert first.status_code == 400 and "cannot be converted to dtype float64" in \
        first.json()["error"] and "wide" in first.json()["error"]
    assert second.status_code == 400
    assert second.json()["error"] == "input is missing column(s): petal_width"
    # The good requests shared one model call; the bad ones never reached the model.
    assert svc.batches == [1, rows]
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'bentonb_requests_total{api="predict",status="400"} 2.0' in metrics
    assert 'bentonb_requests_total{api="predict",status="200"} 6.0' in metrics


class GatedBareIris(bentonb.BentoService):
    """The tutorial's iris API (a bare DataframeInput: no columns or dtypes declared),
    with a gate on its first model call so the requests sent meanwhile share a batch."""

    @bentonb.api(input=DataframeInput(), output=JsonOutput(), mb_max_batch_size=1000)
    def predict(self, df):
        self.batches.append(len(df))
        self.entered.set()
        self.gate.wait(30)
        return self.model.predict(df.to_numpy())


def test_a_bad_request_in_an_undeclared_dataframe_batch_fails_alone_with_400(
        serve, iris_model, iris_data, caplog):
    X, _ = iris_data
    svc = GatedBareIris()
    svc.model, svc.batches = iris_model, []
    svc.gate, svc.entered = threading.Event(), threading.Event()
    server = serve(svc)
    url = f"{server.url}/predict"

    def post(payload):
        return requests.post(url, json=payload, timeout=60)

    good = [[dict(zip(IRIS_COLUMNS, row)) for row in X[i:i + 2].tolist()]
            for i in range(0, 100, 20)]
    wrong_dtype = [dict(zip(IRIS_COLUMNS, [5.1, "wide", 1.4, 0.2]))]
    missing_column = [dict(zip(IRIS_COLUMNS[:3], [5.1, 3.5, 1.4]))]
    with ThreadPoolExecutor(8) as pool:
        blocker = pool.submit(post, good[0])
        wait_until(svc.entered.is_set, 20, message="the first batch is in the model")
        answers = [pool.submit(post, body) for body in good]
        bad = [pool.submit(post, body) for body in (wrong_dtype, missing_column)]
        rows = sum(len(body) for body in good) + 2
        queued = f'bentonb_queue_depth{{api="predict"}} {float(rows)}'
        wait_until(lambda: queued in requests.get(f"{server.url}/metrics", timeout=10).text,
                   20, message=f"{rows} rows are queued")
        svc.gate.set()
        assert blocker.result().status_code == 200
        for body, future in zip(good, answers):
            r = future.result()
            assert r.status_code == 200, r.text
            expected = iris_model.predict([[row[c] for c in IRIS_COLUMNS] for row in body])
            assert r.json() == expected.tolist()
    first, second = (f.result() for f in bad)
    assert first.status_code == 400, first.text
    assert "column 'sepal_width' holds text values where other requests to this API " \
           "send number values" in first.json()["error"]
    assert second.status_code == 400, second.text
    assert "missing column(s) 'petal_width'" in second.json()["error"]
    # The bad requests did share the batch (then were isolated by bisection).
    assert svc.batches[:2] == [2, rows]
    # Later, alone in its batch, the same mistake is still a 400, not the model's 500:
    # logged as one warning line naming what the API raised, with no traceback.
    with caplog.at_level(logging.INFO, logger="bentonb.prediction"):
        alone = post(missing_column)
    assert alone.status_code == 400 and "missing column(s) 'petal_width'" in alone.text
    rid = alone.json()["request_id"]
    refused = [r for r in caplog.records if rid in r.getMessage()]
    assert [(r.levelname, r.exc_info) for r in refused] == [("WARNING", None)]
    assert f"predict refused request {rid} (400): API 'predict' cannot use this request: " \
           "the input is missing column(s) 'petal_width'" in refused[0].getMessage()
    assert "(the API raised ValueError: X has 3 features" in refused[0].getMessage()
    extra = post([dict(zip(IRIS_COLUMNS, [5.1, 3.5, 1.4, 0.2]), colour="blue")])
    assert extra.status_code == 400 and "has column(s) 'colour' that other" in extra.text
    null = post([dict(zip(IRIS_COLUMNS, [5.1, None, 1.4, 0.2]))])
    assert null.status_code == 400, null.text
    assert "column 'sepal_width' has null cells where other requests" in null.text
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'bentonb_requests_total{api="predict",status="400"} 5.0' in metrics
    assert 'bentonb_requests_total{api="predict",status="500"}' not in metrics
