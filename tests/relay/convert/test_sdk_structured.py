"""Structured output through the official SDKs: openai `.parse()` against Anthropic, Gemini and OpenAI channels.

What a converted request cannot honour and what would change the answer (`n`, `logprobs`) is
refused with a 400 naming the field, and costs nothing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens, count_words, gemini_prompt_tokens
from tests.support.billing import claude_charge, gemini_charge
from tests.support.deployment import Deployment

MESSAGES: Any = [{"role": "user", "content": "Weather in Paris?"}]


class Weather(BaseModel):
    city: str
    degrees: int


EXPECTED = Weather(city="fake", degrees=1)  # what the fake upstream answers a schema with (`sample_json`)


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake",
                "--models", "gemini-x")  # fmt: skip
    gateway.cli("price", "set", "claude-x", "--input", "3", "--output", "15", "--cached-input", "0.3")
    gateway.cli("price", "set", "gemini-x", "--input", "0.3", "--output", "2.5", "--cached-input", "0.075")
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


def upstream_bodies(fake_upstream: str) -> list[dict[str, Any]]:
    return [request["body"] for request in httpx.get(fake_upstream + "/_fake/requests").json()]


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def client(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def test_parse_against_anthropic_gets_the_forced_answer_tool_as_content(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    with client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.parse(model="claude-x", messages=MESSAGES, response_format=Weather)
    assert reply.choices[0].message.parsed == EXPECTED
    assert (reply.choices[0].message.tool_calls, reply.choices[0].finish_reason) == (None, "stop")
    [body] = upstream_bodies(fake_upstream)
    [tool] = body["tools"]
    assert tool["input_schema"]["properties"] == Weather.model_json_schema()["properties"]
    assert body["tool_choice"] == {"type": "tool", "name": tool["name"]}
    assert used(gw, key[1]) == claude_charge(anthropic_prompt_tokens(body), TOOL_USE_TOKENS)


def test_a_streamed_structured_answer_from_anthropic_is_text(gw: Deployment, key: tuple[str, int]) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "weather", "schema": Weather.model_json_schema()}}
    with client(gw, key[0]) as sdk:
        chunks = list(
            sdk.chat.completions.create(model="claude-x", messages=MESSAGES, response_format=schema, stream=True)  # type: ignore[arg-type]
        )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert Weather.model_validate_json(text) == EXPECTED
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert not any(chunk.choices[0].delta.tool_calls for chunk in chunks if chunk.choices)


def test_parse_against_gemini_sends_json_mode_and_the_schema(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    with client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.parse(model="gemini-x", messages=MESSAGES, response_format=Weather)
    assert reply.choices[0].message.parsed == EXPECTED
    [body] = upstream_bodies(fake_upstream)
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"] == Weather.model_json_schema()["properties"]
    answer = reply.choices[0].message.content or ""
    assert used(gw, key[1]) == gemini_charge(gemini_prompt_tokens(body), count_words(answer))


def test_json_object_mode_against_gemini_answers_json(gw: Deployment, key: tuple[str, int]) -> None:
    with client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.create(
            model="gemini-x", messages=MESSAGES, response_format={"type": "json_object"}
        )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_parse_natively_against_the_fake_openai_upstream(gw: Deployment, key: tuple[str, int]) -> None:
    with client(gw, key[0]) as sdk:
        reply = sdk.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)
    assert reply.choices[0].message.parsed == EXPECTED


@pytest.mark.parametrize(("extra", "field"), [({"n": 2}, "n"), ({"logprobs": True}, "logprobs")])
def test_what_a_conversion_cannot_honour_is_refused_naming_the_field(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, extra: dict[str, Any], field: str
) -> None:
    with client(gw, key[0]) as sdk, pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="claude-x", messages=MESSAGES, **extra)
    assert refused.value.param == field
    assert f"'{field}'" in refused.value.message
    assert upstream_bodies(fake_upstream) == []
    assert used(gw, key[1]) == 0


def test_a_gemini_client_asking_for_two_candidates_of_a_claude_model_is_refused(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    config = types.GenerateContentConfig(candidate_count=2)
    with (
        genai.Client(api_key=key[0], http_options=types.HttpOptions(base_url=gw.url)) as sdk,
        pytest.raises(errors.ClientError) as refused,
    ):
        sdk.models.generate_content(model="claude-x", contents="hi", config=config)
    assert refused.value.code == 400
    assert "candidateCount" in (refused.value.message or "")
    assert upstream_bodies(fake_upstream) == []
