"""A user's journey in a real browser: log in, create a token with every option, copy its key,
call the relay with it through the OpenAI SDK, see the request in Usage and on the dashboard,
then disable the token from the list and get 401."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai
import pytest
from playwright.sync_api import expect

from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def ask(console: Deployment, key: str) -> str:
    client = openai.OpenAI(api_key=key, base_url=console.url + "/v1", max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    return str(reply.choices[0].message.content)


def test_create_copy_use_and_disable_a_token(browse: Context, console: Deployment) -> None:
    create_user(console, "alice")
    page = browse.log_in("alice")
    page.get_by_role("link", name="Tokens").click()
    expect(page.locator("#token-list")).to_contain_text("No tokens yet: Create Token")

    page.locator("#token-list").get_by_role("button", name="Create Token").click()  # the empty list's link
    expect(page).to_have_url(re.compile(r"#/tokens$"))
    form = page.get_by_role("dialog", name="Create Token")
    expires = (datetime.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    form.get_by_label("Name").fill("production")
    form.get_by_label("Expiration").fill(expires.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Unlimited quota").uncheck()
    form.get_by_label("Quota (USD)").fill("2.5")
    form.get_by_label("Model restrictions").fill("gpt-4o-mini, gpt-4o")
    form.get_by_label("IP allowlist").fill("127.0.0.1, 10.0.0.0/8")
    form.get_by_label("Group").fill("default")
    form.get_by_label("Requests per minute").fill("60")
    form.get_by_label("Tokens per minute").fill("100000")
    form.get_by_label("Max concurrent").fill("3")
    form.get_by_label("Quota reset").select_option("monthly")
    form.get_by_label("Batch count").fill("1")
    form.get_by_role("button", name="Submit").click()

    dialog = page.get_by_role("dialog", name="Your new token")
    key = dialog.locator("output.secret").inner_text()
    assert re.fullmatch(r"sk-[A-Za-z0-9]{32,}", key), key
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog).to_contain_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    dialog.get_by_role("button", name="Done, I have copied it").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)  # removed from the page, key and all

    assert key not in page.content()
    assert key not in str(browse.storage())
    row = page.locator("#token-list tbody tr", has_text="production")
    expect(row).to_contain_text("enabled")
    expect(row).to_contain_text("/ $2.50")

    [token] = page.request.get(console.url + "/api/tokens").json()["items"]  # as the console's session sees it
    assert token["name"] == "production"
    assert (token["quota_limit"], token["unlimited"]) == (1_250_000, False)
    assert token["models"] == ["gpt-4o-mini", "gpt-4o"]
    assert token["allow_ips"] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert (token["group"], token["rpm"], token["tpm"], token["max_concurrent"]) == ("default", 60, 100000, 3)
    assert token["reset"] == "monthly"
    expected_expiry = expires.astimezone(UTC)
    assert datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")) == expected_expiry

    assert ask(console, key)
    console.flush()

    page.get_by_role("link", name="Usage").click()
    record = page.locator("#usage-records tbody tr").first
    expect(record).to_contain_text("gpt-4o-mini")
    expect(record).to_contain_text("200")
    expect(record).to_contain_text("production")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("id,created_at,")
    assert len(exported.splitlines()) == 2
    assert ",gpt-4o-mini," in exported
    page.get_by_role("link", name="Dashboard").click()
    bar = page.locator("figure", has_text="Requests per model").locator("g.bar[data-label='gpt-4o-mini']")
    expect(bar).to_have_attribute("data-value", "1")
    expect(page.locator("[data-stat=today]")).to_contain_text("1 request")

    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("switch", name="Disable production").click()
    expect(page.locator("#token-list tbody tr", has_text="production")).to_contain_text("disabled")
    console.runtime_poll()
    with pytest.raises(openai.AuthenticationError):
        ask(console, key)
    assert key not in page.content()
    assert key not in str(browse.storage())
