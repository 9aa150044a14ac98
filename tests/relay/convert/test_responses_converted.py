"""The OpenAI Responses API for models served by Anthropic and Gemini channels, through the official SDK.

Each test checks the converted request the fake upstream received, the answer (or the event
sequence) the SDK parsed, and the charge, computed from the upstream's own counting rules.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens, gemini_prompt_tokens
from tests.relay.convert.test_sdk_conversion import upstream_requests, used
from tests.support.billing import claude_charge, gemini_charge
from tests.support.deployment import Deployment
from tests.support.responses import WEATHER

QUESTION = "Say hello to the world"
SYSTEM = "Be brief."
TEXT_ITEM_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
CHARGES = {"claude-x": (claude_charge, anthropic_prompt_tokens), "gemini-x": (gemini_charge, gemini_prompt_tokens)}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway plus an Anthropic and a Gemini channel; no OpenAI channel serves their models."""
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake",
                "--models", "gemini-x")  # fmt: skip
    gateway.cli("price", "set", "claude-x", "--input", "3", "--output", "15")
    gateway.cli("price", "set", "gemini-x", "--input", "0.3", "--output", "2.5")
    gateway.runtime_poll()
    return gateway


@pytest.fixture
def key(gw: Deployment) -> tuple[str, int]:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    token = gw.cli("token", "create", "--user", "alice", "--name", "t")[0]
    return token["key"], token["id"]


@pytest.fixture(autouse=True)
def fresh_upstream_log(fake_upstream: str) -> None:
    """Each test reads back only the requests the fake upstream received during it."""
    httpx.delete(fake_upstream + "/_fake/requests")


