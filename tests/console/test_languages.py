"""The console in Simplified Chinese and English, in a real browser: chosen from the browser's language,
switched in the header and remembered; numbers, dates and money per locale; the console's own words
for error codes it knows (the server's English message stays beside them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.api.conftest import PASSWORD
from tests.console.conftest import DESKTOP, Context, create_user
from tests.support.deployment import Deployment

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def chinese(browser: Browser, console: Deployment) -> Iterator[Context]:
    context = browser.new_context(viewport=DESKTOP, base_url=console.url, locale="zh-CN")
    opened = Context(context, console.url)
    yield opened
    context.close()
    assert opened.errors == [], opened.errors


def log_in_zh(browse: Context, name: str) -> None:
    page = browse.open("/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="仪表盘").wait_for()


def test_a_chinese_browser_gets_the_console_in_chinese(chinese: Context, console: Deployment) -> None:
    create_user(console, "lei", balance_usd="1234.5")
    log_in_zh(chinese, "lei")
    page = chinese.page
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    nav = page.locator("#nav")
    for word in ["仪表盘", "令牌", "使用日志", "钱包", "个人设置"]:
        expect(nav.get_by_role("link", name=word)).to_be_visible()

    chinese.open("/tokens")
    expect(page.get_by_role("heading", name="令牌")).to_be_visible()
    expect(page.locator("#token-list")).to_contain_text("还没有令牌")
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="添加令牌")
    expect(form).to_contain_text("1 美元 = 500,000 额度单位")
    expect(form).not_to_contain_text("[object")
    form.get_by_label("名称").fill("生产")
    form.get_by_label("过期时间").fill("2031-03-04T05:06")
    form.get_by_label("IP 白名单").fill("not-an-address")
    form.get_by_role("button", name="提交").click()
    error = form.locator("[data-field=allow_ips] .error")
    expect(error).to_contain_text("输入的值无效")  # the console's words for invalid_value
    expect(error).to_contain_text("not-an-address")  # and the server's detail
    form.get_by_label("IP 白名单").fill("10.0.0.0/8")
    form.get_by_label("无限额度").uncheck()
    form.get_by_label("额度（美元）").fill("2.5")
    form.get_by_label("每分钟请求数").fill("1200")
    form.get_by_role("button", name="提交").click()
    page.get_by_role("dialog", name="你的新令牌").get_by_role("button", name="完成，我已复制").click()

    row = page.locator("#token-list tbody tr", has_text="生产")
    expect(row.locator(".badge")).to_have_text("已启用")
    expect(row).to_contain_text("$0.00 / $2.50")
    expect(row.locator(".glance")).to_contain_text("1,200 次/分")
    expect(row.locator("time")).to_have_text("2031年3月4日 05:06")  # Intl, zh-CN medium date
    expect(page.locator("thead")).to_contain_text("额度使用")

    chinese.open("/account")
    expect(page.locator("dl.facts dd").nth(3)).to_have_text("$1,234.50")
    page.set_viewport_size(PHONE)
    chinese.open("/tokens")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    cell = page.locator("#token-list tbody tr").first.locator("td").first
    expect(cell).to_have_attribute("data-label", "名称")  # the phone layout's captions are translated too


def test_the_language_switch_is_remembered(browse: Context, console: Deployment) -> None:
    create_user(console, "mia")
    page = browse.log_in("mia")
    expect(page.locator("#nav").get_by_role("link", name="Tokens")).to_be_visible()
    page.locator("#language").select_option("zh-CN")
    expect(page.get_by_role("heading", name="仪表盘")).to_be_visible()
    assert "zh-CN" in browse.storage()["local"]
    browse.open("/topup")
    expect(page.get_by_role("heading", name="钱包")).to_be_visible()
    expect(page.get_by_role("button", name="兑换")).to_be_visible()
    page.locator("#language").select_option("en")
    expect(page.get_by_role("heading", name="Top up")).to_be_visible()
    browse.open("/tokens")
    expect(page.locator("button.create-token")).to_have_text("Create Token")
