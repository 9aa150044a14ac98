"""openai-node and the Vercel AI SDK through a live gateway to the fake upstream, native and converted.

Each case runs one Node client (tests/node/*.mjs, in the suite's long-lived runner) and asserts what the client got
(text, stream chunks, tool calls, parsed object) and that the gateway billed exactly the usage the
client saw, which is the usage the fake upstream counts for the request it received.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from relaygate.fakeupstream import (
    TOOL_CALL_TOKENS,
    TOOL_USE_TOKENS,
    anthropic_prompt_tokens,
    chat_prompt_tokens,
    gemini_prompt_tokens,
    responses_usage,
)
from tests.node.clients import require_node, run_script
from tests.support.billing import claude_charge, gemini_charge, mini_charge
from tests.support.deployment import Deployment
from tests.support.keys import new_key, used

TWELVE_WORDS = "fake reply word token fake reply word token fake reply word token"
FIVE_WORDS = "fake reply word token fake"
CHARGES: dict[str, Callable[[int, int], int]] = {
    "gpt-4o-mini": mini_charge,
    "claude-test": claude_charge,
    "gemini-test": gemini_charge,
}


@pytest.fixture(autouse=True)
def _node() -> None:
    require_node()


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway (openai channel: gpt-4o-mini) plus an Anthropic and a Gemini channel."""
    gateway.cli(
        "channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake", "--models", "claude-test"
    )
    gateway.cli(
        "channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake", "--models", "gemini-test"
    )
    gateway.cli("price", "set", "claude-test", "--input", "3", "--output", "15", "--cached-input", "0.3")
    gateway.cli("price", "set", "gemini-test", "--input", "0.3", "--output", "2.5", "--cached-input", "0.075")
    gateway.runtime_poll()
    httpx.delete(fake_upstream + "/_fake/requests")
    return gateway


def openai_node(gw: Deployment, key: str, model: str, case: str) -> dict[str, Any]:
    return run_script("openai_node.mjs", base_url=gw.url + "/v1", key=key, model=model, case=case)


def ai_sdk(gw: Deployment, key: str, provider: str, model: str, case: str) -> dict[str, Any]:
    base_url = gw.url + ("/v1beta" if provider == "google" else "/v1")
    return run_script("ai_sdk.mjs", base_url=base_url, key=key, model=model, case=case, PROVIDER=provider)


def upstream_request(fake_upstream: str) -> dict[str, Any]:
    """The one request the fake upstream received since the fixture cleared its log."""
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    return dict(seen)


def upstream_prompt_tokens(seen: dict[str, Any]) -> int:
    """The prompt tokens the fake upstream counts for the request it received, by its protocol."""
    body, path = seen["body"], seen["path"]
    if path == "/v1/chat/completions":
        return chat_prompt_tokens(body)
    if path == "/v1/messages":
        return anthropic_prompt_tokens(body)
    if path == "/v1/responses":
        return responses_usage(body, 0)[0]
    assert ":generateContent" in path or ":streamGenerateContent" in path, path
    return gemini_prompt_tokens(body)


def assert_billed(
    gw: Deployment, fake_upstream: str, token_id: int, model: str, prompt: int, completion: int, *, stream: bool
) -> None:
    """The usage the client saw is the upstream's count, and the gateway recorded and charged exactly it."""
    assert prompt == upstream_prompt_tokens(upstream_request(fake_upstream))
    charge = CHARGES[model](prompt, completion)
    assert used(gw, token_id) == charge
    [record] = usage_records(gw, token_id)
    assert (record["model"], record["prompt_tokens"], record["completion_tokens"]) == (model, prompt, completion)
    assert (record["quota"], record["status_code"], record["stream"]) == (charge, 200, stream)
    assert gw.books()["balanced"]


def usage_records(gw: Deployment, token_id: int) -> list[dict[str, Any]]:
    """The token's usage records, read through the management API with its owner's access key."""
    access_key = gw.cli("access-key", "create", "--user", "alice", "--name", "node-suite")[0]["key"]
    page = httpx.get(
        gw.url + "/api/usage", params={"token_id": token_id}, headers={"Authorization": f"Bearer {access_key}"}
    )
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


# openai-node


@pytest.mark.parametrize(("model", "path"), [("gpt-4o-mini", "/v1/chat/completions"), ("claude-test", "/v1/messages")])
def test_openai_node_chat_native_and_to_claude(gw: Deployment, fake_upstream: str, model: str, path: str) -> None:
    key, token_id = new_key(gw)
    got = openai_node(gw, key, model, "chat")
    assert got["ok"], got
    assert got["text"] == FIVE_WORDS
    assert got["finish"] == "length"
    assert upstream_request(fake_upstream)["path"] == path
    usage = got["usage"]
    assert usage["completion_tokens"] == 5
    assert_billed(gw, fake_upstream, token_id, model, usage["prompt_tokens"], 5, stream=False)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-test"])
