"""The HTTP door treats the outside as hostile: Host and Origin checks, CORS, methods,
request ids, bounded non-batch APIs, timeouts, clients that go away, heavy parsing."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from helpers import wait_until
from PIL import Image

import bentonb
from bentonb.adapters import ImageInput, JsonInput
from bentonb.errors import InvalidArgument
from bentonb.server.guards import RequestGuard, request_id


class Guarded(bentonb.BentoService):
    """Answers are a function of the input; every call is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []
        self.release = threading.Event()

    @bentonb.api(input=JsonInput())
    def echo(self, body):
        return {"echo": body}

    @bentonb.api(input=JsonInput())
    def slow(self, body):
        time.sleep(body["seconds"])
        return {"id": body.get("id"), "slept": body["seconds"]}

    @bentonb.api(input=JsonInput())
    def hold(self, body):
        self.calls.append(body["id"])
        if body.get("wait"):
            self.release.wait(10)
        return body["id"]

    @bentonb.api(input=JsonInput(), batch=True)
    def hold_batch(self, items):
        self.calls.append([i["id"] for i in items])
        if any(i.get("wait") for i in items):
            self.release.wait(10)
        return [i["id"] for i in items]

    @bentonb.api(input=JsonInput(), batch=True)
    def slow_batch(self, items):
        time.sleep(items[0]["seconds"])
        return [i["seconds"] for i in items]


def metric(server, line_start: str) -> float | None:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


# --- Host: DNS rebinding -------------------------------------------------------------


def test_foreign_host_is_refused_and_loopback_names_are_served(serve):
    server = serve(Guarded())
    r = requests.get(f"{server.url}/healthz", headers={"Host": "evil.example"}, timeout=5)
    assert r.status_code == 403
    assert "Host 'evil.example' is not served here" in r.json()["error"]
    assert "--allow-host" in r.json()["error"] and r.json()["request_id"]
    r = requests.post(f"{server.url}/echo", json={"a": 1}, timeout=5,
                      headers={"Host": "evil.example:5000"})
    assert r.status_code == 403
    for host in ("localhost", "localhost:1", "127.0.0.1:9", "[::1]:8080", "LOCALHOST"):
        r = requests.post(f"{server.url}/echo", json={"a": 1}, headers={"Host": host},
                          timeout=5)
        assert r.status_code == 200 and r.json() == {"echo": {"a": 1}}, host
    # The Swagger assets pass the same check.
    r = requests.get(f"{server.url}/docs/static/swagger-ui.css", timeout=5,
                     headers={"Host": "evil.example"})
    assert r.status_code == 403


def test_allow_host_patterns_and_star(serve):
    server = serve(Guarded(), allow_hosts=("api.example.com", "*.corp.example"))
    for host, status in [("api.example.com", 200), ("API.example.com:443", 200),
                         ("a.b.corp.example", 200), ("corp.example", 403),
                         ("api.example.com.evil.example", 403), ("evil.example", 403)]:
        r = requests.get(f"{server.url}/healthz", headers={"Host": host}, timeout=5)
        assert r.status_code == status, host
    anything = serve(Guarded(), allow_hosts="*")
    r = requests.get(f"{anything.url}/healthz", headers={"Host": "whatever.test"}, timeout=5)
    assert r.status_code == 200
    # A tunnel's public name is added while serving.
    server.allow_host("abc123.ngrok-free.app")
    r = requests.get(f"{server.url}/healthz", headers={"Host": "abc123.ngrok-free.app"},
                     timeout=5)
    assert r.status_code == 200


def test_guard_rules_for_bound_addresses():
    wildcard = RequestGuard("0.0.0.0", platform=False)
    assert wildcard.host_allowed("10.1.2.3:5000") and wildcard.host_allowed("[fe80::1]")
    assert not wildcard.host_allowed("rebind.evil.example")
    assert wildcard.host_allowed(socket.gethostname())
    bound = RequestGuard("192.168.7.7", platform=False)
    assert bound.host_allowed("192.168.7.7:80") and bound.host_allowed("localhost")
    assert not bound.host_allowed("10.1.2.3")
    assert request_id("abc-123") == "abc-123"
    assert request_id("x" * 128) == "x" * 128
    for bad in ("x" * 129, "has space", "<script>", "quote\"d", "", None):
        made = request_id(bad)
        assert made != bad and re.fullmatch(r"[0-9a-f]{22}", made)


