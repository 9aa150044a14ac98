"""What keeps the console safe and usable: security headers, no inline script, errors beside their field,
a batch of keys shown once, and a phone-width layout."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def test_every_console_response_has_the_security_headers(console: Deployment) -> None:
    for path in ("/", "/console/app.js", "/console/console.css", "/console/pages/tokens.js"):
        response = httpx.get(console.url + path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "style-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    shell = httpx.get(console.url + "/").text
    assert re.findall(r"<script[^>]*>", shell) == ['<script type="module" src="/console/app.js">']
    assert "style=" not in shell
    script_type = httpx.get(console.url + "/console/app.js").headers["content-type"].split(";")[0]
    assert script_type in {"text/javascript", "application/javascript"}  # a module script needs a JavaScript type
    assert httpx.get(console.url + "/console/missing.js").status_code == 404


def test_api_errors_show_next_to_their_field_and_a_batch_shows_every_key_once(
    browse: Context, console: Deployment
) -> None:
    create_user(console, "carol")
    page = browse.log_in("carol")
    browse.open("/tokens")
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="Create Token")
    form.get_by_label("Name").fill("ci")
    form.get_by_label("IP allowlist").fill("not-an-address")
    form.get_by_role("button", name="Submit").click()
    error = form.locator("[data-field=allow_ips] .error")
    expect(error).to_contain_text("not-an-address")
    expect(error).to_contain_text("IP allowlist entry")  # the form's label, not the API's field name
    expect(error).not_to_contain_text("allow_ips", ignore_case=True)
    expect(form.locator("[data-field=name] .error")).to_be_empty()

    form.get_by_label("IP allowlist").fill("")
    form.get_by_label("Batch count").fill("3")
    form.get_by_role("button", name="Submit").click()
    dialog = page.get_by_role("dialog", name="3 new tokens")
    expect(dialog.locator("output.secret")).to_have_count(3)
    keys = dialog.locator("output.secret").all_inner_texts()
    assert len(set(keys)) == 3
    dialog.get_by_role("button", name="Copy key 2").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == keys[1]
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all
    expect(page.locator("#token-list tbody tr")).to_have_count(3)
    content, storage = page.content(), str(browse.storage())
    assert not any(key in content or key in storage for key in keys)

    first = page.locator("#token-list tbody tr").first
    first.get_by_role("button", name="Rotate").click()
    page.get_by_role("dialog", name="Rotate ci-1?").get_by_role("button", name="Rotate").click()
    rotated = page.get_by_role("dialog", name="The rotated token")
    new_key = rotated.locator("output.secret").inner_text()
    assert new_key.startswith("sk-")
    assert new_key not in keys
    rotated.get_by_role("button", name="Done, I have copied it").click()
    expect(rotated).to_have_count(0)
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all
    assert new_key not in page.content()

    first.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete ci-1?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator("#token-list tbody tr")).to_have_count(3)
    first.get_by_role("button", name="Delete").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator("#token-list tbody tr")).to_have_count(2)


def test_a_phone_width_screen_gets_a_menu_and_stacked_rows(browse: Context, console: Deployment) -> None:
    create_user(console, "dave")
    page = browse.page
    page.set_viewport_size({"width": 390, "height": 844})
    browse.log_in("dave")
    nav = page.get_by_role("navigation", name="Console")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    nav.get_by_role("link", name="Tokens").click()
    expect(nav).to_be_hidden()
    expect(page.locator("#token-list")).to_contain_text("No tokens yet: Create Token")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390


def tab_to(page: Page, condition: str) -> None:
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {condition}"):
            return
    raise AssertionError(f"Tab never reached an element where {condition}")


def test_logging_in_and_reaching_tokens_with_the_keyboard_only(browse: Context, console: Deployment) -> None:
    create_user(console, "judy")
    page = browse.open("/login")
    tab_to(page, "document.activeElement.getAttribute('autocomplete') === 'username'")
    page.keyboard.type("judy")
    page.keyboard.press("Tab")
    page.keyboard.type("password-123")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    tab_to(page, "document.activeElement.textContent === 'Tokens'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Tokens", exact=True)).to_be_visible()
    labels = page.evaluate(
        "() => [...document.querySelectorAll('main input, main select, main textarea')]"
        ".filter((el) => !el.labels || el.labels.length === 0).map((el) => el.name)"
    )
    assert labels == []
