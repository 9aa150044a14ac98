"""Access keys, Edit and the password, in a real browser; and Register when registration is open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.api.conftest import PASSWORD
from tests.console.browser import off_the_browser_loop
from tests.console.conftest import DESKTOP, Context, create_user
from tests.support.deployment import Deployment


def test_access_key_shown_once_then_deleted(browse: Context, console: Deployment) -> None:
    create_user(console, "frank")
    page = browse.log_in("frank")
    browse.open("/access-keys")
    expect(page.locator("main")).to_contain_text("No access keys yet")
    page.get_by_label("Name").fill("deploy")
    page.get_by_role("button", name="Create").click()
    dialog = page.get_by_role("dialog", name="Your new access key")
    key = dialog.locator("output.secret").inner_text()
    assert key.startswith("ak-")
    dialog.get_by_role("button", name="Done, I have copied it").click()
    assert httpx.get(console.url + "/api/me", headers={"Authorization": f"Bearer {key}"}).json()["name"] == "frank"
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all
    assert key not in page.content()

    page.locator("tbody tr", has_text="deploy").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("main")).to_contain_text("No access keys yet")
    assert httpx.get(console.url + "/api/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_edit_a_token_and_change_the_password(browse: Context, console: Deployment) -> None:
    create_user(console, "grace")
    page = browse.log_in("grace")
    browse.open("/tokens")
    page.locator("button.create-token").click()
    page.get_by_role("dialog", name="Create Token").get_by_label("Name").fill("laptop")
    page.get_by_role("dialog", name="Create Token").get_by_role("button", name="Submit").click()
    page.get_by_role("dialog").get_by_role("button", name="Done, I have copied it").click()
    page.locator("tbody tr", has_text="laptop").get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit laptop")
    edit.get_by_label("Name").fill("laptop-2")
    edit.get_by_label("Unlimited quota").uncheck()
    edit.get_by_label("Quota (USD)").fill("1")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("tbody tr", has_text="laptop-2")).to_contain_text("/ $1.00")

    browse.open("/account")
    page.get_by_label("Current password").fill("wrong-password")
    page.get_by_label("New password").fill("a-new-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("[data-field=current_password] .error")).to_contain_text("wrong")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed.")
    login = httpx.post(console.url + "/api/auth/login", json={"username": "grace", "password": "a-new-password"})
    assert login.status_code == 200


@pytest.fixture
def open_registration(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path / "open", registration="open")
    off_the_browser_loop(deployment.start)
    yield deployment
    off_the_browser_loop(deployment.stop)


def test_register_when_registration_is_open(browser: Browser, open_registration: Deployment) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = Context(context, open_registration.url)
        page = visitor.open("/login")
        page.get_by_role("link", name="Register").click()
        page.get_by_label("User name").fill("heidi")
        page.get_by_label("Password").fill("heidi-password")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        assert visitor.errors == []
    finally:
        context.close()


def test_no_register_link_when_registration_is_closed(browse: Context) -> None:
    page = browse.open("/register")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="Register")).to_have_count(0)
