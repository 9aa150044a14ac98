"""An operator's day in a real browser: the whole site's usage on the dashboard and the Usage page, with
filters by user, token, channel, model and status and charts per user, channel and model; managing users
(password, rate limits, disable, delete, a top-up that says it succeeded); channel health and mapping;
prices edited in place, loaded from the defaults, and the served-but-unpriced models flagged."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import channels
from tests.api.conftest import ROOT_PASSWORD
from tests.console.browser import off_the_browser_loop
from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def chat(console: Deployment, key: str, model: str = "gpt-4o-mini") -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(console.url + "/v1/chat/completions", json=body, headers=headers, timeout=30).status_code


@pytest.fixture(scope="module")
def site(console: Deployment) -> dict[str, Any]:
    """Two users' requests over two channels, one answered with an upstream error."""
    return off_the_browser_loop(lambda: seed_site_usage(console))


def seed_site_usage(console: Deployment) -> dict[str, Any]:
    main = console.cli("channel", "list")[0]
    failing = console.cli(
        "channel", "add", "--type", "openai", "--base-url", main["base_url"], "--key", "fake;fail=500",
        "--name", "flaky", "--models", "failing-model",
    )[0]  # fmt: skip
    console.cli("price", "set", "failing-model", "--input", "1", "--output", "1")
    create_user(console, "olga")
    create_user(console, "pete")
    olgas = console.cli("token", "create", "--user", "olga", "--name", "olga-key")[0]
    petes = console.cli("token", "create", "--user", "pete", "--name", "pete-key")[0]
    console.runtime_poll()
    assert [chat(console, olgas["key"]) for _ in range(3)] == [200] * 3
    assert chat(console, petes["key"], "gpt-4o") == 200
    assert chat(console, petes["key"], "failing-model") == 500
    console.flush()
    return {"main": main, "failing": failing, "olgas": olgas, "petes": petes}


def chart_bars(page: Page, selector: str) -> dict[str, str]:
    bars = page.locator(selector).locator("g.bar")
    labels = bars.evaluate_all("(bars) => bars.map((bar) => [bar.dataset.label, bar.dataset.value])")
    return dict(labels)


def test_an_admin_sees_the_whole_site_on_the_dashboard_and_filters_its_usage(
    browse: Context, site: dict[str, Any]
) -> None:
    seeded = site
    page = browse.log_in("root", ROOT_PASSWORD)
    expect(page.get_by_role("button", name="Whole site")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-stat=site-today] .stat-value")).not_to_have_text("$0.00")
    expect(page.locator("[data-stat=site-today]")).to_contain_text("5 requests")
    per_user = chart_bars(page, "section[data-per=user] figure:first-of-type")
    assert per_user == {"olga": "3", "pete": "2"}
    per_channel = chart_bars(page, "section[data-per=channel] figure:first-of-type")
    assert per_channel == {seeded["main"]["name"]: "4", "—": "1"}  # a request no channel answered has none
    assert chart_bars(page, "section[data-per=model] figure:first-of-type") == {
        "failing-model": "1", "gpt-4o": "1", "gpt-4o-mini": "3",
    }  # fmt: skip
    page.get_by_role("button", name="My account").click()
    expect(page.locator("[data-stat=balance]")).to_be_visible()
    expect(page.locator("section[data-per=user]")).to_have_count(0)

    browse.open("/usage")
    records = page.locator("#usage-records tbody tr")
    expect(records).to_have_count(5)  # every user's, not only root's (none)
    expect(page.locator("#usage-records thead")).to_contain_text("User")
    assert chart_bars(page, "#usage-charts figure:nth-of-type(1)") == {"olga": "3", "pete": "2"}

    filters = page.get_by_role("search")
    filters.get_by_label("User").select_option(label="pete")
    filters.get_by_role("button", name="Filter").click()
    expect(records).to_have_count(2)
    filters.get_by_label("Status").select_option("error")
    filters.get_by_role("button", name="Filter").click()
    expect(records).to_have_count(1)
    expect(records.first).to_contain_text("failing-model")
    expect(records.first.locator("td[data-label=Channel]")).to_have_text("—")
    expect(records.first.locator("td[data-label=Status]")).to_have_text("500")
    assert chart_bars(page, "#usage-charts figure:nth-of-type(3)") == {"failing-model": "1"}

    filters.get_by_label("User").select_option("")
    filters.get_by_label("Status").select_option("")
    filters.get_by_label("Channel").select_option(str(seeded["main"]["id"]))
    filters.get_by_label("Model").fill("gpt-4o-mini")
    filters.get_by_role("button", name="Filter").click()
    expect(records).to_have_count(3)
    filters.get_by_label("Token ID").fill(str(seeded["petes"]["id"]))
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#usage-records")).to_contain_text("No requests yet")
    csv = page.locator("a[download]").get_attribute("href") or ""
    assert "all_users=true" in csv
    assert f"channel_id={seeded['main']['id']}" in csv


