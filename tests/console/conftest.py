from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.api.conftest import PASSWORD, with_root
from tests.conftest import _running
from tests.console.browser import ARGS, CHROMIUM, off_the_browser_loop, require_chromium
from tests.support.deployment import Deployment

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all of tests/console; each test gets a fresh context (cookies, storage).

    Package-scoped, not session-scoped: while Playwright's sync API is open, its event loop counts as
    running in this thread, so the rest of the suite (asyncio.run in the CLI and helpers) needs it closed."""
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, fake_upstream: str) -> Iterator[Deployment]:
    """A running gateway shared by a module's tests: root, a channel to the fake upstream, priced models."""
    deployment = Deployment(Path(tmp_path_factory.mktemp("console")) / "data")
    running = _running(deployment, fake_upstream)
    off_the_browser_loop(lambda: next(running))
    off_the_browser_loop(lambda: with_root(deployment))
    yield deployment
    off_the_browser_loop(lambda: next(running, None))


class Context:
    """A browser context on the console, with what the tests need to check: errors and storage."""

    def __init__(self, context: BrowserContext, base_url: str):
        self.context = context
        self.base_url = base_url
        self.page: Page = context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self._console(message.type, message.text))

    def _console(self, kind: str, text: str) -> None:
        # The browser logs every 4xx answer as a failed resource; the console expects those (401 when logged out,
        # 422 for a bad field) and shows them. Anything else logged as an error is a defect.
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.errors.append(text)

    def open(self, route: str = "/dashboard") -> Page:
        self.page.goto(f"{self.base_url}/#{route}")
        self.page.wait_for_selector("body[data-ready=true]")
        return self.page

    def log_in(self, name: str, password: str = PASSWORD) -> Page:
        page = self.open("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Dashboard").wait_for()
        return page

    def storage(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(
            "() => ({local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage),"
            " url: location.href, history: history.length})"
        )
        return result


@pytest.fixture
def browse(browser: Browser, console: Deployment) -> Iterator[Context]:
    context = browser.new_context(viewport=DESKTOP, base_url=console.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    opened = Context(context, console.url)
    yield opened
    context.close()
    assert opened.errors == [], opened.errors


def create_user(console: Deployment, name: str, role: str = "user", balance_usd: str = "10") -> None:
    off_the_browser_loop(
        lambda: console.cli(
            "user", "create", name, "--password", PASSWORD, "--role", role, "--balance-usd", balance_usd
        )
    )
