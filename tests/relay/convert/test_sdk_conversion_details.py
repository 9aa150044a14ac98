"""Converted requests with images, multi-turn tool use and upstream errors, through the real gateway."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from relaygate.fakeupstream import TOOL_USE_TOKENS
from tests.support.deployment import Deployment

PNG = "iVBORw0KGgo="
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object"}},
}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake;fail=400",
                "--models", "claude-refusing")  # fmt: skip
    gateway.cli("channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake",
                "--models", "gemini-x")  # fmt: skip
    for model in ("claude-x", "claude-refusing", "gemini-x"):
        gateway.cli("price", "set", model, "--input", "3", "--output", "15")
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


CONVERSATION: list[Any] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this, and the weather in Paris?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ],
    },
    {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


def test_images_and_a_tool_round_trip_reach_anthropic(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai.OpenAI(api_key=key[0], base_url=gw.url + "/v1", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="claude-x", messages=CONVERSATION, tools=[WEATHER], max_tokens=3)  # type: ignore[list-item]
    assert reply.choices[0].message.content == "fake reply word"
    assert upstream_body(fake_upstream)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this, and the weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]},
    ]


def test_images_and_a_tool_round_trip_reach_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai.OpenAI(api_key=key[0], base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model="gemini-x", messages=CONVERSATION, tools=[WEATHER], max_tokens=3)  # type: ignore[list-item]
    assert upstream_body(fake_upstream)["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What is this, and the weather in Paris?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
            ],
        },
        {
            "role": "model",
            "parts": [{"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
        },
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]},
    ]


def test_an_upstream_error_comes_back_in_the_clients_protocol_and_costs_nothing(
    gw: Deployment, key: tuple[str, int]
) -> None:
    with (
        openai.OpenAI(api_key=key[0], base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        sdk.chat.completions.create(model="claude-refusing", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "upstream_error"
    gw.flush()
    assert gw.token(key[1])["used_quota"] == 0


def test_a_gemini_client_without_sse_gets_one_json_array(gw: Deployment, key: tuple[str, int]) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 2}}
    response = httpx.post(
        gw.url + "/v1beta/models/gpt-4o-mini:streamGenerateContent", json=body, headers={"x-goog-api-key": key[0]}
    )
    assert response.status_code == 200
    [answer] = response.json()
    assert answer["candidates"][0]["content"] == {"role": "model", "parts": [{"text": "fake reply"}]}
    assert answer["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert answer["usageMetadata"]["candidatesTokenCount"] == 2


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_client_gets_a_gemini_function_call_as_tool_use(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, stream: bool
) -> None:
    tool = {"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object"}}
    call: dict[str, Any] = {
        "model": "gemini-x",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [tool],
        "tool_choice": {"type": "any"},
    }
    with anthropic.Anthropic(api_key=key[0], base_url=gw.url, max_retries=0) as sdk:
        if stream:
            with sdk.messages.stream(**call) as events:
                message = events.get_final_message()
        else:
            message = sdk.messages.create(**call)
    assert upstream_body(fake_upstream)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    [block] = message.content
    assert block.type == "tool_use"
    assert (block.name, block.input, message.stop_reason) == ("get_weather", {}, "tool_use")
    assert message.usage.output_tokens == TOOL_USE_TOKENS


def test_gemini_client_gets_an_anthropic_tool_use_as_a_function_call(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    declaration = types.FunctionDeclaration(
        name="get_weather",
        description="Weather of a city",
        parameters=types.Schema(type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}),
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
    )
    with genai.Client(api_key=key[0], http_options=types.HttpOptions(base_url=gw.url)) as sdk:
        answer = sdk.models.generate_content(model="claude-x", contents="Weather in Paris?", config=config)
    sent = upstream_body(fake_upstream)
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather of a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert sent["tool_choice"] == {"type": "any"}
    assert answer.function_calls is not None
    [function_call] = answer.function_calls
    assert (function_call.name, function_call.args) == ("get_weather", {"city": "fake"})
    assert answer.candidates is not None
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