def test_a_user_sees_only_their_own_usage_and_no_site_filters(browse: Context, site: dict[str, Any]) -> None:
    page = browse.log_in("olga")
    expect(page.get_by_role("button", name="Whole site")).to_have_count(0)
    expect(page.locator("[data-stat=today]")).to_contain_text("3 requests")
    browse.open("/usage")
    expect(page.locator("#usage-records tbody tr")).to_have_count(3)
    filters = page.get_by_role("search")
    expect(filters.get_by_label("User")).to_have_count(0)
    expect(filters.get_by_label("Channel")).to_have_count(0)
    expect(page.locator("#usage-charts")).to_have_count(0)


def test_an_admin_resets_a_password_sets_rate_limits_tops_up_disables_and_deletes_a_user(
    browse: Context, console: Deployment
) -> None:
    create_user(console, "quinn", balance_usd="2")
    page = browse.log_in("root", ROOT_PASSWORD)
    browse.open("/admin/users")
    row = page.locator("tbody tr", has_text="quinn")
    expect(row.locator("td[data-label='Rate limits']")).to_have_text("No limit")

    row.get_by_role("button", name="Manage").click()
    manage = page.get_by_role("dialog", name="Manage quinn")
    manage.get_by_label("Requests per minute").fill("30")
    manage.get_by_label("Tokens per minute").fill("20000")
    manage.get_by_label("Max concurrent").fill("2")
    manage.get_by_role("button", name="Save").click()
    expect(manage.locator(".user-settings .notice.ok")).to_have_text("Saved.")
    expect(row.locator("td[data-label='Rate limits']")).to_have_text("30 RPM · 20,000 TPM · 2 concurrent")
    limits = off_the_browser_loop(lambda: console.user("quinn"))
    assert (limits["rpm"], limits["tpm"], limits["max_concurrent"]) == (30, 20000, 2)

    manage.get_by_label("Amount (USD)").fill("-0.5")
    manage.get_by_role("button", name="Top up").click()
    expect(manage.locator(".user-topup .notice.ok")).to_have_text("Took back $0.50. Balance now $1.50.")
    manage.get_by_label("Amount (USD)").fill("-100")
    manage.get_by_role("button", name="Top up").click()
    expect(manage.locator(".user-topup .form-error")).not_to_be_empty()
    expect(manage.locator(".user-topup .notice.ok")).to_have_count(0)  # no success beside the error

    manage.get_by_label("New password").fill("quinn-new-password")
    manage.get_by_role("button", name="Set password").click()
    expect(manage.locator(".user-password .notice.ok")).to_have_text("Password set. quinn is logged out everywhere.")
    manage.get_by_label("Requests per minute").fill("")
    manage.get_by_role("button", name="Save").click()
    expect(row.locator("td[data-label='Rate limits']")).to_have_text("20,000 TPM · 2 concurrent")
    manage.get_by_role("button", name="Close").click()
    login = {"username": "quinn", "password": "quinn-new-password"}  # in another client: not root's cookies
    assert httpx.post(console.url + "/api/auth/login", json=login).status_code == 200

    row.get_by_role("button", name="Disable").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    row.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete quinn?").get_by_role("button", name="Delete").click()
    expect(page.locator("tbody tr", has_text="quinn")).to_have_count(0)
    assert httpx.post(console.url + "/api/auth/login", json=login).status_code != 200


