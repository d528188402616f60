"""Adapters: every input format they read, every way they refuse bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import BaseModel

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
from bentonb.adapters.base import schema_difference
from bentonb.errors import BadInput, InvalidArgument, OutputError, UnsupportedMediaType

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
COLS = ["sl", "sw", "pl", "pw"]


def json_request(value, content_type="application/json"):
    return HttpRequest(json.dumps(value).encode(), {"Content-Type": content_type})


def png_bytes(size=(6, 4), color=(255, 0, 0), mode="RGB", fmt="PNG"):
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)
    return buf.getvalue()


def multipart(field, filename, content, content_type="image/png"):
    boundary = "xXbOuNdArYXx"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return HttpRequest(body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


# -- DataframeInput ----------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    ROWS,                                                           # values
    [dict(zip(COLS, r)) for r in ROWS],                             # records
    {c: [r[i] for r in ROWS] for i, c in enumerate(COLS)},          # columns (lists)
    {c: {"0": ROWS[0][i], "1": ROWS[1][i]} for i, c in enumerate(COLS)},  # columns (dicts)
    {"columns": COLS, "data": ROWS},                                # split
    {"columns": COLS, "index": [0, 1], "data": ROWS},               # split with index
])
def test_dataframe_input_detects_every_json_orient(payload):
    df = DataframeInput().from_http(json_request(payload))
    assert df.shape == (2, 4)
    assert df.to_numpy().tolist() == ROWS


def test_dataframe_input_reads_csv_with_header():
    body = b"sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    df = DataframeInput().from_http(HttpRequest(body, {"Content-Type": "text/csv"}))
    assert list(df.columns) == COLS and df.to_numpy().tolist() == ROWS


def test_dataframe_input_reads_a_numeric_csv_header_as_the_header():
    body = b"0,1,2,3\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    df = DataframeInput().from_http(HttpRequest(body, {"Content-Type": "text/csv"}))
    assert list(df.columns) == ["0", "1", "2", "3"] and df.to_numpy().tolist() == ROWS


def test_dataframe_input_columns_name_reorder_and_check():
    adapter = DataframeInput(columns=["pw", "sl"])
    df = adapter.from_http(json_request([dict(zip(COLS, r)) for r in ROWS]))
    assert list(df.columns) == ["pw", "sl"] and df.iloc[0].tolist() == [0.2, 5.1]
    with pytest.raises(BadInput, match="missing column.*pw"):
        adapter.from_http(json_request([{"sl": 1}]))
    named = DataframeInput(columns=COLS).from_http(json_request(ROWS))
    assert list(named.columns) == COLS
    with pytest.raises(BadInput, match="rows have 2 values but 4 columns"):
        DataframeInput(columns=COLS).from_http(json_request([[1, 2]]))


@pytest.mark.parametrize("failed,why", [
    (b'[{"a": 1.5, "b": "x"}]', None),  # the same kinds: not the client's mistake
    (b'[{"a": 1.5}]', "missing column(s) 'b'"),
    (b'[{"a": 1.5, "b": "x", "c": 2}]', "has column(s) 'c' that other requests"),
    (b'[{"a": "wide", "b": "x"}]', "column 'a' holds text values where other requests "
                                   "to this API send number values"),
    (b'[{"a": null, "b": "x"}]', "column 'a' has null cells where other requests to "
                                 "this API send number values"),
    (b'[{"a": 1.5, "b": "x"}, {"a": null, "b": "y"}]', "column 'a' has null cells"),
    (b'[{"a": true, "b": null}]', "column 'a' holds bool values"),
])
def test_dataframe_schema_difference_names_the_clients_mistake(failed, why):
    adapter = DataframeInput()

    def schema(body):
        return adapter.schema(adapter.parse_http(json_request(json.loads(body))))

    difference = schema_difference(schema(failed), schema(b'[{"a": 2, "b": "y"}]'))
    assert difference == why if why is None else why in difference
    # a column the request that worked left null says nothing of its kind
    assert schema_difference(schema(b'[{"a": "x", "b": "y"}]'),
                             schema(b'[{"a": null, "b": "y"}]')) is None
    # nulls the request that worked also had are not the difference
    assert schema_difference(schema(b'[{"a": null, "b": "y"}]'),
                             schema(b'[{"a": 1, "b": "y"}, {"a": null, "b": "z"}]')) is None


def test_dataframe_input_dtype():
    df = DataframeInput(dtype="float32").from_http(json_request([[1, 2]]))
    assert all(str(t) == "float32" for t in df.dtypes)
    df = DataframeInput(dtype={"a": "int64"}).from_http(json_request([{"a": "3", "b": "x"}]))
    assert df["a"].tolist() == [3]
    with pytest.raises(BadInput, match="cannot be converted to dtype"):
        DataframeInput(dtype="int64").from_http(json_request([["abc"]]))


@pytest.mark.parametrize("body, message", [
    (b"[[1, 2], [3]]", "different lengths"),
    (b'"just a string"', "expected a JSON table"),
    (b"[[1, 2], {\"a\": 1}]", "mixes rows"),
    (b"{\"a\": [1, 2], \"b\": 3}", "mixes columns and single values"),
    (b"[[1, 2,]]", "not valid JSON: .* at line 1 column"),
])
def test_dataframe_input_refuses_bad_json(body, message):
    with pytest.raises(BadInput, match=message):
        DataframeInput().from_http(HttpRequest(body, {"Content-Type": "application/json"}))


def test_dataframe_input_refuses_other_media_types():
    with pytest.raises(UnsupportedMediaType, match="text/xml"):
        DataframeInput().from_http(HttpRequest(b"<a/>", {"Content-Type": "text/xml"}))


def test_dataframe_input_merge_and_count():
    adapter = DataframeInput()
    a, b = pd.DataFrame([[1, 2]]), pd.DataFrame([[3, 4], [5, 6]])
    assert adapter.count(b) == 2
    assert adapter.merge([a, b]).to_numpy().tolist() == [[1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize("bodies,columns", [
    ([b"[[5.1, 3.5, 1.4, 0.2]]", b"[[6.0, 2.2, 5.0, 1.5], [7.7, 3.0, 6.1, 2.3]]"], None),
    ([b"[[5.1, 3.5]]", b"[[6.0, 2.2]]"], ["a", "b"]),
    ([b"[[1, 2.5]]", b"[[3.0, 4.5]]"], None),  # an int: that column stays int64 per row
    ([b"[[1.5, true]]", b"[[2.5, null]]"], None),
    ([b"[[1.5, \"x\"]]"], ["a", "b"]),
])
def test_dataframe_input_merged_rows_equal_pandas_own_frame(bodies, columns):
    """However the batch frame is built, it is the frame pandas makes of the rows."""
    adapter = DataframeInput(columns=columns)
    parsed = [adapter.parse_http(HttpRequest(b, {"Content-Type": "application/json"}))
              for b in bodies]
    rows = [r for b in bodies for r in json.loads(b)]
    pd.testing.assert_frame_equal(adapter.merge(parsed), pd.DataFrame(rows, columns=columns))


def test_dataframe_input_cli_file_and_text(tmp_path):
    csv = tmp_path / "iris_data.csv"
    csv.write_text("sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n")
    assert DataframeInput().from_cli(str(csv)).to_numpy().tolist() == [ROWS[0]]
    assert DataframeInput().from_cli("[[5.1, 3.5, 1.4, 0.2]]").to_numpy().tolist() == [ROWS[0]]
    assert DataframeInput().from_cli("a,b\n1,2\n", "csv").to_numpy().tolist() == [[1, 2]]


# -- JsonInput -----------------------------------------------------------------------------

class InferenceRequest(BaseModel):
    driver_ids: list[int]


class InferenceResponse(BaseModel):
    prediction: float | None = None
    error: str | None = None


def test_json_input_plain_and_get_query():
    assert JsonInput().from_http(json_request({"text": "hi"})) == {"text": "hi"}
    get = HttpRequest(method="GET", query={"text": ["hello"]})
    assert JsonInput().from_http(get) == {"text": "hello"}


def test_json_input_pydantic_model_validates():
    adapter = JsonInput(pydantic_model=InferenceRequest)
    value = adapter.from_http(json_request({"driver_ids": [1001, 1002]}))
    assert isinstance(value, InferenceRequest) and value.driver_ids == [1001, 1002]
    with pytest.raises(BadInput, match=r"invalid InferenceRequest: driver_ids\.1: .*integer"):
        adapter.from_http(json_request({"driver_ids": [1, "x"]}))
    with pytest.raises(BadInput, match="driver_ids: Field required"):
        adapter.from_http(json_request({}))
    assert "driver_ids" in adapter.openapi_request()["application/json"]["schema"]["properties"]
    assert json.loads(adapter.example()) == {"driver_ids": [1]}


def test_json_input_bad_json_names_line_and_column():
    with pytest.raises(BadInput, match="expected a string key at line 2 column 3"):
        JsonInput().from_http(HttpRequest(b'{"a": 1,\n  x}',
                                          {"Content-Type": "application/json"}))
    with pytest.raises(InvalidArgument, match="pydantic BaseModel"):
        JsonInput(pydantic_model=dict)


# -- ImageInput ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                        ("BMP", "image/bmp"), ("GIF", "image/gif")])
def test_image_input_raw_body_gives_rgb_hwc_uint8(fmt, media):
    img = ImageInput().from_http(HttpRequest(png_bytes(fmt=fmt), {"Content-Type": media}))
    assert img.shape == (4, 6, 3) and img.dtype == np.uint8
    assert img[0, 0, 0] > 240 and img[0, 0, 1] < 15


def test_image_input_multipart_and_pilmode():
    img = ImageInput().from_http(multipart("image", "red.png", png_bytes()))
    assert img.shape == (4, 6, 3) and img[0, 0].tolist() == [255, 0, 0]
    grey = ImageInput(pilmode="L").from_http(HttpRequest(png_bytes(), {"Content-Type":
                                                                         "image/png"}))
    assert grey.shape == (4, 6)


def test_image_input_refuses_unreadable_and_wrong_type():
    with pytest.raises(BadInput, match="cannot read image"):
        ImageInput().from_http(HttpRequest(b"not an image", {"Content-Type": "image/png"}))
    with pytest.raises(BadInput, match="empty"):
        ImageInput().from_http(HttpRequest(b"", {"Content-Type": "image/png"}))
    with pytest.raises(UnsupportedMediaType, match="application/json"):
        ImageInput().from_http(json_request([1]))


def test_image_input_cli_reads_file(tmp_path):
    path = tmp_path / "dog.jpg"
    path.write_bytes(png_bytes(fmt="JPEG"))
    assert ImageInput().from_cli(str(path)).shape == (4, 6, 3)


# -- FileInput, StringInput, NumpyInput ------------------------------------------------------

def test_file_input_raw_and_multipart():
    stream = FileInput().from_http(HttpRequest(b"\x00\x01abc", {"Content-Type":
                                                               "application/octet-stream"}))
    assert stream.read() == b"\x00\x01abc"
    stream = FileInput().from_http(multipart("file", "data.bin", b"xyz", "text/plain"))
    assert stream.read() == b"xyz" and stream.name == "data.bin"


def test_string_input_charset_query_and_errors():
    body = "xin chào".encode("utf-16")
    req = HttpRequest(body, {"Content-Type": "text/plain; charset=utf-16"})
    assert StringInput().from_http(req) == "xin chào"
    assert StringInput().from_http(HttpRequest(method="GET", query={"text": ["hi"]})) == "hi"
    with pytest.raises(BadInput, match="not valid utf-8"):
        StringInput().from_http(HttpRequest(b"\xff\xfe\xfa", {"Content-Type": "text/plain"}))
    with pytest.raises(BadInput, match=r"\?text="):
        StringInput().from_http(HttpRequest(method="GET"))


def test_numpy_input_dtype_and_shape():
    adapter = NumpyInput(dtype="float32", shape=[-1, 3])
    arr = adapter.from_http(json_request([[1, 2, 3], [4, 5, 6]]))
    assert arr.dtype == np.float32 and arr.shape == (2, 3)
    with pytest.raises(BadInput, match=r"shape \[2, 2\], expected \[-1, 3\]"):
        adapter.from_http(json_request([[1, 2], [3, 4]]))
    with pytest.raises(BadInput, match="ragged"):
        NumpyInput().from_http(json_request([[1, 2], [3]]))
    with pytest.raises(BadInput, match="of int32"):
        NumpyInput(dtype="int32").from_http(json_request([["a"]]))


# -- outputs -------------------------------------------------------------------------------

def test_json_output_handles_numpy_pandas_pydantic():
    out = JsonOutput()
    assert json.loads(out.to_http(np.array([0, 2])).body) == [0, 2]
    assert json.loads(out.to_http(np.float32(0.5)).body) == 0.5
    assert json.loads(out.to_http(pd.Series([1, 2])).body) == [1, 2]
    assert json.loads(out.to_http(pd.DataFrame({"a": [1]})).body) == [{"a": 1}]
    assert json.loads(out.to_http(InferenceResponse(prediction=1.5)).body) == \
        {"prediction": 1.5, "error": None}
    assert json.loads(out.to_http({"k": (1, "é")}).body) == {"k": [1, "é"]}


def test_json_output_refuses_bytes_and_unknown_objects():
    with pytest.raises(OutputError, match="cannot send bytes"):
        JsonOutput().to_http(b"raw")
    with pytest.raises(OutputError, match="cannot encode a builtins.object"):
        JsonOutput().to_http(object())


def test_json_output_pydantic_model_validates_the_answer():
    out = JsonOutput(pydantic_model=InferenceResponse)
    assert json.loads(out.to_http({"prediction": 2}).body) == {"prediction": 2.0, "error": None}
    with pytest.raises(OutputError, match="invalid InferenceResponse: prediction"):
        out.to_http({"prediction": "high"})
    schema = out.openapi_response()["application/json"]["schema"]
    assert set(schema["properties"]) == {"prediction", "error"}


def test_dataframe_output_json_and_csv():
    df = pd.DataFrame({"id": [1, 2], "pred": [0, 2]})
    assert json.loads(DataframeOutput().to_http(df).body) == [{"id": 1, "pred": 0},
                                                              {"id": 2, "pred": 2}]
    assert DataframeOutput(output_format="csv").to_http(df).body == b"id,pred\n1,0\n2,2\n"
    assert json.loads(DataframeOutput().to_http([1, 2]).body) == [{"0": 1}, {"0": 2}]
    with pytest.raises(InvalidArgument, match="orient"):
        DataframeOutput(orient="sideways")


def test_json_output_is_strict_and_exact():
    out = JsonOutput()
    assert out.to_http({"big": 2 ** 70, "nan": float("nan")}).body == \
        b'{"big": 1180591620717411303424, "nan": null}'
    assert out.to_http([np.float64("inf"), np.float32(0.5)]).body == b"[null,0.5]"
    with pytest.raises(OutputError, match="surrogates not allowed"):
        out.to_http("\ud800")


def test_request_limits_are_checked():
    from bentonb.adapters import RequestLimits

    assert HttpRequest().limits == RequestLimits(50_000_000, 64)
    with pytest.raises(InvalidArgument, match="max_json_depth=...\\) must be a positive int"):
        RequestLimits(max_json_depth=0)
    with pytest.raises(InvalidArgument, match="max_image_pixels"):
        RequestLimits(max_image_pixels=True)
