"""Generator APIs stream: each item reaches the client as it is yielded (SSE or JSON
lines), a client that leaves stops the generator, an error ends the stream."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

import bentonb
from bentonb.errors import InvalidArgument, ServerError
from bentonb.server.direct import DirectRunner

STREAM_SERVICE = '''
import threading

import pandas as pd

import bentonb
from bentonb.adapters import DataframeInput, JsonInput, StringInput

FIRST_SEEN = threading.Event()   # set by the test once it holds the first item
CLOSED = threading.Event()       # set by the generator's finally


class Streamer(bentonb.BentoService):
    @bentonb.api(input=StringInput())
    def generate(self, prompt):
        """Yield one token per word."""
        for word in prompt.split():
            yield {"token": word}

    @bentonb.api(input=JsonInput())
    def gated(self, body):
        yield "first"
        yield "second" if FIRST_SEEN.wait(10) else "the first item never arrived"

    @bentonb.api(input=JsonInput())
    def endless(self, body):
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            CLOSED.set()

    @bentonb.api(input=JsonInput())
    def broken(self, body):
        yield 1
        raise ValueError("ran out of tokens")

    @bentonb.api(input=JsonInput())
    async def counting(self, body):
        for i in range(body["n"]):
            yield i

    @bentonb.api(input=DataframeInput())
    def rows(self, df):
        for _, row in df.iterrows():
            yield float(row.sum())


svc = bentonb.Service("streamer1x")


@svc.api(input=bentonb.io.Text(), output=bentonb.io.JSON())
def words(text):
    yield from text.split()


@svc.api(input=bentonb.io.JSON(), output=bentonb.io.JSON())
async def ticks(body):
    for i in range(body["n"]):
        yield {"tick": i}
'''


@pytest.fixture
def streamer(modules):
    module = modules.load("streamer", STREAM_SERVICE)
    module.FIRST_SEEN.clear()
    module.CLOSED.clear()
    return module


def test_client_yields_items_of_a_generator_api(streamer, serve):
    server = serve(streamer.Streamer())
    with bentonb.Client(server.url) as client:
        assert list(client.generate("a quick fox")) == \
            [{"token": "a"}, {"token": "quick"}, {"token": "fox"}]
        assert list(client.rows([[1, 2], [3, 4.5]])) == [3.0, 7.5]  # one request's frame
        assert list(client.generate("   ")) == []  # a stream of no items
    runner = server.state.runtime.runners["rows"]
    assert isinstance(runner, DirectRunner)  # DataframeInput batches, but not a stream


def test_first_item_arrives_before_the_function_finishes(streamer, serve):
    server = serve(streamer.Streamer())
    with httpx.Client(timeout=20) as http, \
            http.stream("POST", f"{server.url}/gated", json={}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        lines = response.iter_lines()
        assert json.loads(next(lines)) == "first"
        streamer.FIRST_SEEN.set()  # only now may the generator go on
        assert [json.loads(line) for line in lines if line] == ["second"]
    streamer.FIRST_SEEN.clear()
    with bentonb.Client(server.url) as client:
        items = client.gated({})
        assert next(items) == "first"
        streamer.FIRST_SEEN.set()
        assert list(items) == ["second"]


def test_a_client_that_leaves_stops_the_generator(streamer, serve):
    server = serve(streamer.Streamer())
    with bentonb.Client(server.url) as client:
        items = client.endless({})
        assert [next(items) for _ in range(3)] == [0, 1, 2]
        items.close()  # leaves mid-stream: the connection closes
        assert streamer.CLOSED.wait(10), "the generator's finally did not run"


def test_an_error_mid_stream_ends_it_with_an_error_event(streamer, serve):
    server = serve(streamer.Streamer())
    sse = httpx.post(f"{server.url}/broken", json={}, timeout=20,
                     headers={"Accept": "text/event-stream"})
    assert sse.headers["Content-Type"] == "text/event-stream"
    first, error = sse.text.strip().split("\n\n")
    assert first == "data: 1"
    assert error.startswith("event: error\ndata: ")
    assert "ran out of tokens" in json.loads(error.split("data: ", 1)[1])["error"]
    lines = httpx.post(f"{server.url}/broken", json={}, timeout=20).text.splitlines()
    assert lines[0] == "1" and "ValueError: ran out of tokens" in json.loads(lines[1])["error"]
    with bentonb.Client(server.url) as client:
        items = client.broken({})
        assert next(items) == 1
        with pytest.raises(ServerError, match="ran out of tokens"):
            next(items)


def test_async_generators_and_the_async_client(streamer, serve):
    server = serve(streamer.Streamer())

    async def main() -> tuple[list, list]:
        async with bentonb.AsyncClient(server.url) as client:
            streamed = [i async for i in client.counting({"n": 4})]
            return streamed, await client.counting({"n": 3})

    assert asyncio.run(main()) == ([0, 1, 2, 3], [0, 1, 2])


def test_1x_generator_apis_stream(streamer, serve):
    server = serve(streamer.svc)
    with bentonb.Client(server.url) as client:
        assert list(client.words("to be or not")) == ["to", "be", "or", "not"]
        assert list(client.ticks({"n": 2})) == [{"tick": 0}, {"tick": 1}]


def test_openapi_says_streams_and_batch_is_refused(streamer, serve):
    server = serve(streamer.Streamer())
    op = httpx.get(f"{server.url}/docs.json").json()["paths"]["/generate"]["post"]
    assert op["x-bentonb-streaming"] is True
    assert "Streams; not micro-batched" in op["description"]
    assert op["summary"] == "Yield one token per word."
    assert set(op["responses"]["200"]["content"]) == {"application/x-ndjson",
                                                       "text/event-stream"}
    with pytest.raises(InvalidArgument, match="never micro-batched; drop batch=True"):
        @bentonb.api(input=bentonb.adapters.JsonInput(), batch=True)
        def tokens(self, items):
            yield from items
