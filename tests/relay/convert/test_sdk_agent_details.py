"""What agent loops depend on, through the official SDKs: a tool call's stop reason, parallel calls, the end user."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from relaygate.fakeupstream import TOOL_CALL_TOKENS, chat_prompt_tokens
from tests.support.billing import expected_charge, mini_charge
from tests.support.deployment import Deployment

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
OPENAI_WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather of a city", "parameters": WEATHER_SCHEMA},
}
ANTHROPIC_WEATHER: Any = {"name": "get_weather", "description": "Weather of a city", "input_schema": WEATHER_SCHEMA}
MESSAGES: Any = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway plus an OpenAI-compatible upstream that calls tools with finish reason "stop"."""
    gateway.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;call-tools;finish-stop",
                "--models", "gpt-agent")  # fmt: skip
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("price", "set", "gpt-agent", "--input", "1", "--output", "2")
    gateway.cli("price", "set", "claude-x", "--input", "3", "--output", "15")
    gateway.runtime_poll()
    return gateway


@pytest.fixture
def key(gw: Deployment) -> tuple[str, int]:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    token = gw.cli("token", "create", "--user", "alice", "--name", "t")[0]
    return token["key"], token["id"]


@pytest.fixture(autouse=True)
def fresh_upstream_log(fake_upstream: str) -> None:
    httpx.delete(fake_upstream + "/_fake/requests")


def upstream_body(fake_upstream: str) -> dict[str, Any]:
    [request] = httpx.get(fake_upstream + "/_fake/requests").json()
    return dict(request["body"])


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_tool_call_that_says_stop_is_tool_use_for_an_anthropic_client(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, stream: bool
) -> None:
    with anthropic.Anthropic(api_key=key[0], base_url=gw.url, max_retries=0) as sdk:
        call: Any = dict(model="gpt-agent", max_tokens=50, messages=MESSAGES, tools=[ANTHROPIC_WEATHER])
        if stream:
            with sdk.messages.stream(**call) as events:
                message = events.get_final_message()
        else:
            message = sdk.messages.create(**call)
    assert [block.type for block in message.content] == ["tool_use"]
    assert message.stop_reason == "tool_use"
    prompt = chat_prompt_tokens(upstream_body(fake_upstream))
    assert used(gw, key[1]) == expected_charge("1", "2", prompt, TOOL_CALL_TOKENS)


def test_a_gemini_client_gets_the_call_as_a_function_call(gw: Deployment, key: tuple[str, int]) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description="Weather")])
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    with genai.Client(api_key=key[0], http_options=types.HttpOptions(base_url=gw.url)) as sdk:
        answer = sdk.models.generate_content(model="gpt-agent", contents="Weather in Paris?", config=config)
    assert answer.function_calls is not None
    assert [call.name for call in answer.function_calls] == ["get_weather"]
    assert answer.candidates is not None
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP


def test_parallel_tool_calls_off_and_the_end_user_reach_anthropic(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    with openai.OpenAI(api_key=key[0], base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(
            model="claude-x", messages=MESSAGES, tools=[OPENAI_WEATHER], parallel_tool_calls=False, user="user-42"
        )
    body = upstream_body(fake_upstream)
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["metadata"] == {"user_id": "user-42"}


def test_anthropic_parallel_tool_use_off_and_the_end_user_reach_openai(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    with anthropic.Anthropic(api_key=key[0], base_url=gw.url, max_retries=0) as sdk:
        sdk.messages.create(
            model="gpt-agent",
            max_tokens=50,
            messages=MESSAGES,
            tools=[ANTHROPIC_WEATHER],
            tool_choice={"type": "auto", "disable_parallel_tool_use": True},
            metadata={"user_id": "user-42"},
        )
    body = upstream_body(fake_upstream)
    assert (body["parallel_tool_calls"], body["user"]) == (False, "user-42")


@pytest.mark.parametrize("stream", [False, True])
def test_the_fake_upstream_answers_a_forced_tool_with_an_openai_tool_call(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, stream: bool
) -> None:
    with openai.OpenAI(api_key=key[0], base_url=gw.url + "/v1", max_retries=0) as sdk:
        call: Any = dict(model="gpt-4o-mini", messages=MESSAGES, tools=[OPENAI_WEATHER], tool_choice="required")
        if stream:
            chunks = list(sdk.chat.completions.create(**call, stream=True))
            names = [tc.function.name for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
            finish = next(c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason)
        else:
            reply = sdk.chat.completions.create(**call)
            names = [tc.function.name for tc in reply.choices[0].message.tool_calls or ()]  # type: ignore[union-attr]
            finish = reply.choices[0].finish_reason
    assert (names[0], finish) == ("get_weather", "tool_calls")
    prompt = chat_prompt_tokens(upstream_body(fake_upstream))
    assert used(gw, key[1]) == mini_charge(prompt, TOOL_CALL_TOKENS)