def test_channels_show_their_id_mapping_and_health_and_fetch_models(browse: Context, console: Deployment) -> None:
    mapped = off_the_browser_loop(
        lambda: console.cli(
            "channel", "add", "--type", "openai", "--base-url", "http://127.0.0.1:9", "--key", "k",
            "--name", "mapped", "--models", "gpt-4o", "--map", "gpt-4o=gpt-4o-2024-08-06",
        )[0]
    )  # fmt: skip

    async def take_out(conn: AsyncConnection) -> None:
        await conn.execute(
            update(channels)
            .where(channels.c.id == mapped["id"])
            .values(
                status="auto_disabled",
                disabled_reason="upstream answered 401",
                disabled_at=datetime.now(UTC),
                last_probe_at=datetime.now(UTC),
                last_probe_error="connection refused",
            )
        )

    off_the_browser_loop(lambda: console.db(take_out))
    page = browse.log_in("root", ROOT_PASSWORD)
    browse.open("/admin/channels")
    row = page.locator("tbody tr", has_text="mapped")
    expect(row.locator("td[data-label=ID]")).to_have_text(f"#{mapped['id']}")
    expect(row.locator(".mapping")).to_have_text("gpt-4o → gpt-4o-2024-08-06")
    health = row.locator("td[data-label=Health]")
    expect(health.locator(".badge")).to_have_text("auto_disabled")
    expect(health).to_contain_text("upstream answered 401")
    expect(health).to_contain_text("connection refused")

    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit mapped")
    mapping = edit.get_by_label("Model mapping")
    expect(mapping).to_have_value("gpt-4o=gpt-4o-2024-08-06")
    mapping.fill("gpt-4o gpt-4o-latest")
    edit.get_by_role("button", name="Save").click()
    expect(edit.locator("[data-field=model_map] .error")).to_contain_text("FROM=TO")
    mapping.fill("gpt-4o=gpt-4o-latest\ngpt-4o-mini = gpt-4o-mini-2024-07-18")
    chat_only = edit.get_by_label("Chat Completions only")
    expect(chat_only).not_to_be_checked()
    chat_only.check()
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row.locator(".mapping li")).to_have_text(["gpt-4o → gpt-4o-latest", "gpt-4o-mini → gpt-4o-mini-2024-07-18"])
    stored = page.request.get(f"/api/channels/{mapped['id']}").json()
    assert stored["model_map"] == {"gpt-4o": "gpt-4o-latest", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
    assert stored["chat_completions_only"] is True
    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("dialog", name="Edit mapped").get_by_label("Chat Completions only")).to_be_checked()
    page.keyboard.press("Escape")

    fetcher = off_the_browser_loop(lambda: add_channel(console, "fetcher", "gpt-4o-mini"))
    page.reload()
    row = page.locator("tbody tr", has_text="fetcher")
    row.get_by_role("button", name="Fetch models").click()
    expect(row.locator(".fetch-result")).to_have_text(re.compile(r"^3 listed, 2 new: \S+, \S+ Add new models$"))
    row.get_by_role("button", name="Add new models").click()
    expect(row.locator("td[data-label=Models]")).to_have_text(re.compile(r"^gpt-4o-mini, \S+, \S+$"))
    served = page.request.get(f"/api/channels/{fetcher['id']}").json()["models"]
    assert len(served) == 3
    assert served[0] == "gpt-4o-mini"


def add_channel(console: Deployment, name: str, models: str) -> dict[str, Any]:
    """A channel to the fake upstream."""
    base_url = console.cli("channel", "list")[0]["base_url"]
    added: dict[str, Any] = console.cli(
        "channel", "add", "--type", "openai", "--base-url", base_url, "--key", "fake", "--name", name, "--models", models
    )[0]  # fmt: skip
    return added


