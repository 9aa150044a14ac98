"""Prompt-cache writes billed by kind, through the Anthropic SDK (native) and the OpenAI SDK (converted).

5-minute writes cost 1.25 x the input price and 1-hour writes 2 x unless the price sets its own;
usage records show both kinds; a hold prices every prompt token at the dearest of these rates.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import anthropic
import openai
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.hold import hold_for
from relaygate.billing.prices import Price
from relaygate.fakeupstream import anthropic_prompt_tokens
from relaygate.store.schema import usage_records
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

MESSAGES: Any = [{"role": "user", "content": "Say hello to the whole wide world please"}]
KEY = "fake;cached=2;cache-write=3;cache-write-1h=4"


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", KEY,
                "--models", "claude-default,claude-priced")  # fmt: skip
    gateway.cli("price", "set", "claude-default", "--input", "3", "--output", "15", "--cached-input", "0.3")
    gateway.cli("price", "set", "claude-priced", "--input", "3", "--output", "15", "--cached-input", "0.3",
                "--cache-write-5m", "4", "--cache-write-1h", "7")  # fmt: skip
    gateway.runtime_poll()
    return gateway


def new_key(gw: Deployment, *args: str) -> tuple[str, int]:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    token = gw.cli("token", "create", "--user", "alice", "--name", "t", *args)[0]
    return token["key"], token["id"]


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


PROMPT = anthropic_prompt_tokens({"messages": MESSAGES})


@pytest.mark.parametrize(
    ("model", "prices"),
    [("claude-default", {}), ("claude-priced", {"write_5m_price": "4", "write_1h_price": "7"})],
)
def test_both_write_kinds_are_billed_at_their_prices(gw: Deployment, model: str, prices: dict[str, str]) -> None:
    key, token_id = new_key(gw)
    with anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0) as sdk:
        usage = sdk.messages.create(model=model, max_tokens=5, messages=MESSAGES).usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (2, 7)
    expected = expected_charge(
        "3", "15", PROMPT, 5, cached=2, cached_price="0.3", written_5m=3, written_1h=4, **prices
    )  # fmt: skip
    assert used(gw, token_id) == expected
    [record] = gw.db(usage_rows)
    assert (record["cached_tokens"], record["cache_write_5m_tokens"], record["cache_write_1h_tokens"]) == (2, 3, 4)
    assert record["quota"] == expected


def test_writes_are_billed_when_converted_for_an_openai_client(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="claude-default", messages=MESSAGES, max_tokens=5)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == PROMPT
    assert used(gw, token_id) == expected_charge(
        "3", "15", PROMPT, 5, cached=2, cached_price="0.3", written_5m=3, written_1h=4
    )


@pytest.mark.parametrize(
    "price",
    [
        Price(input=Fraction(3), output=Fraction(15)),
        Price(input=Fraction(3), output=Fraction(15), cache_write_5m=Fraction(9), cache_write_1h=Fraction(1)),
    ],
)
def test_a_hold_covers_a_prompt_written_whole_to_either_cache(price: Price) -> None:
    multiplier = Fraction(3, 2)
    held = hold_for(price, multiplier, 1_000, 10, writes_cache=True)
    for usage in (Usage(prompt=1_000, completion=10, cache_write_5m=1_000), Usage(1_000, 10, cache_write_1h=1_000)):
        assert charge_for(price, usage, multiplier) <= held


async def usage_rows(conn: AsyncConnection) -> list[Any]:
    return list((await conn.execute(select(usage_records))).mappings().all())
