"""What a person sees, in a real browser: the Account facts as text, the token list's badge and
at-a-glance settings (also at phone width), and a channel's Base URL on one line."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.api.conftest import ROOT_PASSWORD
from tests.console.browser import off_the_browser_loop
from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment

PHONE = {"width": 390, "height": 844}


def api_post(page: Page, path: str, body: dict[str, object]) -> dict[str, object]:
    """A write as the console's own session makes it (cookie and CSRF token)."""
    csrf = page.request.get("/api/me").json()["csrf_token"]
    response = page.request.post(path, data=body, headers={"X-CSRF-Token": csrf})
    assert response.ok, response.text()
    result: dict[str, object] = response.json()
    return result


def test_the_account_page_shows_its_facts_as_text(browse: Context, console: Deployment) -> None:
    create_user(console, "ivan", balance_usd="7")
    page = browse.log_in("ivan")
    browse.open("/account")
    facts = page.locator("dl.facts")
    expect(facts).not_to_contain_text("[object")
    expect(facts.locator("dt")).to_have_text(
        ["User name", "Role", "Group", "Balance", "Used", "Requests", "Member since"]
    )
    expect(facts.locator("dd")).to_have_count(7)
    expect(facts.locator("dd").nth(0)).to_have_text("ivan")
    expect(facts.locator("dd").nth(3)).to_have_text("$7.00")
    assert page.evaluate("() => document.documentElement.scrollHeight") < 1500  # not stretched to 2,615 px


def test_an_expired_token_is_not_shown_as_enabled(browse: Context, console: Deployment) -> None:
    create_user(console, "judy")
    page = browse.log_in("judy")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    api_post(page, "/api/tokens", {"name": "short-lived", "expires_at": soon})
    api_post(page, "/api/tokens", {"name": "lasting"})
    time.sleep(2.5)
    browse.open("/tokens")
    expired = page.locator("#token-list tbody tr", has_text="short-lived").locator(".badge")
    expect(expired).to_have_text("expired")
    expect(expired).not_to_have_class("badge enabled")
    expect(page.locator("#token-list tbody tr", has_text="lasting").locator(".badge")).to_have_text("enabled")


def test_create_token_opens_a_dialog_and_the_list_shows_each_tokens_settings_at_phone_width(
    browse: Context, console: Deployment
) -> None:
    create_user(console, "kim")
    page = browse.log_in("kim")
    page.set_viewport_size(PHONE)
    browse.open("/tokens")
    expect(page.locator("form.create-token")).to_have_count(0)  # no form under the list
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="Create Token")
    form.get_by_label("Name").fill("phone")
    form.get_by_label("Model restrictions").fill("gpt-4o-mini")
    form.get_by_label("IP allowlist").fill("10.0.0.0/8")
    form.get_by_label("Group").fill("default")
    form.get_by_label("Requests per minute").fill("30")
    form.get_by_role("button", name="Submit").click()
    page.get_by_role("dialog", name="Your new token").get_by_role("button", name="Done, I have copied it").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    row = page.locator("#token-list tbody tr", has_text="phone")
    glance = row.locator(".glance")
    expect(glance).to_contain_text("Modelsgpt-4o-mini")
    expect(glance).to_contain_text("IPs10.0.0.0/8")
    expect(glance).to_contain_text("Limits30 RPM")
    expect(glance).to_contain_text("Groupdefault")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling


def test_a_channel_base_url_stays_on_one_line(browse: Context, console: Deployment) -> None:
    long_url = "https://relay-upstream.internal.example.com/openai/compatible/v1"
    command = ["channel", "add", "--type", "openai", "--base-url", long_url, "--key", "k", "--name", "far"]
    off_the_browser_loop(lambda: console.cli(*command, "--models", "far-model"))
    page = browse.log_in("root", ROOT_PASSWORD)
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page.set_viewport_size(viewport)
        browse.open("/admin/channels")
        url = page.locator("tbody tr", has_text="far").locator("code.url, code.wrap").first
        expect(url).to_have_attribute("title", long_url)
        lines = url.evaluate("(el) => el.getClientRects().length")
        height = url.evaluate(
            "(el) => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight || 20)"
        )
        assert lines == 1, (viewport, lines)
        assert height < 1.6, (viewport, height)
