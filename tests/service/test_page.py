"""The page at / in real Chromium: paste an answer, check it, see the red claim and its fix."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ANSWER = ("To check that a path is a folder, call `os.path.isdirectory(p)`.\n\n"
          "Then create it with `os.makedirs(p, exist_ok=True)`.\n")


def wait_ready(base: str, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} not ready within {deadline_s} s")


@pytest.fixture(scope="module")
def server(service_home: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("page") / "serve.log"
    with ServerProcess(service_home, log, workers=1) as process:
        wait_ready(process.base)
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


def test_pasted_answer_shows_a_red_claim_with_its_suggestion(server: ServerProcess,
                                                             browser) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    response = page.goto(server.base + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    page.locator("#answer").fill(ANSWER)
    page.locator("#check").click()
    red = page.locator("mark.claim.v-contradicted")
    red.first.wait_for(timeout=15_000)
    assert "os.path.isdirectory" in red.first.inner_text()
    r, g, b = rgb(red.first.evaluate("e => getComputedStyle(e).borderBottomColor"))
    assert r > 150 and g < 80 and b < 80, (r, g, b)
    card = page.locator(".claim-card.v-contradicted").first
    assert "Did you mean os.path.isdir?" in card.locator(".suggestion").inner_text()
    link = card.locator(".evidence a").first
    assert link.get_attribute("href").startswith("https://docs.python.org/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    red.first.click()
    assert "selected" in (card.get_attribute("class") or "")
    assert page.locator("#score").inner_text().strip() != ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-verify.png"), full_page=True)
    assert problems == []
    page.close()


def test_markup_in_an_answer_is_shown_as_text(server: ServerProcess, browser) -> None:
    page = browser.new_page()
    page.goto(server.base + "/")
    hostile = ('Use `os.path.isdirectory(p)` <img src=x onerror="window.pwned=1"> and '
               "</style><script>window.pwned=2</script> here.")
    page.locator("#answer").fill(hostile)
    page.locator("#check").click()
    page.locator("mark.claim").first.wait_for(timeout=15_000)
    assert page.locator("#answer-view img, #answer-view script, #claims img").count() == 0
    assert "<img src=x" in page.locator("#answer-view").inner_text()
    assert page.evaluate("window.pwned") is None
    page.close()
