"""Fixtures for the end-to-end browser tests: the real DocVouch service, a counting proxy in front
of it, a stand-in for chatgpt.com, and Debian's Chromium with the unpacked extension loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_servers import CountingProxy, FixtureSite, ServiceProcess, self_signed_certificate
from playwright.sync_api import BrowserContext, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO_ROOT / "extension"
SITE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "sites"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHAT_HOST = "chatgpt.com"
# The first run builds the default corpus from the interpreter's documentation.
SERVICE_READY_DEADLINE_S = 300


@pytest.fixture(scope="session")
def e2e_docvouch_home(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The session-wide DOCVOUCH_HOME: the one tests/conftest.py builds the default corpus in, so
    the service starts on a built index; a fresh directory (the service builds it) otherwise."""
    try:
        return Path(request.getfixturevalue("docvouch_home"))
    except pytest.FixtureLookupError:
        return tmp_path_factory.mktemp("docvouch-home")


@pytest.fixture(scope="session")
def docvouch_service(e2e_docvouch_home: Path) -> Iterator[ServiceProcess]:
    """The real service (`python -m docvouch serve`), once per session."""
    home = e2e_docvouch_home
    ARTIFACTS.mkdir(exist_ok=True)
    service = ServiceProcess(home=home, log_path=ARTIFACTS / "service.log")
    service.start(ready_deadline_s=SERVICE_READY_DEADLINE_S)
    yield service
    service.stop()


@pytest.fixture
def verify_proxy(docvouch_service: ServiceProcess) -> Iterator[CountingProxy]:
    """Counts the verify requests the extension sends (the extension's service URL points here)."""
    proxy = CountingProxy(docvouch_service.port)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def chat_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureSite]:
    """An HTTPS server the browser reaches as https://chatgpt.com/ (see `browser_context`)."""
    certificate = self_signed_certificate(tmp_path_factory.mktemp("tls"), CHAT_HOST)
    site = FixtureSite(SITE_FIXTURES, "chatgpt-streaming.html", certificate)
    yield site
    site.close()


@pytest.fixture
def browser_context(tmp_path: Path, chat_site: FixtureSite) -> Iterator[BrowserContext]:
    """Chromium with the unpacked extension.

    The content scripts only match the real chat hosts, so rather than loosen the manifest for the
    test, the browser resolves chatgpt.com to the local fixture server (--host-resolver-rules) and
    accepts its throwaway certificate. The extension under test is exactly the one users load.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        )
    args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--disable-extensions-except={EXTENSION_DIR}",
        f"--load-extension={EXTENSION_DIR}",
        f"--host-resolver-rules=MAP {CHAT_HOST} 127.0.0.1:{chat_site.port}",
        "--ignore-certificate-errors",
    ]
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            # Headless comes from --headless=new above: the mode that runs extensions.
            headless=False,
            args=args,
            ignore_default_args=["--disable-extensions"],
            ignore_https_errors=True,
            viewport={"width": 1100, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
