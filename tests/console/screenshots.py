"""Screenshots of every console page at desktop (1280 px) and phone (390 px) width, into docs/screenshots/.

Run by hand, not by `make test`:  .venv/bin/python -m tests.console.screenshots
It starts a throwaway gateway (SQLite in a temporary directory) and the fake upstream, seeds a little
data, and photographs each page; nothing it creates outlives the run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from relaygate.fakeupstream import create_fake_upstream_app
from tests.api.conftest import PASSWORD, ROOT_PASSWORD, with_root
from tests.console.browser import ARGS, CHROMIUM
from tests.support.deployment import Deployment
from tests.support.servers import AiohttpThread

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}
USER_PAGES = ["dashboard", "tokens", "usage", "topup", "access-keys", "account"]
ADMIN_PAGES = ["users", "channels", "prices", "groups", "codes", "audit"]


def seed(gw: Deployment, upstream: str) -> None:
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake", "--name", "primary",
           "--models", "gpt-4o-mini,gpt-4o")  # fmt: skip
    gw.cli("price", "set", "gpt-4o-mini", "--input", "0.15", "--output", "0.6", "--cached-input", "0.075")
    gw.cli("price", "set", "gpt-4o", "--input", "2.5", "--output", "10")
    gw.cli("user", "create", "alice", "--password", PASSWORD, "--balance-usd", "25")
    gw.cli("user", "create", "bob", "--password", PASSWORD, "--balance-usd", "5")
    keys = [
        gw.cli("token", "create", "--user", "alice", "--name", "production", "--quota-usd", "10")[0]["key"],
        gw.cli("token", "create", "--user", "alice", "--name", "staging", "--models", "gpt-4o-mini")[0]["key"],
    ]
    gw.cli("token", "create", "--user", "alice", "--name", "old-laptop")
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake", "--name", "backup",
           "--models", "gpt-4o,o3-mini", "--map", "gpt-4o=gpt-4o-2024-08-06", "--priority", "-1")  # fmt: skip
    bobs = gw.cli("token", "create", "--user", "bob", "--name", "bob-cli")[0]["key"]
    for index in range(14):
        model = "gpt-4o" if index % 3 == 0 else "gpt-4o-mini"
        body = {"model": model, "messages": [{"role": "user", "content": "hello " * (index + 1)}], "max_tokens": 20}
        headers = {"Authorization": f"Bearer {keys[0 if model == 'gpt-4o' else index % 2]}"}
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30).raise_for_status()
    for index in range(5):
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi " * (index + 3)}],
            "max_tokens": 20,
        }
        headers = {"Authorization": f"Bearer {bobs}"}
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30).raise_for_status()
    # A channel whose upstream refuses its key: channel health takes it out, with the reason.
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake;fail=401", "--name", "flaky",
           "--models", "gpt-4.1")  # fmt: skip
    gw.cli("price", "set", "gpt-4.1", "--input", "2", "--output", "8")
    gw.runtime_poll()
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
    httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {bobs}"}, timeout=30)
    gw.flush()


def shoot(page: Page, name: str, width: str, full_page: bool = True) -> None:
    page.wait_for_timeout(150)
    page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=full_page)


# The words of the login form and the dashboard heading, per console language.
WORDS = {
    "en": {"user": "User name", "password": "Password", "log_in": "Log in", "dashboard": "Dashboard"},
    "zh-CN": {"user": "用户名", "password": "密码", "log_in": "登录", "dashboard": "仪表盘"},
}


def log_in(page: Page, url: str, name: str, password: str, language: str = "en") -> None:
    words = WORDS[language]
    page.goto(url + "/#/login")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label(words["user"]).fill(name)
    page.get_by_label(words["password"], exact=True).fill(password)
    page.get_by_role("button", name=words["log_in"]).click()
    page.get_by_role("heading", name=words["dashboard"]).wait_for()


def visit(page: Page, url: str, route: str) -> None:
    page.goto(f"{url}/#{route}")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("main .loading").wait_for(state="detached")


def chat(page: Page, heading: str, send: str, message: str) -> None:
    """Open the Playground without reloading (keys live in the tab's memory) and get one streamed answer."""
    page.evaluate("() => { location.hash = '#/playground'; }")
    page.get_by_role("heading", name=heading).wait_for()
    page.locator("form.playground textarea").fill(message)
    page.get_by_role("button", name=send).click()
    page.locator(".chat .answer-cost").wait_for()


def photograph(page: Page, url: str, width: str) -> None:
    visit(page, url, "/login")
    shoot(page, "login", width)
    visit(page, url, "/register")
    shoot(page, "register", width)
    log_in(page, url, "alice", PASSWORD)
    for name in USER_PAGES:
        visit(page, url, "/" + name)
        shoot(page, name, width)
    visit(page, url, "/tokens")
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="Create Token")
    shoot(page, "token-create-dialog", width, full_page=False)
    form.get_by_label("Name").fill("ci-pipeline")
    form.get_by_role("button", name="Submit").click()
    page.get_by_role("dialog").wait_for()
    shoot(page, "token-key-dialog", width, full_page=False)
    page.keyboard.press("Escape")
    chat(page, "Playground", "Send", "Say hello to the team")  # the key just created is offered
    shoot(page, "playground", width)
    visit(page, url, "/admin/users")
    shoot(page, "not-allowed", width)
    page.get_by_role("button", name="Log out").click()
    log_in(page, url, "root", ROOT_PASSWORD)
    photograph_admin(page, url, width, "", "Test", "Manage", ADMIN_PAGES)
    page.get_by_role("button", name="Log out").click()


