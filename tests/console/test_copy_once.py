"""Copy from the token list, once: a sealed key is revealed by the list's Copy, put on the clipboard and shown
in the one-time dialog; afterwards the list offers no Copy, and a tab with a stale list that tries again is
told, in the console's words, that the key is no longer available."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def test_copy_reveals_the_key_once(browse: Context, console: Deployment) -> None:
    create_user(console, "carol")
    page = browse.log_in("carol")
    browse.open("/tokens")
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="Create Token")
    form.get_by_label("Name").fill("ci")
    form.get_by_role("button", name="Submit").click()
    created = page.get_by_role("dialog", name="Your new token")
    created_key = created.locator("output.secret").inner_text()
    created.get_by_role("button", name="Done, I have copied it").click()
    page.evaluate("() => navigator.clipboard.writeText('')")

    stale = browse.context.new_page()  # a second tab, its list drawn before the key is revealed
    stale.goto(console.url + "/#/tokens")
    stale.locator("#token-list tbody tr", has_text="ci").wait_for()

    row = page.locator("#token-list tbody tr", has_text="ci")
    row.get_by_role("button", name="Copy the key of ci").click()
    dialog = page.get_by_role("dialog", name="The key of ci")
    expect(dialog).to_contain_text("Copied to the clipboard")
    key = dialog.locator("output.secret").inner_text()
    assert key == created_key
    assert re.fullmatch(r"sk-[A-Za-z0-9]{32,}", key)
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    dialog.get_by_role("button", name="Done, I have copied it").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all
    assert key not in page.content()
    assert key not in str(browse.storage())

    copy = row.get_by_role("button", name="Copy", exact=True)  # the list drawn again: no longer revealable
    expect(copy).to_be_disabled()
    expect(copy).to_have_attribute("title", "Create or rotate a token for a new key.")

    stale.locator("#token-list tbody tr", has_text="ci").get_by_role("button", name="Copy the key of ci").click()
    expect(stale.locator(".token-message")).to_have_text(
        "This key can no longer be shown. Create or rotate a token for a new key."
    )
    expect(stale.get_by_role("dialog")).to_have_count(0)
    stale_row = stale.locator("#token-list tbody tr", has_text="ci")
    expect(stale_row.get_by_role("button", name="Copy", exact=True)).to_be_disabled()
    [token] = page.request.get(console.url + "/api/tokens").json()["items"]
    assert token["revealable"] is False
    stale.close()
