"""The Playground in a real browser against the live gateway and the fake upstream: a key created in this tab
is offered, the answer streams in through /v1/chat/completions, and its tokens and cost are shown; the cost
is what the gateway charged. A pasted key works too, and a bad one is refused in the page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.console.conftest import Context, create_user
from tests.support.deployment import Deployment


def test_a_streamed_answer_and_its_cost(browse: Context, console: Deployment) -> None:
    create_user(console, "pat")
    page = browse.log_in("pat")
    page.get_by_role("link", name="Tokens").click()
    page.locator("button.create-token").click()
    form = page.get_by_role("dialog", name="Create Token")
    form.get_by_label("Name").fill("play")
    form.get_by_role("button", name="Submit").click()
    created = page.get_by_role("dialog", name="Your new token")
    key = created.locator("output.secret").inner_text()
    created.get_by_role("button", name="Done, I have copied it").click()

    requests: list[dict[str, object]] = []
    page.on(
        "request",
        lambda request: (
            requests.append(request.post_data_json) if request.url.endswith("/v1/chat/completions") else None
        ),
    )
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    picked = page.get_by_label("Key", exact=True)
    expect(picked.locator("option:checked")).to_contain_text("play · sk-")  # the key this tab just saw
    page.get_by_label("Model").select_option("gpt-4o")
    page.get_by_label("Message").fill("Say hello")
    page.get_by_role("button", name="Send").click()

    answer = page.locator(".chat .turn.assistant").first
    expect(answer.locator(".answer-cost")).to_be_visible()
    assert answer.locator(".text").inner_text().strip()
    assert requests[0]["stream"] is True
    assert requests[0]["stream_options"] == {"include_usage": True}
    console.flush()
    [record] = page.request.get(console.url + "/api/usage").json()["items"]
    assert record["model"] == "gpt-4o"
    cost = answer.locator(".answer-cost")
    expect(cost).to_contain_text(f"{record['prompt_tokens']} in · {record['completion_tokens']} out")
    expect(cost.locator(".money")).to_have_attribute("data-quota", str(record["quota"]))
    expect(cost.locator(".money")).to_have_text(re.compile(r"^\$0\.\d+$"))
    assert record["quota"] > 0

    page.get_by_label("Or paste a key").fill("sk-not-a-real-key-0000000000000000")
    page.get_by_label("Message").fill("again")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-status .notice.bad")).to_be_visible()
    expect(page.locator(".chat .turn.assistant")).to_have_count(1)

    page.get_by_label("Or paste a key").fill(key)
    page.get_by_label("Message").fill("and once more")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat .turn.assistant .answer-cost")).to_have_count(2)
    assert len(requests[-1]["messages"]) == 3  # type: ignore[arg-type]  # the conversation so far
    assert key not in str(browse.storage())
