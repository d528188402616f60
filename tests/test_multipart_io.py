"""``bentonb.io.Multipart``: a multipart/form-data body whose parts are read by their own
IO, over real HTTP, for a 1.x Service and for a ``@bentonb.service`` method that takes
a file next to other parameters."""

from __future__ import annotations

import io
import json
from pathlib import Path

import requests
from pydantic import BaseModel

import bentonb
from bentonb.io import JSON, Image, Multipart, Text
from bentonb.sdk import ClassService


class Meta(BaseModel):
    scale: float


def _png(width: int = 4, height: int = 3) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _multipart_service() -> bentonb.Service:
    svc = bentonb.Service("multipart_demo")

    @svc.api(input=Multipart(image=Image(), meta=JSON(pydantic_model=Meta), note=Text()),
             output=JSON())
    def describe(parts: dict) -> dict:
        height, width = parts["image"].shape[:2]
        return {"pixels": height * width * parts["meta"].scale, "note": parts["note"]}

    return svc


def test_multipart_parts_each_read_by_their_io(serve):
    server = serve(_multipart_service())
    files = {"image": ("a.png", _png(), "image/png"),
             "meta": (None, json.dumps({"scale": 0.5}), "application/json"),
             "note": (None, "hello", "text/plain")}
    r = requests.post(f"{server.url}/describe", files=files, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"pixels": 6.0, "note": "hello"}

    missing = {k: v for k, v in files.items() if k != "note"}
    r = requests.post(f"{server.url}/describe", files=missing, timeout=30)
    assert r.status_code == 400 and "missing part(s) 'note'" in r.json()["error"]
    extra = {**files, "colour": (None, "red", "text/plain")}
    r = requests.post(f"{server.url}/describe", files=extra, timeout=30)
    assert r.status_code == 400 and "unexpected part(s) 'colour'" in r.json()["error"]
    bad = {**files, "meta": (None, json.dumps({"scale": "big"}), "application/json")}
    r = requests.post(f"{server.url}/describe", files=bad, timeout=30)
    assert r.status_code == 400
    assert r.json()["error"].startswith("part 'meta': invalid Meta: scale:")
    r = requests.post(f"{server.url}/describe", json={"scale": 1}, timeout=30)
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]

    from openapi_spec_validator import validate

    spec = requests.get(f"{server.url}/docs.json", timeout=30).json()
    validate(spec)
    form = spec["paths"]["/describe"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["required"] == ["image", "meta", "note"]
    assert form["schema"]["properties"]["image"] == {"type": "string", "format": "binary"}
    assert form["schema"]["properties"]["meta"]["properties"]["scale"]["type"] == "number"
    assert form["encoding"]["meta"] == {"contentType": "application/json"}


def test_class_method_with_a_file_parameter_reads_a_form(modules, serve):
    module = modules.load("file_class_service", '''
from pathlib import Path

import bentonb


@bentonb.service
class Uploads:
    @bentonb.api
    def measure(self, document: Path, unit: str) -> dict:
        return {"name": document.name, "size": len(document.read_bytes()), "unit": unit,
                "exists_during_call": document.is_file()}
''')
    server = serve(ClassService(module.Uploads))
    api = server.state.runtime.apis["measure"]
    assert api.input_adapter.type_name == "Multipart"
    r = requests.post(f"{server.url}/measure", timeout=30,
                      files={"document": ("notes.txt", b"12345", "text/plain"),
                             "unit": (None, "bytes", "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "notes.txt", "size": 5, "unit": "bytes",
                        "exists_during_call": True}
    r = requests.post(f"{server.url}/measure", timeout=30,
                      files={"unit": (None, "bytes", "text/plain")})
    assert r.status_code == 400 and "missing part(s) 'document'" in r.json()["error"]
    assert not list(Path(__import__("tempfile").gettempdir()).glob("bentonb-upload-*/notes.txt"))
