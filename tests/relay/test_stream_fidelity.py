"""Streams from upstreams that do not stream as OpenAI and Anthropic do (LiteLLM's), through the official SDKs.

A usage the client did not ask for never reaches it, even on a chunk that has choices; an upstream
that answers a stream request with one JSON body is turned into the client's event stream and its
usage billed.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from relaygate.fakeupstream import anthropic_prompt_tokens, chat_prompt_tokens, reply_text
from tests.support.billing import claude_charge, expected_charge
from tests.support.deployment import Deployment

MESSAGES: Any = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;usage-on-choices",
                "--models", "gpt-litellm")  # fmt: skip
    gateway.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;no-stream",
                "--models", "gpt-whole")  # fmt: skip
    gateway.cli("channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake;no-stream",
                "--models", "claude-whole")  # fmt: skip
    for model in ("gpt-litellm", "gpt-whole"):
        gateway.cli("price", "set", model, "--input", "1", "--output", "2")
    gateway.cli("price", "set", "claude-whole", "--input", "3", "--output", "15", "--cached-input", "0.3")
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


def openai_stream(gw: Deployment, key: str, model: str, **extra: Any) -> list[Any]:
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        return list(sdk.chat.completions.create(model=model, messages=MESSAGES, max_tokens=5, stream=True, **extra))


def text_of(chunks: list[Any]) -> str:
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


@pytest.mark.parametrize("model", ["gpt-litellm", "gpt-whole"])
def test_a_client_that_did_not_ask_for_usage_never_sees_it(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, model: str
) -> None:
    chunks = openai_stream(gw, key[0], model)
    assert [chunk.usage for chunk in chunks] == [None] * len(chunks)
    assert text_of(chunks) == reply_text(5)
    assert chunks[-1].choices[0].finish_reason == "length"
    assert used(gw, key[1]) == expected_charge("1", "2", chat_prompt_tokens(upstream_body(fake_upstream)), 5)


@pytest.mark.parametrize("model", ["gpt-litellm", "gpt-whole"])
def test_a_client_that_asked_for_usage_gets_it(
    gw: Deployment, key: tuple[str, int], fake_upstream: str, model: str
) -> None:
    chunks = openai_stream(gw, key[0], model, stream_options={"include_usage": True})
    [usage] = [chunk.usage for chunk in chunks if chunk.usage is not None]
    prompt = chat_prompt_tokens(upstream_body(fake_upstream))
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, 5)
    assert text_of(chunks) == reply_text(5)
    assert used(gw, key[1]) == expected_charge("1", "2", prompt, 5)


def test_a_whole_anthropic_answer_to_a_stream_request_becomes_a_stream(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    with (
        anthropic.Anthropic(api_key=key[0], base_url=gw.url, max_retries=0) as sdk,
        sdk.messages.stream(model="claude-whole", max_tokens=5, messages=MESSAGES) as events,
    ):
        kinds = [event.type for event in events]
        message = events.get_final_message()
    assert (kinds[0], kinds[-1]) == ("message_start", "message_stop")
    assert "content_block_delta" in kinds
    assert [block.text for block in message.content if block.type == "text"] == [reply_text(5)]
    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 5)
    prompt = anthropic_prompt_tokens(upstream_body(fake_upstream))
    assert message.usage.input_tokens == prompt
    assert used(gw, key[1]) == claude_charge(prompt, 5)


def test_a_whole_anthropic_answer_reaches_an_openai_stream_client_converted(
    gw: Deployment, key: tuple[str, int], fake_upstream: str
) -> None:
    chunks = openai_stream(gw, key[0], "claude-whole", stream_options={"include_usage": True})
    assert text_of(chunks) == reply_text(5)
    [usage] = [chunk.usage for chunk in chunks if chunk.usage is not None]
    prompt = anthropic_prompt_tokens(upstream_body(fake_upstream))
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, 5)
    assert used(gw, key[1]) == claude_charge(prompt, 5)
