"""The fake upstream's Anthropic protocol, through the official anthropic SDK and plain HTTP."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello to the test"}]
TOOL = {"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object"}}


def sdk(url: str, key: str = "fake") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=url, max_retries=0, default_headers={"x-api-key": key})


def test_message_has_the_anthropic_shape_and_the_documented_usage(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        message = client.messages.create(model="claude-x", max_tokens=5, system="Be brief", messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "fake reply word token fake"
    assert message.stop_reason == "max_tokens"
    assert anthropic_prompt_tokens({"system": "Be brief", "messages": MESSAGES}) == 2 + 5 + 3
    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 5)


def test_stream_sends_start_deltas_and_the_final_usage(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client, client.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "fake reply word token fake reply word token fake reply word token"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.stop_reason) == (8, 12, "end_turn")


def test_forced_tool_gets_a_tool_use_block_and_tools_count_as_input(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        message = client.messages.create(
            model="c", max_tokens=50, messages=MESSAGES, tools=[TOOL], tool_choice={"type": "any"}
        )
    assert message.content[0].type == "tool_use"
    assert message.content[0].name == "get_weather"
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (8 + 1 + 4, TOOL_USE_TOKENS)


CITY_FORMAT: Any = {
    "type": "json_schema",
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "coastal": {"type": "boolean"}},
        "required": ["name", "coastal"],
        "additionalProperties": False,
    },
}


def test_structured_output_is_answered_with_json_text_following_the_schema(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        message = client.messages.create(
            model="c", max_tokens=50, messages=MESSAGES, output_config={"format": CITY_FORMAT}
        )
    [block] = message.content
    assert block.type == "text"
    assert json.loads(block.text) == {"name": "fake", "coastal": True}
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == len(block.text.split())


def test_structured_output_streams_its_json_text(fake_upstream: str) -> None:
    with (
        sdk(fake_upstream) as client,
        client.messages.stream(
            model="c", max_tokens=50, messages=MESSAGES, output_config={"format": CITY_FORMAT}
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert json.loads(text) == {"name": "fake", "coastal": True}
    assert (final.usage.output_tokens, final.stop_reason) == (len(text.split()), "end_turn")


def test_cache_flags_split_the_prompt_as_anthropic_reports_it(fake_upstream: str) -> None:
    with sdk(fake_upstream, "fake;cached=4;cache-write=2") as client:
        usage = client.messages.create(model="c", max_tokens=5, messages=MESSAGES).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (2, 4, 2)


def test_count_tokens(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        assert client.messages.count_tokens(model="c", messages=MESSAGES, system="Be brief").input_tokens == 10


def test_errors_have_the_anthropic_shape(fake_upstream: str) -> None:
    with sdk(fake_upstream, "fake;fail=429") as client, pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="c", max_tokens=5, messages=MESSAGES)
    no_key = httpx.post(
        fake_upstream + "/v1/messages", json={"model": "c"}, headers={"anthropic-version": "2023-06-01"}
    )
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = httpx.post(fake_upstream + "/v1/messages", json={"model": "c"}, headers={"x-api-key": "fake"})
    assert (no_version.status_code, no_version.json()["type"]) == (400, "error")


def test_request_log_shows_the_anthropic_headers(fake_upstream: str) -> None:
    httpx.delete(fake_upstream + "/_fake/requests")
    with sdk(fake_upstream, "k1") as client:
        client.messages.create(model="c", max_tokens=5, messages=MESSAGES)
    [entry] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert (entry["path"], entry["x-api-key"]) == ("/v1/messages", "k1")
    assert entry["anthropic-version"]
