"""Admin pages in a real browser: an admin adds a channel and tests it; a user cannot reach any admin page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.api.conftest import ROOT_PASSWORD
from tests.console.conftest import DESKTOP, Context, create_user
from tests.support.deployment import Deployment

ADMIN_ROUTES = [
    "/admin/users", "/admin/channels", "/admin/prices", "/admin/groups", "/admin/codes", "/admin/analytics", "/admin/audit",
]  # fmt: skip


def test_an_admin_adds_a_channel_and_tests_it(browse: Context, console: Deployment, fake_upstream: str) -> None:
    page = browse.log_in("root", ROOT_PASSWORD)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Channels").click()
    form = page.locator("form#new-channel")
    form.get_by_label("Name").fill("backup-openai")
    form.get_by_label("Type").select_option("openai")
    form.get_by_label("Base URL").fill(fake_upstream)
    form.get_by_label("Key").fill("fake-upstream-key")
    form.get_by_label("Models").fill("gpt-4o-mini")
    form.get_by_label("Priority").fill("5")
    form.get_by_label("Weight").fill("3")
    form.get_by_role("button", name="Add channel").click()

    row = page.locator("tbody tr", has_text="backup-openai")
    expect(row).to_contain_text("enabled")
    expect(row.locator("td[data-label=Priority]")).to_have_text("5")
    expect(row.locator("td[data-label=Weight]")).to_have_text("3")
    assert "fake-upstream-key" not in page.content()
    row.get_by_role("button", name="Test").click()
    result = row.locator(".test-result")
    expect(result).to_have_text(re.compile(r"^OK · status 200 · \d+ ms$"))

    row.get_by_role("button", name="Disable").click()
    expect(page.locator("tbody tr", has_text="backup-openai")).to_contain_text("disabled")


def test_admin_pages_each_draw_for_root(browse: Context) -> None:
    page = browse.log_in("root", ROOT_PASSWORD)
    for route in ADMIN_ROUTES:
        browse.open(route)
        expect(page.locator("main h1")).not_to_have_text("Not allowed")
        expect(page.locator("main h1")).not_to_have_text("Loading…")


def test_a_user_cannot_reach_admin_pages(browse: Context, console: Deployment) -> None:
    create_user(console, "bob")
    page = browse.log_in("bob")
    expect(page.get_by_role("navigation", name="Console")).not_to_contain_text("Admin")
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    for route in ADMIN_ROUTES:
        browse.open(route)
        expect(page.locator("main h1")).to_have_text("Not allowed")
        expect(page.locator("main")).to_contain_text("is for administrators")
    assert page.request.get(console.url + "/api/users").status == 403  # and the API refuses it too


def test_an_admin_creates_a_code_and_a_user_tops_up_with_it(
    browse: Context, browser: Browser, console: Deployment
) -> None:
    page = browse.log_in("root", ROOT_PASSWORD)
    browse.open("/admin/codes")
    page.get_by_label("Count").fill("1")
    page.get_by_label("Value (USD)").fill("3")
    page.get_by_role("button", name="Create codes").click()
    dialog = page.get_by_role("dialog", name="New redemption codes")
    code = dialog.locator("output.secret").inner_text()
    dialog.get_by_role("button", name="Done, I have copied it").click()
    expect(page.locator("tbody tr").first).to_contain_text("$3.00")
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all
    assert code not in page.content()

    create_user(console, "erin", balance_usd="1")
    other = browser.new_context(viewport=DESKTOP)
    try:
        user = Context(other, console.url)
        user_page = user.log_in("erin")
        user.open("/topup")
        user_page.get_by_label("Redemption code").fill(code)
        user_page.get_by_role("button", name="Redeem").click()
        expect(user_page.locator("#balance")).to_have_text("$4.00")
        expect(user_page.get_by_role("status")).to_contain_text("Added $3.00")
        user_page.get_by_label("Redemption code").fill(code)
        user_page.get_by_role("button", name="Redeem").click()
        expect(user_page.locator(".form-error")).not_to_be_empty()
        expect(user_page.get_by_text("Added $3.00")).to_have_count(0)  # no green success beside the red error
        expect(user_page.locator("#balance")).to_have_text("$4.00")
        assert user.errors == []
    finally:
        other.close()


def test_an_admin_creates_tops_up_regroups_and_disables_a_user(browse: Context, console: Deployment) -> None:
    page = browse.log_in("root", ROOT_PASSWORD)
    browse.open("/admin/groups")
    page.get_by_label("Name", exact=True).fill("vip")
    page.get_by_label("Multiplier", exact=True).fill("0.8")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator("tbody tr", has_text="vip")).to_be_visible()

    browse.open("/admin/users")
    form = page.locator("form", has_text="Create user")
    form.get_by_label("User name").fill("ivan")
    form.get_by_label("Password").fill("ivan-password")
    form.get_by_label("Balance (USD)").fill("1")
    form.get_by_role("button", name="Create user").click()
    row = page.locator("tbody tr", has_text="ivan")
    expect(row.locator("td[data-label=Balance]")).to_have_text("$1.00")

    row.get_by_role("button", name="Manage").click()
    manage = page.get_by_role("dialog", name="Manage ivan")
    manage.get_by_label("Amount (USD)").fill("2.5")
    manage.get_by_label("Reason").fill("welcome credit")
    manage.get_by_role("button", name="Top up").click()
    expect(manage.locator(".user-topup .notice.ok")).to_have_text("Added $2.50. Balance now $3.50.")
    expect(row.locator("td[data-label=Balance]")).to_have_text("$3.50")
    expect(row.locator("td[data-label=Balance] .money")).to_have_attribute("title", "1,750,000 quota units")

    manage.get_by_label("Group").select_option("vip")
    manage.get_by_role("button", name="Save").click()
    expect(manage.locator(".user-settings .notice.ok")).to_have_text("Saved.")
    expect(row.locator("td[data-label=Group]")).to_have_text("vip")
    manage.get_by_role("button", name="Close").click()

    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    refused = page.request.post(
        console.url + "/api/auth/login",
        data={"username": "ivan", "password": "ivan-password"},
        fail_on_status_code=False,
    )
    assert refused.status == 403