def photograph_admin(page: Page, url: str, width: str, prefix: str, test: str, manage: str, pages: list[str]) -> None:
    """The whole site as root: dashboard, usage, the admin `pages` (channels after a Test), a user's Manage dialog."""
    for name in ["dashboard", "usage"]:
        visit(page, url, "/" + name)
        shoot(page, f"{prefix}admin-{name}", width)
    for name in pages:
        visit(page, url, "/admin/" + name)
        if name == "channels":
            page.get_by_role("button", name=test, exact=True).first.click()
            page.locator(".test-result.ok").first.wait_for()
        shoot(page, f"{prefix}admin-{name}", width)
    visit(page, url, "/admin/users")
    page.locator("tbody tr", has_text="bob").get_by_role("button", name=manage).click()
    dialog = page.get_by_role("dialog")
    dialog.locator("[data-field=usd] input").fill("2.5")
    dialog.locator("form.user-topup button[type=submit]").click()
    dialog.locator(".user-topup .notice.ok").wait_for()
    shoot(page, f"{prefix}admin-user-manage", width, full_page=False)
    page.keyboard.press("Escape")


def photograph_chinese(page: Page, url: str, width: str) -> None:
    """The main user pages in Simplified Chinese (the browser's language is zh-CN)."""
    log_in(page, url, "alice", PASSWORD, "zh-CN")
    for name in ["dashboard", "topup", "tokens"]:
        visit(page, url, "/" + name)
        shoot(page, f"zh-CN-{name}", width)
    page.locator("button.create-token").click()
    page.get_by_role("dialog").wait_for()
    shoot(page, "zh-CN-token-create-dialog", width, full_page=False)
    form = page.get_by_role("dialog")
    form.locator("[data-field=name] input").fill("测试")
    form.locator("button[type=submit]").click()
    page.locator("dialog.secret-dialog button[type=submit]").click()
    page.locator("#token-list tbody tr", has_text="测试").locator("button.copy-key").click()
    page.get_by_role("dialog").wait_for()
    shoot(page, "zh-CN-token-copy-dialog", width, full_page=False)
    page.keyboard.press("Escape")
    chat(page, "操练场", "发送", "你好")
    shoot(page, "zh-CN-playground", width)
    page.get_by_role("button", name="退出登录").click()
    log_in(page, url, "root", ROOT_PASSWORD, "zh-CN")
    photograph_admin(page, url, width, "zh-CN-", "测试", "管理", ["users", "channels", "prices"])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    upstream = AiohttpThread(create_fake_upstream_app())
    upstream_url = upstream.start()
    with tempfile.TemporaryDirectory() as directory:
        gw = Deployment(Path(directory) / "data", registration="open")
        gw.start()
        with_root(gw)
        seed(gw, upstream_url)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                for width, viewport in WIDTHS.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=1)
                    photograph(context.new_page(), gw.url, width)
                    context.close()
                    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="zh-CN")
                    photograph_chinese(context.new_page(), gw.url, width)
                    context.close()
                browser.close()
        finally:
            gw.stop()
            upstream.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
