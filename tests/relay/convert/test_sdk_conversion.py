"""Each official SDK through the gateway to a channel of another protocol: converted both ways, billed exactly.

The fake upstream logs the request it received, so each test checks the converted request too, and
computes the bill from the upstream's own counting rules applied to that request.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens, chat_usage, gemini_prompt_tokens
from tests.support.billing import claude_charge, gemini_charge, mini_charge
from tests.support.deployment import Deployment

QUESTION = "Say hello to the world"
SYSTEM = "Be brief."
OPENAI_MESSAGES: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway (its OpenAI channel serves gpt-4o-mini) plus an Anthropic and a Gemini channel."""
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake",
                "--models", "gemini-x,gemini-mapped", "--map", "gemini-mapped=gemini-upstream")  # fmt: skip
    gateway.cli("price", "set", "claude-x", "--input", "3", "--output", "15")
    for model in ("gemini-x", "gemini-mapped"):
        gateway.cli("price", "set", model, "--input", "0.3", "--output", "2.5")
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


def upstream_requests(fake_upstream: str) -> list[dict[str, Any]]:
    return list(httpx.get(fake_upstream + "/_fake/requests").json())


def used(gw: Deployment, token_id: int) -> int:
    """The token's charges, once the request's usage is settled (the server settles after the last byte)."""
    for _ in range(50):
        gw.flush()
        charged = int(gw.token(token_id)["used_quota"])
        if charged:
            return charged
        time.sleep(0.02)
    return 0


def openai_client(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


# OpenAI clients


def test_openai_to_anthropic(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai_client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.create(model="claude-x", messages=OPENAI_MESSAGES, max_tokens=5)
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1/messages"
    assert request["body"] == {
        "model": "claude-x",
        "max_tokens": 5,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
    }
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "fake reply word token fake"
    assert reply.choices[0].finish_reason == "length"
    prompt = anthropic_prompt_tokens(request["body"])
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, 5)
    assert used(gw, key[1]) == claude_charge(prompt, 5)
    assert gw.books()["balanced"]


def test_openai_stream_to_anthropic(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai_client(gw, key[0]) as sdk:
        chunks = list(
            sdk.chat.completions.create(
                model="claude-x", messages=OPENAI_MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
    [request] = upstream_requests(fake_upstream)
    assert request["body"]["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == " ".join(["fake reply word token"] * 3)
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == []
    prompt = anthropic_prompt_tokens(request["body"])
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (prompt, 12)
    assert used(gw, key[1]) == claude_charge(prompt, 12)


def test_openai_stream_without_usage_ends_with_done(gw: Deployment, key: tuple[str, int]) -> None:
    body = {"model": "gemini-x", "messages": OPENAI_MESSAGES, "stream": True, "max_tokens": 2}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key[0]}"})
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" and chunk["choices"] for chunk in chunks)
    assert "usage" not in chunks[-1]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks][-1] == "length"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tools_to_anthropic(gw: Deployment, key: tuple[str, int], fake_upstream: str, stream: bool) -> None:
    with openai_client(gw, key[0]) as sdk:
        call = dict(model="claude-x", messages=OPENAI_MESSAGES, tools=[WEATHER], tool_choice="required")
        if stream:
            chunks = list(sdk.chat.completions.create(**call, stream=True))  # type: ignore[call-overload]
            deltas = [tc for chunk in chunks for tc in chunk.choices[0].delta.tool_calls or ()]
            name, arguments = deltas[0].function.name, "".join(d.function.arguments or "" for d in deltas)
            finish = chunks[-1].choices[0].finish_reason
        else:
            reply = sdk.chat.completions.create(**call)  # type: ignore[call-overload]
            [tool_call] = reply.choices[0].message.tool_calls
            name, arguments, finish = (
                tool_call.function.name,
                tool_call.function.arguments,
                reply.choices[0].finish_reason,
            )
    [request] = upstream_requests(fake_upstream)
    assert request["body"]["tools"] == [
        {"name": "get_weather", "description": "Weather of a city", "input_schema": WEATHER["function"]["parameters"]}  # type: ignore[index]
    ]
    assert request["body"]["tool_choice"] == {"type": "any"}
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "fake"}, "tool_calls")
    assert used(gw, key[1]) == claude_charge(anthropic_prompt_tokens(request["body"]), TOOL_USE_TOKENS)


def test_openai_to_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai_client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.create(model="gemini-mapped", messages=OPENAI_MESSAGES, max_tokens=5)
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1beta/models/gemini-upstream:generateContent"
    assert request["body"] == {
        "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "generationConfig": {"maxOutputTokens": 5},
    }
    assert reply.choices[0].message.content == "fake reply word token fake"
    assert reply.choices[0].finish_reason == "length"
    prompt = gemini_prompt_tokens(request["body"])
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, 5)
    assert used(gw, key[1]) == gemini_charge(prompt, 5)


