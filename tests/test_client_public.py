"""``bentonb.Client`` through a public URL: a server started from Python with an ngrok
tunnel (a fake ngrok agent forwarding a loopback "public" port) and an API key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import bentonb
from bentonb.errors import ServerError

KEY = "public-key-12345"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]

STREAMER = '''
import bentonb
from bentonb.adapters import StringInput


class Streamer(bentonb.BentoService):
    @bentonb.api(input=StringInput())
    def words(self, text):
        for word in text.split():
            yield {"word": word}
'''


@pytest.fixture
def fake_ngrok(tmp_path, monkeypatch):
    from pyngrok import conf, ngrok

    script = tmp_path / "ngrok"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} "
                      f"{Path(__file__).with_name('fake_ngrok.py')} \"$@\"\n")
    script.chmod(0o755)
    state = tmp_path / "ngrok-state.jsonl"
    monkeypatch.setenv("FAKE_NGROK_STATE", str(state))
    config = conf.PyngrokConfig(ngrok_path=str(script), config_path=str(tmp_path / "ngrok.yml"))
    previous = conf.get_default()
    conf.set_default(config)
    yield state
    ngrok.kill(config)
    conf.set_default(previous)


@pytest.fixture
def served(iris_service, fake_ngrok):
    handle = bentonb.serve(iris_service, port=0, ngrok=True, ngrok_token="tok-1",
                           api_key=KEY)
    yield handle
    handle.stop()


def test_client_calls_through_the_public_url_with_the_key(served, fake_ngrok, iris_model):
    public = served.public_url
    assert public and public != served.url
    opened = [json.loads(line) for line in fake_ngrok.read_text().splitlines()]
    assert [e["event"] for e in opened] == ["start", "open"]
    with served.client(public=True) as client:
        assert client.url == public
        assert client._http.headers["Authorization"] == f"Bearer {KEY}"
        assert client.predict(ROWS) == iris_model.predict(ROWS).tolist()
        assert list(client.apis) == ["predict"]
    # The same URL without the key, or with a wrong one: the API refuses the call
    # (the description, /docs.json and /metadata, is readable without a key).
    for key in (None, "wrong-key-123"):
        with bentonb.Client(public, api_key=key, max_retries=0) as stranger:
            assert list(stranger.apis) == ["predict"]
            with pytest.raises(ServerError) as err:
                stranger.predict(ROWS)
        assert err.value.status == 401
        assert f"POST {public}/predict answered 401" in str(err.value)
        assert json.loads(err.value.body)["request_id"] == err.value.request_id


def test_streaming_through_the_public_url(modules, fake_ngrok):
    service = modules.load("public_streamer", STREAMER).Streamer()
    handle = bentonb.serve(service, port=0, ngrok=True, ngrok_token="tok-2", api_key=KEY)
    try:
        with handle.client(public=True) as client:
            assert client.apis["words"].streaming
            assert list(client.words("a quick fox")) == [
                {"word": "a"}, {"word": "quick"}, {"word": "fox"}]
    finally:
        handle.stop()
