"""The Pricing page in a real browser: the caller's models at the caller's prices, with a search."""

from __future__ import annotations

from playwright.sync_api import expect

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