def client(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def test_a_plain_response_from_anthropic(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with client(gw, key[0]) as sdk:
        reply = sdk.responses.create(model="claude-x", instructions=SYSTEM, input=QUESTION, max_output_tokens=5)
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1/messages"
    assert request["body"] == {
        "model": "claude-x",
        "max_tokens": 5,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
    }
    assert reply.object == "response"
    assert reply.id.startswith("resp_")
    assert reply.output_text == "fake reply word token fake"
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None
    assert reply.incomplete_details.reason == "max_output_tokens"
    prompt = anthropic_prompt_tokens(request["body"])
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (prompt, 5, prompt + 5)
    assert used(gw, key[1]) == claude_charge(prompt, 5)
    assert gw.books()["balanced"]


def test_a_plain_response_from_gemini_goes_with_an_explicit_output_limit(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    items: Any = [
        {"role": "developer", "content": SYSTEM},
        {"role": "user", "content": [{"type": "input_text", "text": QUESTION}]},
    ]
    with client(gw, key[0]) as sdk:
        reply = sdk.responses.create(model="gemini-x", input=items, temperature=0.5, top_p=0.9)
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1beta/models/gemini-x:generateContent"
    body = request["body"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": QUESTION}]}]
    assert body["systemInstruction"] == {"parts": [{"text": SYSTEM}]}
    config = body["generationConfig"]
    assert (config["temperature"], config["topP"]) == (0.5, 0.9)
    assert isinstance(config["maxOutputTokens"], int)
    assert config["maxOutputTokens"] > 0
    assert reply.status == "completed"
    assert reply.output_text == " ".join(["fake reply word token"] * 3)
    assert reply.usage is not None
    prompt = gemini_prompt_tokens(body)
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (prompt, 12)
    assert used(gw, key[1]) == gemini_charge(prompt, 12)


@pytest.mark.parametrize("model", ["claude-x", "gemini-x"])
def test_a_streamed_response_is_the_responses_event_sequence(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, model: str
) -> None:
    with client(gw, key[0]) as sdk:
        events = list(sdk.responses.create(model=model, instructions=SYSTEM, input=QUESTION, stream=True))
    [request] = upstream_requests(fake_upstream)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    middle = [kind for i, kind in enumerate(kinds[2:-1]) if kind != kinds[2:-1][i - 1] or i == 0]
    assert middle == TEXT_ITEM_EVENTS  # repeated deltas collapsed
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == " ".join(["fake reply word token"] * 3)
    done = [event for event in events if event.type == "response.output_text.done"]
    assert done[0].text == text
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text
    assert final.status == "completed"
    charge, prompt_tokens = CHARGES[model]
    prompt = prompt_tokens(request["body"])
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (prompt, 12, prompt + 12)
    assert used(gw, key[1]) == charge(prompt, 12)
    assert gw.books()["balanced"]


@pytest.mark.parametrize("model", ["claude-x", "gemini-x"])
def test_a_function_tool_round_trip(gw: Deployment, key: tuple[str, int], fake_upstream: str, model: str) -> None:
    with client(gw, key[0]) as sdk:
        first = sdk.responses.create(
            model=model, input=QUESTION, tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"}
        )
        [call] = [item for item in first.output if item.type == "function_call"]
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "fake"})
        assert first.status == "completed"
        history: Any = [{"role": "user", "content": QUESTION}, call]
        history.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
        second = sdk.responses.create(model=model, input=history, tools=[WEATHER])
    asked, answered = upstream_requests(fake_upstream)
    if model == "claude-x":
        assert asked["body"]["tool_choice"] == {"type": "tool", "name": "get_weather"}
        turns = answered["body"]["messages"]
        assert turns[1] == {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call.call_id, "name": "get_weather", "input": {"city": "fake"}}],
        }
        assert turns[2]["content"][0]["type"] == "tool_result"
        assert turns[2]["content"][0]["tool_use_id"] == call.call_id
    else:
        turns = answered["body"]["contents"]
        assert turns[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "fake"}}
        assert turns[2]["parts"][0]["functionResponse"]["name"] == "get_weather"
    assert second.output_text.startswith("fake reply")
    charge, prompt_tokens = CHARGES[model]
    assert first.usage is not None
    assert second.usage is not None
    expected = charge(prompt_tokens(asked["body"]), TOOL_USE_TOKENS)
    expected += charge(prompt_tokens(answered["body"]), second.usage.output_tokens)
    assert first.usage.output_tokens == TOOL_USE_TOKENS
    assert used(gw, key[1]) == expected


@pytest.mark.parametrize("model", ["claude-x", "gemini-x"])
def test_a_streamed_function_call_has_argument_deltas(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, model: str
) -> None:
    with client(gw, key[0]) as sdk:
        events = list(
            sdk.responses.create(model=model, input=QUESTION, tools=[WEATHER], tool_choice="required", stream=True)
        )
    [request] = upstream_requests(fake_upstream)
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    added = next(event for event in events if event.type == "response.output_item.added")
    assert added.item.type == "function_call"
    assert added.item.name == "get_weather"
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    [done] = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert done.arguments == arguments
    assert json.loads(arguments) == {"city": "fake"}
    assert kinds.index("response.function_call_arguments.done") < kinds.index("response.output_item.done")
    assert [event.sequence_number for event in events] == list(range(len(events)))
    final = events[-1]
    assert final.type == "response.completed"
    [item] = final.response.output
    assert item.type == "function_call"
    assert item.arguments == arguments
    charge, prompt_tokens = CHARGES[model]
    assert used(gw, key[1]) == charge(prompt_tokens(request["body"]), TOOL_USE_TOKENS)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
    ],
)
def test_what_a_converted_response_cannot_honour_is_refused_naming_the_field(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, extra: dict[str, Any], param: str
) -> None:
    with client(gw, key[0]) as sdk, pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model="claude-x", input=QUESTION, **extra)
    assert refused.value.status_code == 400
    body: Any = refused.value.body
    assert body["param"] == param
    assert param in body["message"]
    assert upstream_requests(fake_upstream) == []
    assert int(gw.token(key[1])["used_quota"]) == 0
