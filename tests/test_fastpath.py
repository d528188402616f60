"""The fast path of common prediction requests answers exactly as the full handler does.

A same-origin ``Origin`` header sends a request through the full Tornado handler,
so each case is asked both ways on one server and the answers compared: status,
body, and the headers a client reads.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import wait_until
from PIL import Image

import bentonb
from bentonb.adapters import DataframeInput, ImageInput, JsonInput

KEY = "k" * 16


class ThreadNotingImageInput(ImageInput):
    """ImageInput noting the thread each request is decoded on."""

    threads: list[str] = []

    def parse_http(self, request):
        type(self).threads.append(threading.current_thread().name)
        return super().parse_http(request)


class GatedImageInput(ImageInput):
    """ImageInput whose decoding waits for ``gate``, counting the bodies it parses."""

    gate = threading.Event()
    parsed = 0

    def parse_http(self, request):
        type(self).parsed += 1
        type(self).gate.wait(10)
        return super().parse_http(request)


def png(width: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, 3), (0, 128, 255)).save(buf, format="PNG")
    return buf.getvalue()


class Doubler(bentonb.BentoService):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.started, self.release = threading.Event(), threading.Event()

    @bentonb.api(input=JsonInput(), batch=True)
    def double(self, items):
        self.seen.extend(i["n"] for i in items if isinstance(i, dict) and "n" in i)
        if any(i.get("boom") for i in items):
            raise ValueError("boom")
        if any(i.get("hold") for i in items):
            self.started.set()
            self.release.wait(5)
        return [{"double": 2 * i["n"]} for i in items]

    @bentonb.api(input=DataframeInput(columns=["a", "b"], dtype={"a": "float", "b": "float"}))
    def total(self, df):
        return (df["a"] + df["b"]).to_numpy()

    @bentonb.api(input=JsonInput())
    def single(self, body):
        return {"got": body}

    @bentonb.api(input=ThreadNotingImageInput(), batch=True)
    def width(self, images):
        return [{"width": image.shape[1]} for image in images]

    @bentonb.api(input=GatedImageInput(), batch=True)
    def gated(self, images):
        return [{"width": image.shape[1]} for image in images]


def both_ways(url: str, body: bytes, **headers: str) -> tuple[requests.Response, ...]:
    host = url.split("//")[1].split("/")[0]
    plain = requests.post(url, data=body, headers=headers, timeout=10)
    full = requests.post(url, data=body, headers={**headers, "Origin": f"http://{host}"},
                         timeout=10)
    return plain, full


def same_answer(plain: requests.Response, full: requests.Response) -> None:
    assert plain.status_code == full.status_code
    assert plain.headers["Content-Type"] == full.headers["Content-Type"]
    for name in ("Retry-After", "WWW-Authenticate", "Server"):
        assert plain.headers.get(name) == full.headers.get(name)
    assert plain.headers["X-Request-Id"] and plain.headers["Date"]
    if plain.headers["Content-Type"] == "application/json":
        a, b = plain.json(), full.json()
        if isinstance(a, dict) and "request_id" in a:
            ids = a.pop("request_id"), b.pop("request_id")
            assert ids == (plain.headers["X-Request-Id"], full.headers["X-Request-Id"])
            b["error"] = b["error"].replace(ids[1], ids[0])
        assert a == b
    else:
        assert plain.content == full.content


CASES = [
    ("double", b'{"n": 4}', {"Content-Type": "application/json"}, 200),
    ("double", b'{"n": 2, "more": [1, 2]}', {"Content-Type": "application/json"}, 200),
    ("double", b'{"n": ', {"Content-Type": "application/json"}, 400),
    ("total", b"[]", {"Content-Type": "application/json"}, 400),
    ("double", b'{"n": 1}', {"Content-Type": "image/png"}, 415),
    ("double", b'{"n": 1, "boom": true}', {"Content-Type": "application/json"}, 500),
    ("total", b'[{"a": 1, "b": 2}]', {"Content-Type": "application/json"}, 200),
    ("total", b'[{"a": "x", "b": 2}]', {"Content-Type": "application/json"}, 400),
    ("total", b"a,b\n1,2\n3,4\n", {"Content-Type": "text/csv"}, 200),
    ("single", b'"hi"', {"Content-Type": "application/json"}, 200),
    ("single", b"\xff\xfe", {"Content-Type": "application/json"}, 400),
    ("width", png(5), {"Content-Type": "image/png"}, 200),
    ("width", b"\x89PNG not really", {"Content-Type": "image/png"}, 400),
    ("width", b'{"n": 1}', {"Content-Type": "application/json"}, 415),
]


@pytest.mark.parametrize("route,body,headers,status", CASES)
def test_fast_and_full_paths_answer_alike(serve, route, body, headers, status):
    server = serve(Doubler())
    before = server.app.answered_fast
    plain, full = both_ways(f"{server.url}/{route}", body, **headers)
    assert plain.status_code == status, plain.text
    same_answer(plain, full)
    assert server.app.answered_fast == before + 1  # the first took the fast path


def test_the_key_is_checked_and_a_wrong_one_answered_by_the_full_handler(serve):
    server = serve(Doubler(), api_key=KEY)
    url = f"{server.url}/double"
    plain, full = both_ways(url, b'{"n": 1}', **{"Content-Type": "application/json"})
    assert plain.status_code == 401
    same_answer(plain, full)
    good = requests.post(url, json={"n": 3}, headers={"Authorization": f"Bearer {KEY}"},
                         timeout=10)
    assert good.status_code == 200 and good.json() == {"double": 6}
    assert requests.post(url, json={"n": 3}, headers={"X-API-Key": KEY},
                         timeout=10).json() == {"double": 6}
    assert server.app.answered_fast == 2


def test_oversized_unknown_host_and_unknown_route_go_to_the_full_handler(serve):
    server = serve(Doubler(), max_request_size=100)
    url = f"{server.url}/double"
    assert requests.post(url, data=b"[" + b"1," * 100 + b"1]", timeout=10).status_code == 413
    assert requests.post(url, json={"n": 1}, headers={"Host": "evil.example"},
                         timeout=10).status_code == 403
    assert requests.post(f"{server.url}/nope", json={"n": 1}, timeout=10).status_code == 404
    assert server.app.answered_fast == 0


def test_request_ids_are_kept_when_safe_and_replaced_when_not(serve):
    server = serve(Doubler())
    url = f"{server.url}/double"
    kept = requests.post(url, json={"n": 1}, headers={"X-Request-Id": "abc-123"}, timeout=10)
    assert kept.headers["X-Request-Id"] == "abc-123"
    for given in ("a b", "x" * 129, "<script>"):
        bad = requests.post(url, json={"n": 1}, headers={"X-Request-Id": given}, timeout=10)
        assert bad.status_code == 200
        assert bad.headers["X-Request-Id"] not in ("", given)
        assert all(c.isalnum() for c in bad.headers["X-Request-Id"])


def test_timeout_gives_504_and_the_access_log_and_metrics_count_it(serve):
    svc = Doubler()
    server = serve(svc, timeout=0.3)
    started = time.perf_counter()
    answer = requests.post(f"{server.url}/double", json={"n": 1, "hold": True}, timeout=10)
    assert answer.status_code == 504
    assert answer.json()["error"] == "API 'double' did not answer within 0.3 s (its timeout)"
    assert time.perf_counter() - started < 3
    svc.release.set()
    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'bentonb_requests_total{api="double",status="504"} 1.0' in metrics
    assert 'bentonb_requests_in_progress{api="double"} 0.0' in metrics


def test_a_client_gone_before_its_turn_is_never_seen_by_the_model(serve):
    svc = Doubler()
    server = serve(svc)
    holder = threading.Thread(target=requests.post, args=(f"{server.url}/double",),
                              kwargs={"json": {"n": 1, "hold": True}, "timeout": 10})
    holder.start()
    assert svc.started.wait(5)
    port = int(server.url.rsplit(":", 1)[1])
    body = b'{"n": 77}'
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /double HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        wait_until(lambda: server.app.state.runtime.runners["double"].queued_items == 1, 5)
    # The connection is closed while the request waits behind the held batch.
    wait_until(lambda: server.app.state.runtime.runners["double"].queued_items == 0, 5)
    svc.release.set()
    holder.join(10)
    assert requests.post(f"{server.url}/double", json={"n": 5}, timeout=10).json() == \
        {"double": 10}
    assert 77 not in svc.seen and 5 in svc.seen
    metrics = wait_until(lambda: (m := requests.get(f"{server.url}/metrics", timeout=5).text)
                         and 'status="499"' in m and m, 5)
    assert 'bentonb_requests_in_progress{api="double"} 0.0' in metrics


def test_many_concurrent_clients_each_get_their_own_answer(serve):
    server = serve(Doubler())
    url = f"{server.url}/double"
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda n: requests.post(url, json={"n": n}, timeout=10).json(),
                                range(300)))
    assert answers == [{"double": 2 * n} for n in range(300)]
    assert server.app.answered_fast == 300


def test_images_are_decoded_on_the_parse_threads_and_each_answered_in_its_own_request(serve):
    server = serve(Doubler())
    url = f"{server.url}/width"
    ThreadNotingImageInput.threads.clear()

    def ask(width: int) -> dict:
        return requests.post(url, data=png(width), headers={"Content-Type": "image/png"},
                             timeout=10).json()

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(ask, range(1, 201)))
    assert answers == [{"width": w} for w in range(1, 201)]
    assert server.app.answered_fast == 200
    threads = set(ThreadNotingImageInput.threads)
    assert threads and all(name.startswith("bentonb-parse-") for name in threads), threads


def test_images_answered_before_their_turn_to_decode_are_never_decoded(serve):
    from bentonb.server.predict import MAX_PARSE_THREADS

    server = serve(Doubler(), timeout=1)
    GatedImageInput.gate.clear()
    GatedImageInput.parsed = 0
    requests_sent = MAX_PARSE_THREADS + 12

    def ask(width: int) -> int:
        return requests.post(f"{server.url}/gated", data=png(width),
                             headers={"Content-Type": "image/png"}, timeout=10).status_code

    # Every parse thread is held by a decode; the other images wait for a thread and
    # time out meanwhile.
    with ThreadPoolExecutor(requests_sent) as pool:
        statuses = list(pool.map(ask, range(1, requests_sent + 1)))
    assert statuses == [504] * requests_sent
    GatedImageInput.gate.set()
    state = server.app.state
    wait_until(lambda: state.in_flight == 0, 5, message="the requests to be counted out")
    # One more image, parsed after every body queued before it (the threads take them
    # in order): only those a thread had begun before their answer were decoded.
    last = requests.post(f"{server.url}/gated", data=png(7),
                         headers={"Content-Type": "image/png"}, timeout=10)
    assert last.json() == {"width": 7}, last.text
    assert 1 < GatedImageInput.parsed <= MAX_PARSE_THREADS + 1
    metrics = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'bentonb_requests_in_progress{api="gated"} 0.0' in metrics


@pytest.mark.parametrize("origin", [False, True], ids=["fast", "full"])
def test_a_body_slower_than_the_timeout_ends_its_connection(serve, origin):
    server = serve(Doubler(), timeout=0.5)
    port = int(server.url.rsplit(":", 1)[1])
    extra = f"Origin: http://127.0.0.1:{port}\r\n".encode() if origin else b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /double HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 100\r\n" + extra + b"\r\n{\"n\":")
        sock.settimeout(10)
        started = time.perf_counter()
        assert sock.recv(1024) == b""  # closed by the server, no answer
        assert time.perf_counter() - started < 5
    assert requests.post(f"{server.url}/double", json={"n": 2}, timeout=10).json() == \
        {"double": 4}


def test_1x_apis_without_ctx_take_the_fast_path_and_answer_alike(serve, store_home):
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    bentonb.sklearn.save_model("iris_fast", LogisticRegression(max_iter=500).fit(x, y),
                               signatures={"predict": {"batchable": True}})
    runner = bentonb.sklearn.get("iris_fast:latest").to_runner()
    svc = bentonb.Service("iris_fast", runners=[runner])
    io = bentonb.io

    @svc.api(input=io.NumpyNdarray(), output=io.NumpyNdarray())
    def classify(rows: np.ndarray) -> np.ndarray:
        return runner.predict.run(rows)

    @svc.api(input=io.NumpyNdarray(), output=io.NumpyNdarray())
    async def classify_async(rows: np.ndarray) -> np.ndarray:
        return await runner.predict.async_run(rows)

    @svc.api(input=io.JSON(), output=io.JSON())
    def status(body, ctx: bentonb.Context):
        ctx.response.status_code = 202
        return {"ok": True}

    server = serve(svc)
    rows = b"[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]"
    for route in ("classify", "classify_async"):
        plain, full = both_ways(f"{server.url}/{route}", rows,
                                **{"Content-Type": "application/json"})
        assert plain.status_code == 200 and plain.json() == [0, 2]
        same_answer(plain, full)
        plain, full = both_ways(f"{server.url}/{route}", b'[["a"]]',
                                **{"Content-Type": "application/json"})
        assert plain.status_code == 400
        same_answer(plain, full)
    assert server.app.answered_fast == 4
    assert requests.post(f"{server.url}/status", json={}, timeout=10).status_code == 202
    assert server.app.answered_fast == 4  # an API reading ctx goes to the full handler
