"""``bentonb serve module:svc --reload``: an edited file is served on the same port
without a restart; a broken edit leaves the previous version serving and the log
names the error."""

from __future__ import annotations

import textwrap

import requests
from helpers import ServeProcess, bentonb_cli, wait_until

SERVICE = textwrap.dedent("""
    import bentonb
    from helper_values import FACTOR

    svc = bentonb.Service("reloading")


    @svc.api(input=bentonb.io.JSON(), output=bentonb.io.JSON())
    def answer(body):
        return {"value": VALUE, "factor": FACTOR}
""")


def _write(folder, value: str, factor: int = 2) -> None:
    (folder / "helper_values.py").write_text(f"FACTOR = {factor}\n", encoding="utf-8")
    (folder / "service.py").write_text(SERVICE.replace("VALUE", value), encoding="utf-8")


def _answer(server: ServeProcess) -> dict | None:
    try:
        return requests.post(server.url + "/answer", json={}, timeout=5).json()
    except requests.RequestException:
        return None


def test_reload_swaps_in_the_edited_service_and_survives_a_broken_edit(tmp_path):
    _write(tmp_path, '"first"')
    with ServeProcess("service:svc", "--port", "0", "--reload", "--api-key", "none",
                      cwd=tmp_path) as server:
        server.wait_started()
        port = server.port
        assert _answer(server) == {"value": "first", "factor": 2}

        _write(tmp_path, '"second"')
        wait_until(lambda: _answer(server) == {"value": "second", "factor": 2}, 30,
                   interval=0.05, message=lambda: f"the edited answer:\n{server.output}")
        reloaded = [line for line in server.output.splitlines() if "reloaded" in line]
        assert len(reloaded) == 1 and "reloaded service:svc after a change to" in reloaded[0]
        assert "service.py" in reloaded[0]

        # A module the service imports is read again too.
        (tmp_path / "helper_values.py").write_text("FACTOR = 5\n", encoding="utf-8")
        wait_until(lambda: _answer(server) == {"value": "second", "factor": 5}, 30,
                   interval=0.05, message=lambda: f"the new factor:\n{server.output}")

        (tmp_path / "service.py").write_text(SERVICE.replace("VALUE", '"third"')
                                             + "\ndef broken(:\n", encoding="utf-8")
        failed = wait_until(lambda: [line for line in server.output.splitlines()
                                     if "reload failed" in line], 30, interval=0.05,
                            message=lambda: f"the reload error:\n{server.output}")
        assert len(failed) == 1
        assert "service.py, line" in failed[0] and "SyntaxError" in failed[0]
        assert "still serving the previous version" in failed[0]
        assert _answer(server) == {"value": "second", "factor": 5}
        assert server.port == port

        # Fixed again: served again.
        _write(tmp_path, '"fourth"', factor=5)
        wait_until(lambda: _answer(server) == {"value": "fourth", "factor": 5}, 30,
                   interval=0.05, message=lambda: f"the fixed answer:\n{server.output}")
        assert server.stop() == 0


def test_reload_of_a_bundle_tag_is_a_usage_error(tmp_path, store_home):
    result = bentonb_cli("serve", "Iris:latest", "--reload", "--port", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "--reload serves a service defined in a .py file (MODULE:SVC" in result.stderr
    assert "Traceback" not in result.stderr


def test_reload_with_several_workers_is_a_usage_error(tmp_path):
    _write(tmp_path, '"first"')
    result = bentonb_cli("serve", "service:svc", "--reload", "--workers", "2", "--port", "0",
                         cwd=tmp_path)
    assert result.returncode == 2
    assert "--reload serves one worker" in result.stderr
