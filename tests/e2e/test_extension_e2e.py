"""The extension in real Chromium against the real service: an answer streams into a
chatgpt.com-shaped page, and DocVouch marks it claim by claim after the answer finishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_servers import CountingProxy, FixtureSite
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAT_URL = "https://chatgpt.com/c/e2e-directory-question"
RESULT_TIMEOUT_MS = 60_000
BADGE = 'docvouch-badge[data-state="result"]'


def extension_id(context: BrowserContext) -> str:
    """The unpacked extension's id, read from its service worker's URL."""
    workers = context.service_workers or [context.wait_for_event("serviceworker", timeout=30_000)]
    return workers[0].url.split("/")[2]


def point_extension_at(context: BrowserContext, service_url: str) -> None:
    """Set the service URL the way a user does: on the options page."""
    options = context.new_page()
    options.goto(f"chrome-extension://{extension_id(context)}/options/options.html")
    expect(options.locator("#service-url")).to_have_value("http://127.0.0.1:8765")
    options.fill("#service-url", service_url)
    options.click("#save")
    expect(options.locator("#save-status")).to_contain_text("Saved")
    options.click("#test-connection")
    expect(options.locator("#connection-status")).to_have_text("Connected.")
    options.close()


def open_chat(context: BrowserContext) -> Page:
    page = context.new_page()
    page.goto(CHAT_URL)
    return page


@pytest.fixture
def verified_page(
    browser_context: BrowserContext, verify_proxy: CountingProxy, chat_site: FixtureSite
) -> Page:
    point_extension_at(browser_context, verify_proxy.base_url)
    page = open_chat(browser_context)
    expect(page.locator("body")).to_have_attribute("data-streamed", "done", timeout=15_000)
    expect(page.locator(BADGE)).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    return page


def test_finished_answer_gets_a_badge_and_exactly_one_verify_request(
    verified_page: Page, verify_proxy: CountingProxy, artifacts_dir: Path
) -> None:
    summary = verified_page.locator(f"{BADGE} .dv-summary")
    expect(summary).to_contain_text("DocVouch")
    verified_page.screenshot(path=str(artifacts_dir / "badge.png"), full_page=True)

    assert len(verify_proxy.verify_requests) == 1
    sent = json.loads(verify_proxy.verify_requests[0])
    assert "os.path.isdirectory(p)" in sent["text"]
    assert "```python" in sent["text"], "code blocks reach the service as fenced code"
    assert sent["source"] == {"site": "chatgpt", "url": CHAT_URL}


def test_contradicted_call_is_red_with_its_suggestion(
    verified_page: Page, artifacts_dir: Path
) -> None:
    verified_page.click(f"{BADGE} .dv-summary")
    contradicted = verified_page.locator(f'{BADGE} li.dv-claim[data-verdict="contradicted"]')
    with_suggestion = contradicted.filter(
        has=verified_page.locator(".dv-suggestion code", has_text="os.path.isdir")
    )
    expect(with_suggestion.first).to_be_visible()
    expect(with_suggestion.first.locator(".dv-suggestion")).to_have_text(
        "Did you mean os.path.isdir?"
    )
    verified_page.screenshot(path=str(artifacts_dir / "claims-panel.png"), full_page=True)


def test_supported_claim_links_to_the_python_docs(verified_page: Page) -> None:
    verified_page.click(f"{BADGE} .dv-summary")
    links = verified_page.locator(f'{BADGE} li.dv-claim[data-verdict="supported"] a.dv-doc-link')
    expect(links.first).to_be_visible()
    hrefs = links.evaluate_all("(anchors) => anchors.map((a) => a.href)")
    assert any(href.startswith("https://docs.python.org/") for href in hrefs), hrefs


def test_hovering_the_wrong_call_shows_the_card(verified_page: Page, artifacts_dir: Path) -> None:
    highlights = verified_page.locator(BADGE).get_attribute("data-highlights") or ""
    count, method = highlights.split(" ")
    assert int(count) >= 2 and method == "highlight-api", highlights

    box = text_box(verified_page, "os.path.isdirectory")
    verified_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    card = verified_page.locator("docvouch-card")
    expect(card).to_be_visible(timeout=5_000)
    expect(card.locator(".dv-verdict")).to_have_text("Contradicted by the docs")
    expect(card.locator(".dv-suggestion code")).to_have_text("os.path.isdir")
    verified_page.screenshot(path=str(artifacts_dir / "hover-card.png"))


def test_rerendered_answer_is_not_sent_again(
    verified_page: Page, verify_proxy: CountingProxy
) -> None:
    verified_page.evaluate("window.rerenderAnswer()")
    expect(verified_page.locator("body")).to_have_attribute("data-rerendered", "yes")
    # The new element gets its badge back from the cached result, and the old badge goes.
    expect(verified_page.locator("docvouch-badge")).to_have_count(1)
    new_answer_badge = verified_page.locator(f"#answer + {BADGE}")
    expect(new_answer_badge).to_be_visible(timeout=10_000)
    assert len(verify_proxy.verify_requests) == 1


def text_box(page: Page, needle: str) -> dict:
    """The on-screen box of the first occurrence of `needle` in the answer's text."""
    box = page.evaluate(
        """(needle) => {
            const answer = document.getElementById("answer");
            const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(needle);
                if (at === -1) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + needle.length);
                const rect = range.getBoundingClientRect();
                return { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
            }
            return null;
        }""",
        needle,
    )
    assert box is not None, f"{needle!r} not on the page"
    return box
