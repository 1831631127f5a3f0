"""The extension in real Chromium against the real service: an answer streams into a
chatgpt.com-shaped page, and DocVouch marks it claim by claim after the answer finishes."""

from __future__ import annotations

import json
import time
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
    shadow = ClosedShadow(verified_page)
    summary = shadow.wait_for_texts("docvouch-badge", ".dv-summary", data_state="result")
    assert summary and "DocVouch" in summary[0], summary
    # the page's own scripts see a host and nothing inside it
    assert verified_page.evaluate(
        "document.querySelector('docvouch-badge').shadowRoot === null") is True
    verified_page.screenshot(path=str(artifacts_dir / "badge.png"), full_page=True)

    assert len(verify_proxy.verify_requests) == 1
    sent = json.loads(verify_proxy.verify_requests[0])
    assert "os.path.isdirectory(p)" in sent["text"]
    assert "```python" in sent["text"], "code blocks reach the service as fenced code"
    assert sent["source"] == {"site": "chatgpt", "url": CHAT_URL}


def test_contradicted_call_is_red_with_its_suggestion(
    verified_page: Page, artifacts_dir: Path
) -> None:
    shadow = ClosedShadow(verified_page)
    shadow.click("docvouch-badge", ".dv-summary", data_state="result")
    suggestions = shadow.wait_for_texts(
        "docvouch-badge", 'li.dv-claim[data-verdict="contradicted"] .dv-suggestion',
        data_state="result")
    assert "Did you mean os.path.isdir?" in suggestions, suggestions
    panel = shadow.nodes("docvouch-badge", ".dv-panel", data_state="result")
    assert shadow.read(panel[0], "this.hidden") is False, "the user's click opened the claims"
    verified_page.screenshot(path=str(artifacts_dir / "claims-panel.png"), full_page=True)


def test_supported_claim_links_to_the_python_docs(verified_page: Page) -> None:
    shadow = ClosedShadow(verified_page)
    shadow.click("docvouch-badge", ".dv-summary", data_state="result")
    links = shadow.nodes("docvouch-badge", 'li.dv-claim[data-verdict="supported"] a.dv-doc-link',
                         data_state="result")
    hrefs = [str(shadow.read(link, "this.href")) for link in links]
    assert any(href.startswith("https://docs.python.org/") for href in hrefs), hrefs


def test_hovering_the_wrong_call_shows_the_card(verified_page: Page, artifacts_dir: Path) -> None:
    highlights = verified_page.locator(BADGE).get_attribute("data-highlights") or ""
    count, method = highlights.split(" ")
    assert int(count) >= 2 and method == "highlight-api", highlights

    box = text_box(verified_page, "os.path.isdirectory")
    verified_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    card = verified_page.locator("docvouch-card")
    expect(card).to_be_visible(timeout=5_000)
    shadow = ClosedShadow(verified_page)
    assert shadow.wait_for_texts("docvouch-card", ".dv-verdict") == ["Contradicted by the docs"]
    assert shadow.texts("docvouch-card", ".dv-suggestion code") == ["os.path.isdir"]
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


class ClosedShadow:
    """Reads and clicks inside DocVouch's closed shadow roots through the DevTools protocol,
    which reaches them as an inspector does; the page's own scripts cannot. Clicks are real
    mouse clicks at the element's position, so the extension sees them as the user's."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def _roots(self, host_tag: str, attrs: dict[str, str]) -> list[int]:
        tree = self.cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        found: list[int] = []
        stack = [tree]
        while stack:
            node = stack.pop()
            raw = node.get("attributes", [])
            have = dict(zip(raw[::2], raw[1::2], strict=True))
            wanted = all(have.get(k) == v for k, v in attrs.items())
            if node.get("localName") == host_tag and wanted:
                found += [root["nodeId"] for root in node.get("shadowRoots", [])]
            stack += node.get("children", []) + node.get("shadowRoots", [])
            if "contentDocument" in node:
                stack.append(node["contentDocument"])
        return found

    def nodes(self, host_tag: str, selector: str, **attrs: str) -> list[int]:
        return [node for root in self._roots(host_tag, {k.replace("_", "-"): v for k, v in
                                                         attrs.items()})
                for node in self.cdp.send("DOM.querySelectorAll",
                                          {"nodeId": root, "selector": selector})["nodeIds"]]

    def read(self, node: int, expression: str) -> object:
        remote = self.cdp.send("DOM.resolveNode", {"nodeId": node})["object"]
        return self.cdp.send("Runtime.callFunctionOn", {
            "objectId": remote["objectId"], "returnByValue": True,
            "functionDeclaration": f"function () {{ return {expression}; }}"})["result"]["value"]

    def texts(self, host_tag: str, selector: str, **attrs: str) -> list[str]:
        return [str(self.read(n, "this.textContent")) for n in self.nodes(host_tag, selector,
                                                                          **attrs)]

    def wait_for_texts(self, host_tag: str, selector: str, timeout_s: float = 10,
                       **attrs: str) -> list[str]:
        end = time.monotonic() + timeout_s
        while True:
            texts = self.texts(host_tag, selector, **attrs)
            if texts or time.monotonic() > end:
                return texts
            time.sleep(0.1)

    def click(self, host_tag: str, selector: str, **attrs: str) -> None:
        nodes = self.nodes(host_tag, selector, **attrs)
        assert nodes, f"no {selector} in {host_tag}"
        self.cdp.send("DOM.scrollIntoViewIfNeeded", {"nodeId": nodes[0]})
        quad = self.cdp.send("DOM.getBoxModel", {"nodeId": nodes[0]})["model"]["content"]
        self.page.mouse.click(sum(quad[0::2]) / 4, sum(quad[1::2]) / 4)


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
