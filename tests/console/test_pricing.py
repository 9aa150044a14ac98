"""The Pricing page (the caller's models at the caller's prices, with a search), the Prices page's warning
of unpriced models, and Analytics, in a real browser."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.api.conftest import ROOT_PASSWORD
from tests.console.browser import off_the_browser_loop
from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def test_a_user_searches_the_price_list(browse: Context, console: Deployment) -> None:
    create_user(console, "pricing-reader")
    page = browse.log_in("pricing-reader")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Pricing").click()
    prices = page.locator("#pricing-table tbody tr")
    expect(page.locator("#pricing-table")).to_contain_text("gpt-4o-mini")
    listed = prices.count()
    assert listed >= 2
    page.get_by_label("Search models").fill("mini")
    expect(prices).to_have_count(1)
    expect(prices.first).to_contain_text("$0.15")
    page.get_by_label("Search models").fill("no-such-model")
    expect(page.locator("#pricing-table")).to_contain_text("No model matches.")


def test_the_prices_page_warns_of_served_models_without_a_price(browse: Context, console: Deployment) -> None:
    browse.log_in("root", ROOT_PASSWORD)
    page = browse.open("/admin/prices")
    expect(page.locator("#unpriced-models")).to_contain_text("unpriced-model")


def test_analytics_show_every_users_totals_by_the_chosen_bucket(browse: Context, console: Deployment) -> None:
    create_user(console, "analytics-user")
    key = off_the_browser_loop(lambda: console.cli("token", "create", "--user", "analytics-user")[0]["key"])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    assert httpx.post(
        console.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ).is_success
    off_the_browser_loop(console.flush)
    browse.log_in("root", ROOT_PASSWORD)
    page = browse.open("/admin/analytics")
    expect(page.locator("#analytics-table")).to_contain_text("gpt-4o-mini")
    page.get_by_label("Totals by").select_option("group")
    expect(page.locator("#analytics-table")).to_contain_text("default")
