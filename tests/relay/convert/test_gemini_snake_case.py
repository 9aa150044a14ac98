"""Gemini requests in snake_case (protobuf JSON's other spelling, as litellm's `gemini/` provider sends them).

Real Gemini accepts both spellings, so the gateway reads both: tools, the output limit, the system
instruction and inline data survive conversion, and the native route bills the limit it was given.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from relaygate.fakeupstream import TOOL_USE_TOKENS
from tests.support.billing import claude_charge, gemini_charge
from tests.support.deployment import Deployment

PNG = "iVBORw0KGgo="
SNAKE_BODY: dict[str, Any] = {
    "contents": [
        {
            "role": "user",
            "parts": [{"text": "Weather in Paris?"}, {"inline_data": {"mime_type": "image/png", "data": PNG}}],
        }
    ],
    "system_instruction": {"parts": [{"text": "Be brief."}]},
    "tools": [
        {
            "function_declarations": [
                {
                    "name": "get_weather",
                    "description": "Weather of a city",
                    "parameters": {"type": "OBJECT", "properties": {"city_name": {"type": "STRING"}}},
                }
            ]
        }
    ],
    "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_weather"]}},
    "generation_config": {"max_output_tokens": 7, "stop_sequences": ["END"], "top_p": 0.5},
}


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


def upstream_body(fake_upstream: str) -> dict[str, Any]:
    [request] = httpx.get(fake_upstream + "/_fake/requests").json()
    return dict(request["body"])


def generate(gw: Deployment, key: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{gw.url}/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": key}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def test_snake_case_tools_limit_and_system_reach_anthropic(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    answer = generate(gw, key[0], "claude-x", SNAKE_BODY)
    assert answer["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "get_weather"
    body = upstream_body(fake_upstream)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather of a city",
            "input_schema": {"type": "object", "properties": {"city_name": {"type": "string"}}},
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert (body["max_tokens"], body["system"], body["stop_sequences"], body["top_p"]) == (7, "Be brief.", ["END"], 0.5)
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    usage = answer["usageMetadata"]
    assert used(gw, key[1]) == claude_charge(usage["promptTokenCount"], TOOL_USE_TOKENS)


def test_a_snake_case_output_limit_is_sent_and_billed_natively(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 3}}
    answer = generate(gw, key[0], "gemini-x", body)
    assert upstream_body(fake_upstream)["generation_config"] == {"max_output_tokens": 3}
    usage = answer["usageMetadata"]
    assert usage["candidatesTokenCount"] == 3
    assert used(gw, key[1]) == gemini_charge(usage["promptTokenCount"], 3)