def test_openai_stream_to_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with openai_client(gw, key[0]) as sdk:
        chunks = list(sdk.chat.completions.create(model="gemini-x", messages=OPENAI_MESSAGES, stream=True))
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1beta/models/gemini-x:streamGenerateContent"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == " ".join(["fake reply word token"] * 3)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert used(gw, key[1]) == gemini_charge(gemini_prompt_tokens(request["body"]), 12)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tools_to_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str, stream: bool) -> None:
    forced = {"type": "function", "function": {"name": "get_weather"}}
    with openai_client(gw, key[0]) as sdk:
        call = dict(model="gemini-x", messages=OPENAI_MESSAGES, tools=[WEATHER], tool_choice=forced)
        if stream:
            chunks = list(sdk.chat.completions.create(**call, stream=True))  # type: ignore[call-overload]
            deltas = [tc for chunk in chunks for tc in chunk.choices[0].delta.tool_calls or ()]
            assert {delta.index for delta in deltas} == {0}
            name, arguments = deltas[0].function.name, "".join(d.function.arguments or "" for d in deltas)
            finish = chunks[-1].choices[0].finish_reason
        else:
            reply = sdk.chat.completions.create(**call)  # type: ignore[call-overload]
            [tool_call] = reply.choices[0].message.tool_calls
            name, arguments, finish = (
                tool_call.function.name,
                tool_call.function.arguments,
                reply.choices[0].finish_reason,
            )
    [request] = upstream_requests(fake_upstream)
    declaration = request["body"]["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == WEATHER["function"]["parameters"]  # type: ignore[index]
    assert request["body"]["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "fake"}, "tool_calls")
    assert used(gw, key[1]) == gemini_charge(gemini_prompt_tokens(request["body"]), TOOL_USE_TOKENS)


# Anthropic clients


def anthropic_client(gw: Deployment, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def test_anthropic_to_openai(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with anthropic_client(gw, key[0]) as sdk:
        message = sdk.messages.create(
            model="gpt-4o-mini", max_tokens=5, system=SYSTEM, messages=[{"role": "user", "content": QUESTION}]
        )
    [request] = upstream_requests(fake_upstream)
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        "max_tokens": 5,
    }
    assert message.type == "message"
    assert message.content[0].type == "text"
    assert message.content[0].text == "fake reply word token fake"
    assert message.stop_reason == "max_tokens"
    prompt, completion = chat_usage(request["body"])
    assert (message.usage.input_tokens, message.usage.output_tokens) == (prompt, completion)
    assert used(gw, key[1]) == mini_charge(prompt, completion)


def test_anthropic_stream_to_openai(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with (
        anthropic_client(gw, key[0]) as sdk,
        sdk.messages.stream(
            model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
        ) as stream,
    ):
        events = [event.type for event in stream]
        final = stream.get_final_message()
    [request] = upstream_requests(fake_upstream)
    assert request["body"]["stream_options"] == {"include_usage": True}
    assert events[0] == "message_start"
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].type == "text"
    assert final.content[0].text == " ".join(["fake reply word token"] * 3)
    assert final.stop_reason == "end_turn"
    prompt, completion = chat_usage(request["body"])
    assert (final.usage.input_tokens, final.usage.output_tokens) == (prompt, completion)
    assert used(gw, key[1]) == mini_charge(prompt, completion)


def test_anthropic_to_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with anthropic_client(gw, key[0]) as sdk:
        message = sdk.messages.create(
            model="gemini-x", max_tokens=5, system=SYSTEM, messages=[{"role": "user", "content": QUESTION}]
        )
    [request] = upstream_requests(fake_upstream)
    assert request["body"]["systemInstruction"] == {"parts": [{"text": SYSTEM}]}
    assert message.content[0].type == "text"
    assert message.content[0].text == "fake reply word token fake"
    assert message.stop_reason == "max_tokens"
    prompt = gemini_prompt_tokens(request["body"])
    assert (message.usage.input_tokens, message.usage.output_tokens) == (prompt, 5)
    assert used(gw, key[1]) == gemini_charge(prompt, 5)


def test_anthropic_stream_to_gemini(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with (
        anthropic_client(gw, key[0]) as sdk,
        sdk.messages.stream(
            model="gemini-x", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    [request] = upstream_requests(fake_upstream)
    assert text == " ".join(["fake reply word token"] * 3)
    prompt = gemini_prompt_tokens(request["body"])
    assert (final.usage.input_tokens, final.usage.output_tokens, final.stop_reason) == (prompt, 12, "end_turn")
    assert used(gw, key[1]) == gemini_charge(prompt, 12)


# google-genai clients


def genai_client(gw: Deployment, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url))


def test_gemini_to_openai(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    config = types.GenerateContentConfig(max_output_tokens=5, system_instruction=SYSTEM)
    with genai_client(gw, key[0]) as sdk:
        answer = sdk.models.generate_content(model="gpt-4o-mini", contents=QUESTION, config=config)
    [request] = upstream_requests(fake_upstream)
    assert request["body"] == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        "max_tokens": 5,
    }
    assert answer.text == "fake reply word token fake"
    assert answer.candidates is not None
    assert answer.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    prompt, completion = chat_usage(request["body"])
    assert answer.usage_metadata is not None
    assert (answer.usage_metadata.prompt_token_count, answer.usage_metadata.candidates_token_count) == (
        prompt,
        completion,
    )
    assert used(gw, key[1]) == mini_charge(prompt, completion)


def test_gemini_stream_to_openai(gw: Deployment, key: tuple[str, int], fake_upstream: str) -> None:
    with genai_client(gw, key[0]) as sdk:
        chunks = list(sdk.models.generate_content_stream(model="gpt-4o-mini", contents=QUESTION))
    [request] = upstream_requests(fake_upstream)
    assert "".join(chunk.text or "" for chunk in chunks) == " ".join(["fake reply word token"] * 3)
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    prompt, completion = chat_usage(request["body"])
    assert last.usage_metadata is not None
    assert last.usage_metadata.prompt_token_count == prompt
    assert used(gw, key[1]) == mini_charge(prompt, completion)
