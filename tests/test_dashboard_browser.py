"""The dashboard in Chromium: list, search, open a bundle, download its archive and
import it into a second store, delete it after the confirmation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import IRIS_SERVICE
from helpers import DashboardProcess

from bentonb.bundle import BundleManifest, import_bundle
from bentonb.store import LocalStore

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def dashboard(modules, iris_model):
    iris = modules.load("iris_classifier", IRIS_SERVICE).IrisClassifier().pack("model",
                                                                               iris_model)
    iris.save(version="v1", labels={"stage": "dev"})
    iris.save(version="v2", labels={"stage": "prod"})
    penguin = modules.load("penguin_classifier",
                           IRIS_SERVICE.replace("IrisClassifier", "PenguinClassifier"))
    penguin.PenguinClassifier().pack("model", iris_model).save(version="p1",
                                                              labels={"team": "ml"})
    with DashboardProcess("--port", "0") as process:
        yield process.wait_started()


def test_browse_download_and_delete(dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        try:
            page.goto(dashboard.url + "/")
            rows = page.locator("#bundles tbody tr")
            expect(rows).to_have_count(2)
            expect(page.locator("#count")).to_have_text("2 of 2 bundles")
            page.screenshot(path=str(ARTIFACTS / "dashboard-list.png"), full_page=True)
            page.fill("#search", "pengu")
            expect(page.locator("#bundles tbody tr:visible")).to_have_count(1)
            expect(page.locator("#bundles tbody tr:visible td").first).to_have_text(
                "PenguinClassifier")
            page.fill("#search", "")
            page.fill("#label", "stage=prod")
            expect(page.locator("#bundles tbody tr:visible td").first).to_have_text(
                "IrisClassifier")
            page.fill("#label", "")
            page.locator("th[data-key=name]").click()
            page.locator("th[data-key=name]").click()  # descending
            expect(rows.first.locator("td").first).to_have_text("PenguinClassifier")

            page.get_by_role("link", name="IrisClassifier").click()
            expect(page.locator("h1")).to_have_text("IrisClassifier:v2")
            expect(page.locator("#source .k").first).to_have_text("import")
            expect(page.locator("#apis")).to_contain_text("Predict iris species.")
            expect(page.locator("#actions")).to_contain_text(
                "bentonb containerize IrisClassifier:v2")
            page.screenshot(path=str(ARTIFACTS / "dashboard-detail.png"), full_page=True)

            with page.expect_download() as info:
                page.locator("#download button").click()
            archive = tmp_path / info.value.suggested_filename
            info.value.save_as(archive)
            assert archive.name == "IrisClassifier-v2.tar.gz"
            other = LocalStore(tmp_path / "second-home")
            imported = import_bundle(archive, other)
            assert imported.tag == "IrisClassifier:v2"
            assert BundleManifest.read(imported.path).labels == {"stage": "prod"}

            dialogs: list[str] = []

            def answer(dialog) -> None:
                dialogs.append(dialog.message)
                # the first time: cancel, and nothing is deleted
                dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

            page.on("dialog", answer)
            page.locator("#delete").click()
            expect(page.locator("h1")).to_have_text("IrisClassifier:v2")
            assert dialogs == ["Delete IrisClassifier:v2? This cannot be undone."]
            assert [b.tag for b in LocalStore().list("IrisClassifier")] == [
                "IrisClassifier:v1", "IrisClassifier:v2"]
            page.locator("#delete").click()
            page.wait_for_url(dashboard.url + "/")
            expect(page.locator("#bundles tbody tr[data-name=IrisClassifier]")).to_have_attribute(
                "data-latest", "v1")
            assert [b.tag for b in LocalStore().list("IrisClassifier")] == ["IrisClassifier:v1"]
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "dashboard-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
