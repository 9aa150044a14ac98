"""Gemini structured output (`responseMimeType` + `responseSchema`) for models served by OpenAI and Anthropic channels.

The google-genai SDK sends Gemini's OpenAPI-style schema (upper-case types, `nullable`,
`property_ordering`); the OpenAI channel gets `response_format` with the schema as JSON Schema,
the answer parses into the client's model, and the charge is what the upstream counted.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens, chat_prompt_tokens, count_words
from tests.support.billing import claude_charge, mini_charge
from tests.support.deployment import Deployment
from tests.support.keys import new_key, used

QUESTION = "Describe a city"


class City(BaseModel):
    name: str
    population: int | None
    districts: list[str]


CITY_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "City",
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "population": {"type": ["integer", "null"], "title": "Population"},
        "districts": {"type": "array", "title": "Districts", "items": {"type": "string"}},
    },
    "required": ["name", "population", "districts"],
}
EXPECTED = City(name="fake", population=1, districts=["fake"])  # the fake upstream's `sample_json`


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway (gpt-4o-mini on an OpenAI channel) plus claude-x on an Anthropic channel."""
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
                "--models", "claude-x")  # fmt: skip
    gateway.cli("price", "set", "claude-x", "--input", "3", "--output", "15", "--cached-input", "0.3")
    gateway.runtime_poll()
    return gateway


@pytest.fixture(autouse=True)
def fresh_upstream_log(fake_upstream: str) -> None:
    httpx.delete(fake_upstream + "/_fake/requests")


def upstream_request(fake_upstream: str) -> dict[str, Any]:
    [request] = httpx.get(fake_upstream + "/_fake/requests").json()
    return dict(request)


def sdk(gw: Deployment, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url))


def json_config(**extra: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(response_mime_type="application/json", **extra)


def test_a_response_schema_reaches_openai_as_a_json_schema_response_format(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        reply = client.models.generate_content(
            model="gpt-4o-mini", contents=QUESTION, config=json_config(response_schema=City)
        )
    assert reply.parsed == EXPECTED
    request = upstream_request(fake_upstream)
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": CITY_JSON_SCHEMA},
    }
    assert reply.usage_metadata is not None
    assert reply.usage_metadata.prompt_token_count == chat_prompt_tokens(body)
    assert used(gw, token_id) == mini_charge(chat_prompt_tokens(body), count_words(reply.text or ""))
    assert gw.books()["balanced"]


def test_a_streamed_structured_answer_from_openai_parses(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        chunks = list(
            client.models.generate_content_stream(
                model="gpt-4o-mini", contents=QUESTION, config=json_config(response_schema=City)
            )
        )
    text = "".join(chunk.text or "" for chunk in chunks)
    assert City.model_validate_json(text) == EXPECTED
    body = upstream_request(fake_upstream)["body"]
    assert body["stream"] is True
    assert body["response_format"]["json_schema"]["schema"] == CITY_JSON_SCHEMA
    assert used(gw, token_id) == mini_charge(chat_prompt_tokens(body), count_words(text))


def test_a_json_schema_given_as_json_schema_is_sent_as_it_is(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    schema = City.model_json_schema()
    with sdk(gw, key) as client:
        reply = client.models.generate_content(
            model="gpt-4o-mini", contents=QUESTION, config=json_config(response_json_schema=schema)
        )
    assert City.model_validate_json(reply.text or "") == EXPECTED
    assert upstream_request(fake_upstream)["body"]["response_format"]["json_schema"]["schema"] == schema


def test_json_mode_without_a_schema_is_json_object(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    with sdk(gw, key) as client:
        reply = client.models.generate_content(model="gpt-4o-mini", contents=QUESTION, config=json_config())
    assert isinstance(json.loads(reply.text or ""), dict)
    assert upstream_request(fake_upstream)["body"]["response_format"] == {"type": "json_object"}


def test_snake_case_structured_output_converts_too(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    body = {
        "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
        "generation_config": {
            "response_mime_type": "application/json",
            "response_schema": {
                "type": "OBJECT",
                "properties": {"name": {"type": "STRING"}, "type": {"type": "STRING", "nullable": True}},
                "property_ordering": ["name", "type"],
            },
        },
    }
    answer = httpx.post(
        f"{gw.url}/v1beta/models/gpt-4o-mini:generateContent", json=body, headers={"x-goog-api-key": key}
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.json()["candidates"][0]["content"]["parts"][0]["text"]) == {"name": "fake", "type": "fake"}
    assert upstream_request(fake_upstream)["body"]["response_format"]["json_schema"]["schema"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "type": {"type": ["string", "null"]}},
    }


def test_a_response_schema_reaches_anthropic_as_the_answer_tool(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    with sdk(gw, key) as client:
        reply = client.models.generate_content(
            model="claude-x", contents=QUESTION, config=json_config(response_schema=City)
        )
    assert reply.parsed == EXPECTED
    assert reply.function_calls is None
    body = upstream_request(fake_upstream)["body"]
    [tool] = body["tools"]
    assert tool["input_schema"] == CITY_JSON_SCHEMA
    assert used(gw, token_id) == claude_charge(anthropic_prompt_tokens(body), TOOL_USE_TOKENS)


def test_an_enum_answer_cannot_be_converted_and_is_refused_naming_the_field(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    config = types.GenerateContentConfig(
        response_mime_type="text/x.enum", response_schema={"type": "STRING", "enum": ["yes", "no"]}
    )
    with sdk(gw, key) as client, pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model="gpt-4o-mini", contents="Is it sunny?", config=config)
    assert refused.value.code == 400
    assert "generationConfig.responseMimeType" in (refused.value.message or "")
    assert httpx.get(fake_upstream + "/_fake/requests").json() == []
    assert used(gw, token_id) == 0
