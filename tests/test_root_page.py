"""What ``/`` shows: Swagger UI for a 1.x service (a ``bentonb.Service`` or a
``@bentonb.service`` class), as BentoML 1.x does; the bentonb page for a 0.x service."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import numpy as np
import requests

import bentonb
from bentonb.adapters import JsonInput


def _swagger_config_url(page: str) -> str:
    found = re.search(r'SwaggerUIBundle\(\{url: "([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _check_swagger_at_root(server) -> None:
    root = requests.get(server.url + "/", timeout=10)
    assert root.status_code == 200
    assert root.headers["Content-Type"].startswith("text/html")
    assert 'id="swagger-ui"' in root.text
    # The page is the one /docs serves, and its relative URLs reach the spec and assets.
    assert root.text == requests.get(server.url + "/docs", timeout=10).text
    spec_url = urljoin(server.url + "/", _swagger_config_url(root.text))
    assert spec_url == server.url + "/docs.json"
    spec = requests.get(spec_url, timeout=10)
    assert spec.status_code == 200 and "/inference" in spec.json()["paths"]
    script = re.search(r'<script src="([^"]+)"', root.text).group(1)
    asset = requests.get(urljoin(server.url + "/", script), timeout=10)
    assert asset.status_code == 200 and "SwaggerUIBundle" in asset.text


def test_root_of_a_1x_service_is_swagger_ui(serve):
    svc = bentonb.Service("seed")

    @svc.api(input=bentonb.io.NumpyNdarray(), output=bentonb.io.NumpyNdarray())
    def inference(x: np.ndarray) -> np.ndarray:
        return x * 2

    server = serve(svc)
    _check_swagger_at_root(server)
    answer = requests.post(server.url + "/inference", json=[1, 2], timeout=10)
    assert answer.json() == [2, 4]


def test_root_of_a_service_class_is_swagger_ui(serve):
    @bentonb.service
    class Seed:
        @bentonb.api
        def inference(self, value: float) -> dict:
            return {"double": value * 2}

    server = serve(bentonb.sdk.ClassService(Seed))
    _check_swagger_at_root(server)


def test_root_of_a_0x_service_is_the_bentonb_page(serve):
    class Echo(bentonb.BentoService):
        @bentonb.api(input=JsonInput())
        def inference(self, body):
            return body

    server = serve(Echo())
    root = requests.get(server.url + "/", timeout=10)
    assert root.status_code == 200
    assert "Served by bentonb" in root.text
    assert "POST /inference" in root.text and "SwaggerUIBundle" not in root.text
    assert "SwaggerUIBundle" in requests.get(server.url + "/docs", timeout=10).text