def test_prices_are_edited_in_place_unpriced_models_flagged_and_defaults_loaded(
    browse: Context, console: Deployment
) -> None:
    page = browse.log_in("root", ROOT_PASSWORD)
    csrf = {"X-CSRF-Token": page.request.get("/api/me").json()["csrf_token"]}
    page.request.put(
        "/api/prices/gpt-4o", data={"input": "2.5", "output": "10", "max_output_tokens": 16384}, headers=csrf
    )
    browse.open("/admin/prices")
    flagged = page.locator("tbody tr", has_text="unpriced-model")
    expect(flagged.locator(".badge")).to_have_text("No price")  # served by the fixture's channel, never priced
    expect(page.locator("#unpriced-models")).to_contain_text("unpriced-model")
    flagged.get_by_label("Input of unpriced-model", exact=True).fill("1")
    flagged.get_by_label("Output of unpriced-model", exact=True).fill("2")
    flagged.get_by_role("button", name="Save").click()
    expect(page.locator("#prices-result")).to_have_text("Saved the price of unpriced-model.")
    expect(page.locator("#unpriced-models")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="unpriced-model").locator(".badge")).to_have_count(0)

    row = page.locator("tbody tr", has_text="gpt-4o").filter(has_not_text="mini").first
    expect(row.get_by_label("Output of gpt-4o", exact=True)).to_have_value("10")
    row.get_by_label("Output of gpt-4o", exact=True).fill("12")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#prices-result")).to_have_text("Saved the price of gpt-4o.")
    prices = {price["model"]: price for price in page.request.get("/api/prices").json()["items"]}
    assert (prices["gpt-4o"]["input"], prices["gpt-4o"]["output"]) == ("2.5", "12")
    assert prices["gpt-4o"]["max_output_tokens"] == 16384  # what the row does not show is kept
    assert (prices["unpriced-model"]["input"], prices["unpriced-model"]["output"]) == ("1", "2")

    row = page.locator("tbody tr", has_text="gpt-4o").filter(has_not_text="mini").first
    for name in ("Input", "Output"):
        row.get_by_label(f"{name} of gpt-4o", exact=True).fill("")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".row-result.bad")).not_to_be_empty()  # nothing left to price it by: refused in the row

    before = len(prices)
    page.get_by_role("button", name="Load default prices").click()
    page.get_by_role("dialog", name="Load the default prices?").get_by_role(
        "button", name="Load default prices"
    ).click()
    expect(page.locator("#prices-result")).to_contain_text(re.compile(r"^Set \d+ prices from the list prices"))
    after = {price["model"]: price for price in page.request.get("/api/prices").json()["items"]}
    assert len(after) > before
    assert after["gpt-4o"]["output"] == "12"  # an operator's own price is not replaced
    expect(page.locator("tbody tr")).to_have_count(len(after))
    audit = page.request.get("/api/audit").json()["items"]
    assert "price.load_defaults" in [entry["action"] for entry in audit]


ALLOWED_LATIN = {"ID", "Base URL", "relaygate"}  # the same words in new-api's Chinese console
# Data, not console words: the users, channels, models and channel types the module's tests created.
NAMES = {"root", "olga", "pete", "quinn", "flaky", "mapped", "fetcher", "default"}
CHANNEL_TYPES = {"openai", "azure", "anthropic", "gemini", "midjourney", "suno"}


def test_the_operators_pages_are_in_chinese_and_names_stay_as_they_are(
    browser: Browser, console: Deployment, site: dict[str, Any]
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=console.url, locale="zh-CN")
    chinese = Context(context, console.url)
    try:
        page = chinese.open("/login")
        page.get_by_label("用户名").fill("root")
        page.get_by_label("密码").fill(ROOT_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("heading", name="仪表盘").wait_for()
        expect(page.get_by_role("button", name="全站")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("section[data-per=user] h2")).to_have_text("近 30 天按用户")
        untranslated = {}
        for route in ["/dashboard", "/usage", "/admin/users", "/admin/channels", "/admin/prices"]:
            chinese.open(route)
            page.locator("main .loading").wait_for(state="detached")
            words = page.locator("main").locator("h1, h2, h3, th, label, button, figcaption, .stat-label, option")
            texts = [text.strip() for text in words.all_inner_texts()]
            english = [text for text in texts if re.fullmatch(r"[A-Za-z][A-Za-z .,'/()…-]*", text)]
            known = {word.lower() for word in ALLOWED_LATIN | NAMES | CHANNEL_TYPES}
            untranslated[route] = [text for text in english if text.lower() not in known]  # th: upper case
        assert untranslated == {route: [] for route in untranslated}
        chinese.open("/admin/users")
        root_row = page.locator("tbody tr").first
        expect(root_row.locator("td").nth(0)).to_have_text("root")  # a name, even one that spells a role
        expect(root_row.locator("td").nth(1)).to_have_text("超级管理员")
        chinese.open("/usage")
        expect(page.get_by_role("search").locator("option", has_text="root")).to_have_count(1)
        chinese.open("/admin/analytics")
        page.get_by_label("汇总维度").select_option("user")
        expect(page.locator("#analytics-table th").first).to_have_text("用户")  # the bucket, not the role 普通用户
        assert chinese.errors == []
    finally:
        context.close()