@pytest.mark.parametrize("value", ["exa mple", "example.com:80", "http://x", "-x.com",
                                   "*", "*.", "a..b"])
def test_bad_host_patterns_raise_one_line_errors(value):
    from bentonb.server.app import ServerConfig

    if value == "*":
        assert ServerConfig(allow_hosts=value).allow_hosts == ("*",)
        return
    with pytest.raises(InvalidArgument, match="--allow-host") as info:
        ServerConfig(allow_hosts=[value])
    assert "\n" not in str(info.value)


def test_notebook_platforms_allow_their_proxy_hosts(monkeypatch):
    for name in ("COLAB_RELEASE_TAG", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_PUBLIC_URL",
                 "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
        monkeypatch.delenv(name, raising=False)
    plain = RequestGuard("127.0.0.1")
    assert not plain.host_allowed("hub.example.org")
    # Colab's proxy: the server is reached as localhost from the proxy's own origin.
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260101-060000_RC00")
    colab = RequestGuard("127.0.0.1")
    assert colab.host_allowed("8000-m-s-abc-c.us-east5-1.prod.colab.dev")
    assert colab.host_allowed("a1b2-496ff2e9c6d22116-8000-colab.googleusercontent.com")
    assert colab.origin("https://8000-m-s-abc.us-east5-1.prod.colab.dev", "localhost:8000",
                        "http") == (True, True)
    assert colab.origin("https://colab.research.google.com", "127.0.0.1:8000",
                        "http") == (True, True)
    assert colab.origin("https://evil.example", "localhost:8000", "http") == (False, False)
    assert not colab.host_allowed("evil.example")
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    # JupyterHub/Binder: jupyter-server-proxy passes the browser's Host (the hub) on.
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/")
    hub = RequestGuard("127.0.0.1")
    assert hub.host_allowed("hub.example.org") and not hub.host_allowed("evil.example")
    assert hub.origin("https://hub.example.org", "hub.example.org", "http") == (True, False)
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL")
    assert RequestGuard("127.0.0.1").host_allowed("hub.2i2c.mybinder.org")


def test_a_request_through_a_hub_proxy_is_answered(serve, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org")
    server = serve(Guarded())
    # What jupyter-server-proxy sends: the browser's headers, plus its context headers.
    headers = {"Host": "hub.example.org", "Origin": "https://hub.example.org",
               "X-Forwarded-Context": f"/user/ada/proxy/{server.port}",
               "X-ProxyContextPath": f"/user/ada/proxy/{server.port}"}
    r = requests.post(f"{server.url}/echo", json=[1], headers=headers, timeout=5)
    assert r.status_code == 200 and r.json() == {"echo": [1]}
    headers["Host"] = "evil.example"
    assert requests.post(f"{server.url}/echo", json=[1], headers=headers,
                         timeout=5).status_code == 403


# --- Origin and CORS -----------------------------------------------------------------


def test_cross_origin_pages_are_refused_unless_listed(serve):
    server = serve(Guarded(), cors_origins=["https://app.example.com"])
    url = f"{server.url}/echo"
    r = requests.post(url, json=[1], headers={"Origin": "http://evil.example"}, timeout=5)
    assert r.status_code == 403 and "origin 'http://evil.example'" in r.json()["error"]
    assert "--cors-origin" in r.json()["error"]
    # Another port of the same host is another origin.
    r = requests.post(url, json=[1], headers={"Origin": "http://127.0.0.1:1"}, timeout=5)
    assert r.status_code == 403
    r = requests.post(url, json=[1], headers={"Origin": f"http://127.0.0.1:{server.port}"},
                      timeout=5)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = requests.post(url, json=[1], headers={"Origin": "https://app.example.com"}, timeout=5)
    assert r.status_code == 200 and r.json() == {"echo": [1]}
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]
    assert r.headers["Vary"] == "Origin"


def test_cors_preflight(serve):
    server = serve(Guarded(), cors_origins="https://app.example.com", api_key="k" * 12)
    preflight = {"Origin": "https://app.example.com",
                 "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    r = requests.options(f"{server.url}/echo", headers=preflight, timeout=5)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    r = requests.options(f"{server.url}/echo", timeout=5,
                         headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 403
    r = requests.options(f"{server.url}/healthz", timeout=5)
    assert r.status_code == 204 and r.headers["Allow"] == "GET, OPTIONS"


# --- Methods and request ids ---------------------------------------------------------


def raw_request(server, method: str, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("method, path, allow", [
    ("TRACE", "/", "GET, OPTIONS"),
    ("TRACE", "/echo", "GET, POST, OPTIONS"),
    ("FOO", "/healthz", "GET, OPTIONS"),
    ("DELETE", "/slow", "GET, POST, OPTIONS"),
    ("PUT", "/metrics", "GET, OPTIONS"),
])
def test_unknown_and_unsupported_methods_get_405_with_allow(serve, method, path, allow):
    server = serve(Guarded())
    status, headers, body = raw_request(server, method, path)
    assert status == 405 and headers["Allow"] == allow
    error = json.loads(body)
    assert "is not allowed" in error["error"] and error["request_id"]


def test_client_request_ids_are_limited_and_sanitised(serve):
    server = serve(Guarded())
    ok = requests.post(f"{server.url}/echo", json=1, headers={"X-Request-Id": "trace-42.a"},
                       timeout=5)
    assert ok.headers["X-Request-Id"] == "trace-42.a"
    for bad in ("x" * 129, "two words", "<img src=x>", 'a"b'):
        r = requests.post(f"{server.url}/echo", json=1, headers={"X-Request-Id": bad},
                          timeout=5)
        assert r.headers["X-Request-Id"] != bad and len(r.headers["X-Request-Id"]) == 22


# --- Bounded non-batch APIs, timeouts, clients that go away --------------------------


def _burst(url: str, clients: int, body: dict) -> list:
    def call(_):
        start = time.perf_counter()
        r = requests.post(url, json=body, timeout=60)
        return r.status_code, dict(r.headers), r.json(), time.perf_counter() - start

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(call, range(clients)))


def burst_from_another_process(url: str, clients: int, body: dict) -> list:
    """Clients in their own process: their threads must not wait on the server's GIL."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_burst, url, clients, body).result(timeout=120)


def test_non_batch_api_sheds_with_503_and_bounds_latency(serve):
    server = serve(Guarded())
    requests.post(f"{server.url}/slow", json={"seconds": 0.2}, timeout=5)  # learn its time
    results = burst_from_another_process(f"{server.url}/slow", 64, {"seconds": 0.2})
    assert {status for status, *_ in results} <= {200, 503}
    shed = [(h, b) for status, h, b, _ in results if status == 503]
    answered = sorted(t for status, _, _, t in results if status == 200)
    assert shed, "nothing was shed"
    assert all(int(h["Retry-After"]) >= 1 for h, _ in shed)
    assert all("requests waiting" in b["error"] or "cannot answer within" in b["error"]
               for _, b in shed)
    assert len(answered) >= 10
    # One worker, at most 16 waiting: an answered request waited for at most 17 calls.
    p99 = answered[max(0, int(len(answered) * 0.99) - 1)]
    assert p99 < 17 * 0.2 * 1.5, f"p99 {p99:.2f}s"
    assert metric(server, 'bentonb_rejected_total{api="slow"}') == len(shed)


def test_max_concurrency_runs_calls_side_by_side(serve):
    server = serve(Guarded(), max_concurrency=4, max_queue=0)
    results = _burst(f"{server.url}/slow", 4, {"seconds": 0.5})
    assert [status for status, *_ in results] == [200] * 4
    assert max(t for *_, t in results) < 4 * 0.5  # not one after another


@pytest.mark.parametrize("route", ["slow", "slow_batch"])
def test_a_request_past_the_timeout_gets_504(serve, route):
    server = serve(Guarded(), timeout=0.3)
    start = time.perf_counter()
    r = requests.post(f"{server.url}/{route}", json={"seconds": 1.5}, timeout=10)
    took = time.perf_counter() - start
    assert r.status_code == 504
    assert f"API '{route}' did not answer within 0.3 s" in r.json()["error"]
    assert took < 1.2, took
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


def send_and_close_later(server, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (body["route"].encode(), len(data), data))
    return sock


@pytest.mark.parametrize("route", ["hold", "hold_batch"])
def test_work_of_a_client_that_went_away_is_never_run(serve, route):
    svc = Guarded()
    server = serve(svc)
    url = f"{server.url}/{route}"
    first = threading.Thread(target=requests.post, args=(url,),
                             kwargs={"json": {"id": "A", "wait": True}, "timeout": 20})
    first.start()
    wait_until(lambda: svc.calls, 10, message="the first call to start")
    depth = f'bentonb_queue_depth{{api="{route}"}}'
    gone = send_and_close_later(server, {"route": route, "id": "B"})
    wait_until(lambda: metric(server, depth) == 1.0, 10, message="B to be queued")
    gone.close()
    wait_until(lambda: metric(server, depth) == 0.0, 10, message="B to leave the queue")
    svc.release.set()
    first.join(20)
    assert requests.post(url, json={"id": "C"}, timeout=10).json() == "C"
    expected = ["A", "C"] if route == "hold" else [["A"], ["C"]]
    assert svc.calls == expected


# --- Parsing off the event loop ------------------------------------------------------


class TimedImageInput(ImageInput):
    """ImageInput that records when each parse starts and ends (and may take longer)."""

    extra_seconds = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.started, self.done = threading.Event(), threading.Event()

    def from_http(self, request):
        self.started.set()
        try:
            time.sleep(self.extra_seconds)  # stands for a slow decoder
            return super().from_http(request)
        finally:
            self.done.set()


def image_service(adapter):
    class Images(bentonb.BentoService):
        @bentonb.api(input=adapter)
        def shape(self, img):
            return list(img.shape)

    return Images()


def png_bytes(height: int, width: int, noise: bool) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if noise else \
        np.zeros((height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def test_max_image_pixels_flag_reaches_the_adapters(serve):
    small = serve(image_service(ImageInput()), max_image_pixels=100)
    roomy = serve(image_service(ImageInput()))
    body, headers = png_bytes(20, 20, noise=False), {"Content-Type": "image/png"}
    refused = requests.post(f"{small.url}/shape", data=body, headers=headers, timeout=10)
    assert refused.status_code == 413
    assert "400 pixels" in refused.json()["error"] and "at most 100" in refused.json()["error"]
    answered = requests.post(f"{roomy.url}/shape", data=body, headers=headers, timeout=10)
    assert answered.status_code == 200 and answered.json() == [20, 20, 3]


def healthz_latencies_while(server, adapter) -> list[float]:
    """Time /healthz calls made while ``adapter`` is parsing."""
    assert adapter.started.wait(30), "parsing never started"
    latencies = []
    session = requests.Session()
    while not adapter.done.is_set():
        start = time.perf_counter()
        assert session.get(f"{server.url}/healthz", timeout=5).status_code == 200
        if not adapter.done.is_set():
            latencies.append(time.perf_counter() - start)
    return latencies


@pytest.mark.parametrize("size, extra", [("20 MB", 0.0), ("small", 0.5)])
def test_healthz_answers_fast_while_an_image_is_parsed(serve, size, extra):
    adapter = TimedImageInput()
    adapter.extra_seconds = extra
    server = serve(image_service(adapter))
    body = png_bytes(2560, 2600, noise=True) if size == "20 MB" else png_bytes(64, 64, False)
    assert (len(body) > 19_000_000) if size == "20 MB" else (len(body) < 256 * 1024)
    answer = {}
    post = threading.Thread(target=lambda: answer.update(r=requests.post(
        f"{server.url}/shape", data=body, headers={"Content-Type": "image/png"}, timeout=60)))
    post.start()
    latencies = healthz_latencies_while(server, adapter)
    post.join(60)
    assert answer["r"].json() == ([2560, 2600, 3] if size == "20 MB" else [64, 64, 3])
    assert latencies, "no health check landed while the image was parsed"
    assert statistics.median(latencies) < 0.05, latencies
    assert max(latencies) < 0.25, latencies


# --- The in-kernel server takes the same options -------------------------------------


def test_in_kernel_serve_takes_the_server_flags():
    handle = bentonb.serve(Guarded(), port=0, allow_host="api.example.com",
                           cors_origin=["https://app.example.com"], timeout=0.3,
                           max_concurrency=2, max_queue=1)
    try:
        config = handle.server.config
        assert config.allow_hosts == ("api.example.com",)
        assert config.cors_origins == ("https://app.example.com",)
        assert (config.timeout, config.max_concurrency, config.max_queue) == (0.3, 2, 1)
        r = requests.get(f"{handle.url}/healthz", headers={"Host": "api.example.com"},
                         timeout=5)
        assert r.status_code == 200
        r = requests.post(f"{handle.url}/slow", json={"seconds": 1}, timeout=5)
        assert r.status_code == 504
    finally:
        handle.stop()
    with pytest.raises(InvalidArgument, match="timeout must be a number above 0"):
        bentonb.serve(Guarded(), port=0, timeout=0)
    with pytest.raises(InvalidArgument, match="--cors-origin 'ftp://x' is not an origin"):
        bentonb.serve(Guarded(), port=0, cors_origin="ftp://x")


def test_public_bind_without_a_key_warns():
    from bentonb.server.app import ServerConfig, exposure_warning

    warning = exposure_warning(ServerConfig(host="0.0.0.0", port=8080))
    assert "0.0.0.0:8080 without an API key" in warning and "BENTONB_API_KEY" in warning
    assert exposure_warning(ServerConfig(host="0.0.0.0", api_key="k" * 10)) is None
    assert exposure_warning(ServerConfig(host="127.0.0.1")) is None
    assert exposure_warning(ServerConfig(host="::1")) is None


def test_a_connection_waiting_past_the_header_timeout_is_closed_and_a_busy_one_is_not():
    """Headers that trickle in (and an idle keep-alive) hold a connection no longer than
    the timeout; a connection that keeps sending requests stays open well past it."""
    import asyncio

    import tornado.web

    from bentonb.server.connections import DrainingHTTPServer

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("hi")

    async def main():
        server = DrainingHTTPServer(tornado.web.Application([("/", Hello)]),
                                    idle_connection_timeout=0.3)
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets([sock])
        port = sock.getsockname()[1]
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        begin = time.monotonic()
        slow_r, slow_w = await asyncio.open_connection("127.0.0.1", port)
        slow_w.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
        idle_w.write(request)
        assert (await idle_r.readuntil(b"hi")).startswith(b"HTTP/1.1 200")
        busy_r, busy_w = await asyncio.open_connection("127.0.0.1", port)

        async def keep_busy():
            answered = 0
            while not (slow_r.at_eof() and idle_r.at_eof()):
                busy_w.write(request)
                assert (await busy_r.readuntil(b"hi")).startswith(b"HTTP/1.1 200")
                answered += 1
            return answered

        busy = asyncio.ensure_future(keep_busy())
        assert await asyncio.wait_for(slow_r.read(), 10) == b""  # closed by the server
        assert await asyncio.wait_for(idle_r.read(), 10) == b""
        waited = time.monotonic() - begin
        assert await asyncio.wait_for(busy, 10) > 0
        busy_w.write(request)  # still open, well past the timeout
        assert (await busy_r.readuntil(b"hi")).startswith(b"HTTP/1.1 200")
        assert waited >= 0.3
        assert set(server.waiting) == {next(iter(server._connections))}  # the busy one
        for writer in (slow_w, idle_w, busy_w):
            writer.close()
        server.stop()
        await server.close_all_connections()

    asyncio.run(main())


def test_answers_leave_without_nagle_delay_on_every_connection():
    """TCP_NODELAY stays on after each answer of a kept-alive connection (Tornado would
    switch it off after each one, and on again before the next answer)."""
    import asyncio
    import socket

    import tornado.web

    from bentonb.server.connections import DrainingHTTPServer

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("hi")

    async def main():
        server = DrainingHTTPServer(tornado.web.Application([("/", Hello)]))
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets([sock])
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        flags = []
        for _ in range(3):
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await reader.readuntil(b"hi")).startswith(b"HTTP/1.1 200")
            [conn] = server._connections
            flags.append(conn.stream.socket.getsockopt(socket.IPPROTO_TCP,
                                                       socket.TCP_NODELAY))
        assert flags == [1, 1, 1]
        writer.close()
        server.stop()
        await server.close_all_connections()

    asyncio.run(main())
