"""The Responses API (`client.responses.create`) through the gateway, whole and streamed, billed exactly."""

from __future__ import annotations

import openai
import pytest

from relaygate.fakeupstream import responses_usage
from tests.relay.test_openai_sdk import client, new_key
from tests.support.billing import mini_charge
from tests.support.deployment import Deployment

INPUT = [{"role": "user", "content": "Say hello to the whole world"}]


def test_response_is_relayed_and_billed_from_its_usage(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk:
        response = sdk.responses.create(model="gpt-4o-mini", instructions="Be brief.", input=INPUT)  # type: ignore[arg-type]
    prompt, completion = responses_usage({"instructions": "Be brief.", "input": INPUT}, 12)
    assert response.output_text == "fake reply word token fake reply word token fake reply word token"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (prompt, completion)
    gateway.flush()
    assert gateway.token(token_id)["used_quota"] == mini_charge(prompt, completion)
    assert gateway.user("alice")["balance"] == 5_000_000 - mini_charge(prompt, completion)
    assert gateway.books()["balanced"]


def test_stream_relays_every_event_and_bills_the_completed_usage(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk:
        events = list(
            sdk.responses.create(model="gpt-4o-mini", input="one two three", max_output_tokens=5, stream=True)
        )
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == "fake reply word token fake"
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage is not None
    gateway.flush()
    prompt, completion = responses_usage({"input": "one two three", "max_output_tokens": 5}, 12)
    assert (prompt, completion) == (3, 5)
    assert gateway.token(token_id)["used_quota"] == mini_charge(prompt, completion)
    assert gateway.books()["balanced"]


def test_cached_input_tokens_are_billed_at_the_cached_price(gateway: Deployment) -> None:
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", gateway_upstream(gateway), "--key", "fake;cached=4",
        "--models", "gpt-4o-mini-cached",
    )  # fmt: skip
    gateway.cli("price", "set", "gpt-4o-mini-cached", "--input", "1", "--cached-input", "0.5", "--output", "2")
    gateway.runtime_poll()
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk:
        response = sdk.responses.create(model="gpt-4o-mini-cached", input="a b c d e f g h", max_output_tokens=2)
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 4
    gateway.flush()
    # 4 uncached at 1, 4 cached at 0.5, 2 output at 2 USD per 1M tokens: 10 / 1M USD = 5 units
    assert gateway.token(token_id)["used_quota"] == 5


def test_upstream_refusal_costs_nothing(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk, pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="gpt-4o-mini", input=[])
    gateway.flush()
    assert gateway.token(token_id)["used_quota"] == 0


def gateway_upstream(gateway: Deployment) -> str:
    return str(gateway.cli("channel", "list")[0]["base_url"])
