"""A real browser: JupyterLab on 127.0.0.1, notebook 01 opened in Debian's Chromium
(driven by Playwright), all cells run, Predict clicked in the rendered widget."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests
from helpers import wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_iris_quickstart.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def jupyterlab(tmp_path, store_home):
    # The notebook's last cell stops the server; the browser must find it running.
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[-1].source.strip() == "server.stop()"
    nb.cells = nb.cells[:-1]
    nbformat.write(nb, tmp_path / NOTEBOOK.name)
    token, runtime = secrets.token_hex(16), tmp_path / "jupyter-runtime"
    log = tmp_path / "jupyterlab.log"  # a file, not a pipe: nobody reads while it runs
    jupyter = Path(sys.executable).with_name("jupyter")
    # --port=0: JupyterLab asks the OS for a port and names it in its server-info file
    # (jpserver-PID.json in JUPYTER_RUNTIME_DIR), written once it listens.
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [str(jupyter), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", "--port=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
             "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
                 "JUPYTER_RUNTIME_DIR": str(runtime)})

    def listening() -> int | None:
        """The port once JupyterLab named it and answers on it (the file may come first)."""
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited: {log.read_text()}")
        for info in runtime.glob("jpserver-*.json"):
            try:
                port = json.loads(info.read_text())["port"]
                status = requests.get(f"http://127.0.0.1:{port}/api/status?token={token}",
                                      timeout=10)
                return port if status.ok else None
            except (ValueError, KeyError, requests.ConnectionError):  # not there yet
                return None
        return None

    try:
        port = wait_until(listening, 120, interval=0.1,
                          message=lambda: f"JupyterLab to listen:\n{log.read_text()}")
        url = f"http://127.0.0.1:{port}"
    except BaseException:
        proc.kill()
        raise
    yield f"{url}/lab/tree/{NOTEBOOK.name}?token={token}"
    proc.terminate()
    proc.wait(30)


def test_predict_button_in_jupyterlab(jupyterlab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 2000})
        try:
            page.goto(jupyterlab)
            page.locator(".jp-Notebook").wait_for(timeout=120_000)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
                timeout=120_000)
            # The first code cell's prompt shows [*] or [1] once the run has started.
            started = page.locator(".jp-CodeCell .jp-InputPrompt").filter(
                has_text=re.compile(r"\[(\*|\d+)\]")).first
            for _ in range(3):  # a busy machine may drop a run sent before the kernel is up
                page.locator(".jp-Notebook").click()
                page.keyboard.press("Escape")
                page.get_by_text("Run", exact=True).first.click()
                page.get_by_text("Run All Cells", exact=True).click()
                # A new JupyterLab may ask which kernel to start, as it would ask a user.
                choose = page.locator(".jp-Dialog").get_by_role("button", name="Select")
                try:
                    choose.click(timeout=10_000)
                except PlaywrightTimeout:
                    pass
                try:
                    started.wait_for(timeout=60_000)
                    break
                except PlaywrightTimeout:
                    continue
            predict = page.locator(".widget-button", has_text="Predict")
            predict.wait_for(timeout=180_000)
            predict.scroll_into_view_if_needed()
            predict.click()
            status = page.locator(".widget-html", has_text="HTTP 200")
            expect(status).to_be_visible(timeout=60_000)
            answer = page.locator(".widget-output").filter(has_text="[").first
            expect(answer).to_contain_text("0", timeout=30_000)
            text = answer.inner_text()
            assert text.replace(" ", "").replace("\n", "") == "[0]", text
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-predict.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