def test_openai_node_stream_native_and_to_claude(gw: Deployment, fake_upstream: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = openai_node(gw, key, model, "stream")
    assert got["ok"], got
    assert got["text"] == TWELVE_WORDS
    assert got["chunks"] >= 13  # a chunk per word, then the usage chunk asked for
    assert got["usage"]["completion_tokens"] == 12
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["prompt_tokens"], 12, stream=True)


@pytest.mark.parametrize(("model", "tokens"), [("gpt-4o-mini", TOOL_CALL_TOKENS), ("claude-test", TOOL_USE_TOKENS)])
def test_openai_node_tool_call_native_and_to_claude(
    gw: Deployment, fake_upstream: str, model: str, tokens: int
) -> None:
    key, token_id = new_key(gw)
    got = openai_node(gw, key, model, "tools")
    assert got["ok"], got
    assert got["calls"] == [{"name": "get_weather", "args": {"city": "fake"}}]
    assert got["finish"] == "tool_calls"
    assert got["usage"]["completion_tokens"] == tokens
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["prompt_tokens"], tokens, stream=False)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-test"])
def test_openai_node_responses(gw: Deployment, fake_upstream: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = openai_node(gw, key, model, "responses")
    assert got["ok"], got
    assert got["text"] == FIVE_WORDS
    assert got["usage"]["output_tokens"] == 5
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input_tokens"], 5, stream=False)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-test"])
def test_openai_node_responses_stream(gw: Deployment, fake_upstream: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = openai_node(gw, key, model, "responses-stream")
    assert got["ok"], got
    assert got["text"] == TWELVE_WORDS
    assert got["types"][0] == "response.created"
    assert got["types"][-1] == "response.completed"
    assert got["types"].count("response.output_text.delta") == 12
    assert got["usage"]["output_tokens"] == 12
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input_tokens"], 12, stream=True)


# The Vercel AI SDK

NATIVE = [("openai-chat", "gpt-4o-mini"), ("anthropic", "claude-test"), ("google", "gemini-test")]
CONVERTED = [
    ("openai-chat", "claude-test"),
    ("openai-chat", "gemini-test"),
    ("anthropic", "gpt-4o-mini"),
    ("google", "gpt-4o-mini"),
]
RESPONSES = [
    ("openai-responses", "claude-test"),
    ("openai-responses", "gemini-test"),
]
PROVIDERS = [*NATIVE, *CONVERTED, ("openai-responses", "gpt-4o-mini"), *RESPONSES]
TOOL_PROVIDERS = [
    *NATIVE,
    *CONVERTED,
    ("openai-responses", "gpt-4o-mini"),
    *RESPONSES,
]
OBJECT_PROVIDERS = [
    ("openai-chat", "gpt-4o-mini"),
    ("anthropic", "claude-test"),
    ("google", "gemini-test"),
    *CONVERTED[:3],
    ("google", "gpt-4o-mini"),
    ("openai-responses", "gpt-4o-mini"),
    *RESPONSES,
]


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_ai_sdk_generate_text(gw: Deployment, fake_upstream: str, provider: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = ai_sdk(gw, key, provider, model, "text")
    assert got["ok"], got
    assert got["text"] == FIVE_WORDS
    # The fake upstream's own Responses answer cut by max_output_tokens says "completed" (OpenAI: "incomplete");
    # the gateway's converted one says "incomplete", as OpenAI does.
    native_responses = (provider, model) == ("openai-responses", "gpt-4o-mini")
    assert got["finish"] == ("stop" if native_responses else "length")
    assert got["usage"]["output"] == 5
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input"], 5, stream=False)


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_ai_sdk_stream_text(gw: Deployment, fake_upstream: str, provider: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = ai_sdk(gw, key, provider, model, "stream")
    assert got["ok"], got
    assert got["text"] == TWELVE_WORDS
    assert got["chunks"] == 12
    assert got["finish"] == "stop"
    assert got["usage"]["output"] == 12
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input"], 12, stream=True)


@pytest.mark.parametrize(("provider", "model"), TOOL_PROVIDERS)
def test_ai_sdk_stream_text_calls_the_tool(gw: Deployment, fake_upstream: str, provider: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = ai_sdk(gw, key, provider, model, "stream-tools")
    assert got["ok"], got
    assert got["calls"] == [{"name": "get_weather", "args": {"city": "fake"}}]
    assert got["results"] == [{"city": "fake", "forecast": "sunny"}]
    assert got["finish"] == "tool-calls"
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input"], got["usage"]["output"], stream=True)


@pytest.mark.parametrize(("provider", "model"), OBJECT_PROVIDERS)
def test_ai_sdk_generate_object(gw: Deployment, fake_upstream: str, provider: str, model: str) -> None:
    key, token_id = new_key(gw)
    got = ai_sdk(gw, key, provider, model, "object")
    assert got["ok"], got
    assert got["object"] == {"name": "fake", "population": 1, "coastal": True}
    assert_billed(gw, fake_upstream, token_id, model, got["usage"]["input"], got["usage"]["output"], stream=False)
