"""`/v1/responses` for a model on a chat-completions-only OpenAI channel: converted to chat completions.

Such a channel (`--chat-completions-only`) is an OpenAI-compatible server without `/v1/responses`:
the openai SDK's `responses.create`, plain and streamed, reaches its `/v1/chat/completions` and is
billed exactly what the upstream counted; the setting is per channel and running servers follow it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from relaygate.fakeupstream import TOOL_CALL_TOKENS, chat_prompt_tokens
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment
from tests.support.keys import new_key, used
from tests.support.responses import WEATHER
from tests.support.usage import records

MODEL = "chat-only-gpt"
QUESTION = "Say hello to the world"


def charge(prompt: int, completion: int) -> int:
    return expected_charge("1", "4", prompt, completion)


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake",
                "--models", MODEL, "--chat-completions-only")  # fmt: skip
    gateway.cli("price", "set", MODEL, "--input", "1", "--output", "4")
    gateway.runtime_poll()
    return gateway


@pytest.fixture(autouse=True)
def fresh_upstream_log(fake_upstream: str) -> None:
    httpx.delete(fake_upstream + "/_fake/requests")


def upstream_request(fake_upstream: str) -> dict[str, Any]:
    [request] = httpx.get(fake_upstream + "/_fake/requests").json()
    return dict(request)


def chat_only_id(gw: Deployment) -> int:
    [channel] = [channel for channel in gw.cli("channel", "list") if channel["chat_completions_only"]]
    return int(channel["id"])


def sdk(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def test_a_response_is_converted_to_chat_completions_and_billed_exactly(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        reply = client.responses.create(model=MODEL, instructions="Be brief.", input=QUESTION, max_output_tokens=5)
    request = upstream_request(fake_upstream)
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
    ]
    assert body["max_tokens"] == 5
    assert reply.object == "response"
    assert reply.output_text == "fake reply word token fake"
    assert reply.status == "incomplete"
    prompt = chat_prompt_tokens(body)
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (prompt, 5)
    assert used(gw, token_id) == charge(prompt, 5)
    [record] = records(gw, token_id)
    assert (record["channel_id"], record["prompt_tokens"], record["completion_tokens"]) == (chat_only_id(gw), prompt, 5)
    assert gw.books()["balanced"]


def test_a_streamed_response_is_converted_and_billed_exactly(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        events = list(client.responses.create(model=MODEL, input=QUESTION, stream=True))
    request = upstream_request(fake_upstream)
    assert request["path"] == "/v1/chat/completions"
    assert (request["body"]["stream"], request["body"]["stream_options"]) == (True, {"include_usage": True})
    types = [event.type for event in events]
    assert (types[0], types[-1]) == ("response.created", "response.completed")
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == " ".join(["fake reply word token"] * 3)
    assert len(deltas) == 12
    assert [event.sequence_number for event in events] == list(range(len(events)))
    prompt = chat_prompt_tokens(request["body"])
    final = events[-1].response
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (prompt, 12)
    assert used(gw, token_id) == charge(prompt, 12)
    [record] = records(gw, token_id)
    assert record["stream"]
    assert gw.books()["balanced"]


def test_a_function_call_comes_back_as_a_function_call_item(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        reply = client.responses.create(model=MODEL, input=QUESTION, tools=[WEATHER], tool_choice="required")
    body = upstream_request(fake_upstream)["body"]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"] == "required"
    [item] = reply.output
    assert item.type == "function_call"
    assert (item.name, json.loads(item.arguments)) == ("get_weather", {"city": "fake"})
    assert used(gw, token_id) == charge(chat_prompt_tokens(body), TOOL_CALL_TOKENS)


def test_the_setting_is_per_channel_and_running_servers_follow_it(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    with sdk(gw, key) as client:
        client.responses.create(model="gpt-4o-mini", input=QUESTION)  # the fixture's channel has /v1/responses
        assert upstream_request(fake_upstream)["path"] == "/v1/responses"
        gw.cli("channel", "update", str(chat_only_id(gw)), "--no-chat-completions-only")
        gw.runtime_poll()
        httpx.delete(fake_upstream + "/_fake/requests")
        client.responses.create(model=MODEL, input=QUESTION)
    assert upstream_request(fake_upstream)["path"] == "/v1/responses"
