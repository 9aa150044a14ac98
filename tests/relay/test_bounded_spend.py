"""No request spends more than it held: whatever the client's max_tokens, the upstream's answer or the concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.groups import create_group
from relaygate.store.schema import tokens, usage_records, users
from relaygate.users.service import update_user
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

LONG = "long-model"  # 1 USD in, 10 USD out per 1M tokens: 0.5 units per prompt token, 5 per output token
CLAUDE = "claude-bounded"  # 3 in, 15 out: 7.5 units per output token
MESSAGES = [{"role": "user", "content": "write at length"}]


def add_channels(gw: Deployment, upstream: str) -> None:
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake;words=3000", "--models", LONG)
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake;ignore-limit;words=3000",
           "--models", "ignoring-model", "--name", "ignores-limits")  # fmt: skip
    gw.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake;report-completion=20000",
           "--models", "lying-model", "--name", "lies-about-usage")  # fmt: skip
    gw.cli("channel", "add", "--type", "anthropic", "--base-url", upstream, "--key", "fake;words=3000",
           "--models", CLAUDE)  # fmt: skip
    gw.cli("channel", "add", "--type", "anthropic", "--base-url", upstream, "--key", "fake;ignore-limit;words=3000",
           "--models", "claude-ignoring")  # fmt: skip
    for model in (LONG, "ignoring-model", "lying-model"):
        gw.cli("price", "set", model, "--input", "1", "--output", "10")
    for model in (CLAUDE, "claude-ignoring"):
        gw.cli("price", "set", model, "--input", "3", "--output", "15", "--max-output-tokens", "64000")


@pytest.fixture
def spend_gateway(gateway_on_each_backend: Deployment, fake_upstream: str) -> Deployment:
    add_channels(gateway_on_each_backend, fake_upstream)
    gateway_on_each_backend.runtime_poll()
    return gateway_on_each_backend


@pytest.fixture
def sqlite_gateway(gateway: Deployment, fake_upstream: str) -> Deployment:
    add_channels(gateway, fake_upstream)
    gateway.runtime_poll()
    return gateway


@pytest.fixture
def refusing_gateway(tmp_path: Path, fake_upstream: str) -> Iterator[Deployment]:
    gw = Deployment(tmp_path / "refuse", hold_policy="refuse")
    add_channels(gw, fake_upstream)
    gw.start()
    yield gw
    gw.stop()


def new_key(gw: Deployment, usd: str, *token_args: str, user: str = "alice") -> tuple[str, int, int]:
    """(key, token id, user id) of a new user with `usd` of balance."""
    account = gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)[0]
    token = gw.cli("token", "create", "--user", user, *token_args)[0]
    return token["key"], token["id"], account["id"]


def records(gw: Deployment) -> list[dict[str, Any]]:
    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await conn.execute(select(usage_records).order_by(usage_records.c.id))
        return [dict(row) for row in rows.mappings()]

    gw.flush()
    return gw.db(read)


def upstream_requests(upstream: str, path: str) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = httpx.get(upstream + "/_fake/requests").json()
    return [entry for entry in log if entry["path"] == path]


async def many_long_replies(url: str, key: str, count: int) -> list[int]:
    """`count` concurrent requests without max_tokens; the words of each served reply (-1: refused 429)."""
    async with openai.AsyncOpenAI(api_key=key, base_url=url + "/v1", max_retries=0, timeout=60) as sdk:

        async def one() -> int:
            try:
                answer = await sdk.chat.completions.create(model=LONG, messages=MESSAGES)  # type: ignore[arg-type]
            except openai.RateLimitError as refused:
                return -1 if refused.code in ("insufficient_balance", "token_quota_exceeded") else -2
            return len((answer.choices[0].message.content or "").split())

        return await asyncio.gather(*(one() for _ in range(count)))


@pytest.mark.parametrize("count", [16, 64])
def test_concurrent_long_replies_never_overspend_the_balance(spend_gateway: Deployment, count: int) -> None:
    gw = spend_gateway
    key, _token_id, _user_id = new_key(gw, "0.1")  # 50,000 units: a few thousand-word replies
    words = asyncio.run(many_long_replies(gw.url, key, count))
    served = [n for n in words if n >= 0]
    assert -2 not in words  # every refusal is a quota one
    assert served
    assert len(served) < count
    billed = [r for r in records(gw) if r["status_code"] == 200]
    assert sorted(r["completion_tokens"] for r in billed) == sorted(served)  # billed what each produced
    for record in billed:
        assert record["quota"] == expected_charge("1", "10", record["prompt_tokens"], record["completion_tokens"])
    account = gw.user("alice")
    assert 0 <= account["balance"] == 50_000 - sum(r["quota"] for r in billed)
    assert gw.books()["balanced"]


def test_concurrent_long_replies_never_overspend_a_token_quota(spend_gateway: Deployment) -> None:
    gw = spend_gateway
    key, token_id, _ = new_key(gw, "100", "--quota-usd", "0.012")  # 6,000 units on the token
    asyncio.run(many_long_replies(gw.url, key, 16))
    gw.flush()
    assert 0 < gw.token(token_id)["used_quota"] <= 6_000
    assert gw.books()["balanced"]


def test_a_large_max_tokens_is_served_capped_on_a_small_key(sqlite_gateway: Deployment, fake_upstream: str) -> None:
    gw = sqlite_gateway
    key, token_id, _ = new_key(gw, "10", "--quota-usd", "0.5")  # 250,000 units: 64,000 output tokens cost 480,000
    httpx.delete(fake_upstream + "/_fake/requests")
    with anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=64000, messages=[{"role": "user", "content": "hi"}], timeout=60
        )
    message = raw.parse()
    capped = int(raw.headers["x-relaygate-output-capped"])
    assert 30_000 < capped < 64_000
    [sent] = upstream_requests(fake_upstream, "/v1/messages")
    assert sent["body"]["max_tokens"] == capped  # what the upstream was told is what was held for
    assert message.stop_reason == "end_turn"  # 3,000 words fit under the cap
    gw.flush()
    assert gw.token(token_id)["used_quota"] == expected_charge("3", "15", message.usage.input_tokens, 3000)


def test_a_capped_answer_ends_as_a_length_limited_one(sqlite_gateway: Deployment) -> None:
    gw = sqlite_gateway
    key, token_id, _ = new_key(gw, "10", "--quota-usd", "0.01")  # 5,000 units: about 660 output tokens
    with anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=64000, messages=[{"role": "user", "content": "hi"}], timeout=60
        )
    message = raw.parse()
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == int(raw.headers["x-relaygate-output-capped"]) < 3000
    gw.flush()
    assert 0 < gw.token(token_id)["used_quota"] <= 5_000


def test_under_refuse_a_large_max_tokens_is_refused(refusing_gateway: Deployment) -> None:
    key, token_id, _ = new_key(refusing_gateway, "10", "--quota-usd", "0.5")
    with (
        anthropic.Anthropic(api_key=key, base_url=refusing_gateway.url, max_retries=0) as sdk,
        pytest.raises(anthropic.RateLimitError) as refused,
    ):
        sdk.messages.create(model=CLAUDE, max_tokens=64000, messages=[{"role": "user", "content": "hi"}], timeout=60)
    assert refused.value.status_code == 429
    assert "quota" in refused.value.message
    refusing_gateway.flush()
    assert refusing_gateway.token(token_id)["used_quota"] == 0


def test_a_request_with_nothing_that_fits_is_refused_under_cap(sqlite_gateway: Deployment) -> None:
    key, _, _ = new_key(sqlite_gateway, "10", "--quota-usd", "0.00002")  # 10 units: not even 16 output tokens
    with (
        openai.OpenAI(api_key=key, base_url=sqlite_gateway.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.RateLimitError) as refused,
    ):
        sdk.chat.completions.create(model=LONG, messages=MESSAGES)  # type: ignore[arg-type]
    assert refused.value.code == "token_quota_exceeded"


def test_converted_request_goes_upstream_with_the_limit_it_held_for(
    sqlite_gateway: Deployment, fake_upstream: str
) -> None:
    gw = sqlite_gateway
    key, token_id, _ = new_key(gw, "10", "--quota-usd", "0.02")  # 10,000 units: ~1,300 output tokens of Claude
    httpx.delete(fake_upstream + "/_fake/requests")
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model=CLAUDE, messages=MESSAGES)  # type: ignore[arg-type]
    answer = raw.parse()
    capped = int(raw.headers["x-relaygate-output-capped"])
    [sent] = upstream_requests(fake_upstream, "/v1/messages")
    assert sent["body"]["max_tokens"] == capped < 64_000
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == capped
    gw.flush()
    assert gw.token(token_id)["used_quota"] <= 10_000
    assert gw.books()["balanced"]


def test_a_converted_request_without_limit_holds_the_models_maximum(
    sqlite_gateway: Deployment, fake_upstream: str
) -> None:
    key, _, _ = new_key(sqlite_gateway, "10")
    httpx.delete(fake_upstream + "/_fake/requests")
    with openai.OpenAI(api_key=key, base_url=sqlite_gateway.url + "/v1", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model=CLAUDE, messages=MESSAGES)  # type: ignore[arg-type]
    assert "x-relaygate-output-capped" not in raw.headers
    [sent] = upstream_requests(fake_upstream, "/v1/messages")
    assert sent["body"]["max_tokens"] == 64_000  # the model's price names its maximum


def test_usage_reported_beyond_the_limit_is_charged_the_hold_and_recorded(spend_gateway: Deployment) -> None:
    gw = spend_gateway
    key, _token_id, _ = new_key(gw, "10")
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="lying-model", messages=MESSAGES, max_tokens=20)  # type: ignore[arg-type]
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 20_000
    [record] = records(gw)
    assert record["quota"] < expected_charge("1", "10", record["prompt_tokens"], 20_000)
    assert record["quota"] + record["overrun"] == expected_charge("1", "10", record["prompt_tokens"], 20_000)
    books = gw.books()
    assert books["balanced"]
    [overrun] = books["overruns"]
    assert (overrun["channel"], overrun["requests"], overrun["quota"]) == ("lies-about-usage", 1, record["overrun"])


def test_a_stream_that_ignores_its_limit_is_ended_at_the_hold(spend_gateway: Deployment) -> None:
    gw = spend_gateway
    key, _token_id, _ = new_key(gw, "10")
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        chunks = list(
            sdk.chat.completions.create(
                model="ignoring-model",
                messages=MESSAGES,  # type: ignore[arg-type]
                max_tokens=40,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]
    assert 40 <= len(text.split()) < 3000 // 10  # cut near the limit, far before the 3,000 words
    [record] = records(gw)
    # what was produced past the hold is not billed: the charge is the hold (a prompt bound under 1,000 bytes, 40 out)
    assert record["quota"] <= expected_charge("1", "10", 1000, 40)
    assert record["quota"] + record["overrun"] == expected_charge(
        "1", "10", record["prompt_tokens"], record["completion_tokens"]
    )
    assert gw.books()["balanced"]


def test_an_anthropic_stream_that_ignores_its_limit_ends_with_max_tokens(sqlite_gateway: Deployment) -> None:
    key, token_id, _ = new_key(sqlite_gateway, "10")
    with (
        anthropic.Anthropic(api_key=key, base_url=sqlite_gateway.url, max_retries=0) as sdk,
        sdk.messages.stream(
            model="claude-ignoring", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert 50 <= len(text.split()) < 300
    sqlite_gateway.flush()
    assert 0 < sqlite_gateway.token(token_id)["used_quota"] <= expected_charge("3", "15", 200, 50)
    assert sqlite_gateway.books()["balanced"]


def test_a_pinned_group_the_owner_lost_is_refused(sqlite_gateway: Deployment, fake_upstream: str) -> None:
    gw = sqlite_gateway
    gw.db(lambda conn: create_group(conn, "vip", "2"))
    gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", LONG,
           "--group", "vip")  # fmt: skip
    gw.runtime_poll()
    account = gw.cli("user", "create", "bob", "--password", "password-123", "--balance-usd", "10", "--group", "vip")[0]
    pinned = gw.cli("token", "create", "--user", "bob", "--group", "vip")[0]
    follows = gw.cli("token", "create", "--user", "bob")[0]
    with openai.OpenAI(api_key=pinned["key"], base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model=LONG, messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    gw.db(lambda conn: update_user(conn, account["id"], {"group": "default"}))  # what an admin's PATCH does
    gw.runtime_poll()
    with (
        openai.OpenAI(api_key=pinned["key"], base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.PermissionDeniedError) as refused,
    ):
        sdk.chat.completions.create(model=LONG, messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    assert refused.value.code == "group_not_allowed"
    with openai.OpenAI(api_key=follows["key"], base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model=LONG, messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
    first, second = [r for r in records(gw) if r["status_code"] == 200]
    # the vip answer was billed at 2x, the one after the move at the default group's 1x
    assert first["quota"] == expected_charge("1", "10", first["prompt_tokens"], 5, "2")
    assert second["quota"] == expected_charge("1", "10", second["prompt_tokens"], 5)


def test_books_name_a_balance_below_zero_and_a_token_above_its_limit(sqlite_gateway: Deployment) -> None:
    gw = sqlite_gateway
    _, token_id, user_id = new_key(gw, "1", "--quota-usd", "0.001")
    assert gw.books()["balanced"]

    async def force(conn: AsyncConnection) -> None:
        await conn.execute(update(users).where(users.c.id == user_id).values(balance=-5))
        await conn.execute(update(tokens).where(tokens.c.id == token_id).values(quota_limit=0, used_quota=0))

    gw.db(force)
    books = gw.books()
    assert not books["balanced"]
    assert [(a["id"], a["problem"]) for a in books["accounts"]] == [(user_id, "below_zero")]

    async def over(conn: AsyncConnection) -> None:
        await conn.execute(update(users).where(users.c.id == user_id).values(balance=500_000))
        await conn.execute(update(tokens).where(tokens.c.id == token_id).values(quota_limit=10))

    gw.db(over)
    assert gw.books()["balanced"]  # a limit of 10 with nothing used is fine
    gw.db(lambda conn: conn.execute(update(tokens).where(tokens.c.id == token_id).values(quota_limit=-1)))
    books = gw.books()
    assert [(t["id"], t["problem"]) for t in books["tokens"]] == [(token_id, "over_limit")]
