"""The official anthropic SDK through the gateway to the fake upstream's Anthropic protocol."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from relaygate.fakeupstream import TOOL_USE_TOKENS, anthropic_prompt_tokens
from tests.support.billing import claude_charge
from tests.support.deployment import Deployment

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello to the world"}]
SYSTEM = "Be brief."
TOOL = {"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object"}}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway plus Anthropic channels: one plain (with a model mapping), one reporting cache use."""
    gateway.cli(
        "channel", "add", "--type", "anthropic", "--base-url", fake_upstream, "--key", "fake",
        "--models", "claude-test,claude-mapped", "--map", "claude-mapped=claude-upstream-name",
    )  # fmt: skip
    gateway.cli(
        "channel", "add", "--type", "anthropic", "--base-url", fake_upstream + "/v1",
        "--key", "fake;cached=4;cache-write=2", "--models", "claude-cached",
    )  # fmt: skip
    for model in ("claude-test", "claude-mapped", "claude-cached"):
        gateway.cli("price", "set", model, "--input", "3", "--output", "15", "--cached-input", "0.3")
    gateway.runtime_poll()
    return gateway


def new_key(gw: Deployment, *token_args: str, usd: str = "10", user: str = "alice") -> tuple[str, int]:
    gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)
    token = gw.cli("token", "create", "--user", user, "--name", "t", *token_args)[0]
    return token["key"], token["id"]


def client(gw: Deployment, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def test_message_is_relayed_and_billed_exactly(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with client(gw, key) as sdk:
        message = sdk.messages.create(model="claude-test", max_tokens=5, system=SYSTEM, messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "fake reply word token fake"
    prompt = anthropic_prompt_tokens({"system": SYSTEM, "messages": MESSAGES})
    assert (message.usage.input_tokens, message.usage.output_tokens) == (prompt, 5)
    assert used(gw, token_id) == claude_charge(prompt, 5)
    assert gw.user("alice")["balance"] == 5_000_000 - claude_charge(prompt, 5)
    assert gw.books()["balanced"]


def test_stream_relays_every_event_and_bills_the_final_usage(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with client(gw, key) as sdk, sdk.messages.stream(model="claude-test", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "fake reply word token fake reply word token fake reply word token"
    assert final.usage.output_tokens == 12
    assert used(gw, token_id) == claude_charge(anthropic_prompt_tokens({"messages": MESSAGES}), 12)


def test_tools_reach_the_upstream_and_the_tool_use_is_billed(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw)
    httpx.delete(fake_upstream + "/_fake/requests")
    with client(gw, key) as sdk:
        message = sdk.messages.create(
            model="claude-test", max_tokens=50, messages=MESSAGES, tools=[TOOL], tool_choice={"type": "any"}
        )
    assert message.content[0].type == "tool_use"
    assert message.content[0].name == "get_weather"
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert seen["body"]["tools"] == [TOOL]
    assert seen["x-api-key"] == "fake"
    assert key[3:] not in str(seen)
    prompt = anthropic_prompt_tokens({"messages": MESSAGES, "tools": [TOOL]})
    assert used(gw, token_id) == claude_charge(prompt, TOOL_USE_TOKENS)


def test_cache_reads_are_billed_at_the_cached_price_and_cache_writes_at_the_write_price(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with client(gw, key) as sdk:
        usage = sdk.messages.create(model="claude-cached", max_tokens=5, messages=MESSAGES).usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (4, 2)
    prompt = anthropic_prompt_tokens({"messages": MESSAGES})
    assert usage.input_tokens == prompt - 6
    assert used(gw, token_id) == claude_charge(prompt, 5, cached=4, written_5m=2)


def test_model_mapping_reaches_the_upstream(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    httpx.delete(fake_upstream + "/_fake/requests")
    with client(gw, key) as sdk:
        sdk.messages.create(model="claude-mapped", max_tokens=5, messages=MESSAGES)
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert seen["body"]["model"] == "claude-upstream-name"


def test_count_tokens_is_free_but_checked(gw: Deployment) -> None:
    key, token_id = new_key(gw, "--models", "claude-test")
    with client(gw, key) as sdk:
        counted = sdk.messages.count_tokens(model="claude-test", system=SYSTEM, messages=MESSAGES)
        assert counted.input_tokens == anthropic_prompt_tokens({"system": SYSTEM, "messages": MESSAGES})
        with pytest.raises(anthropic.PermissionDeniedError):
            sdk.messages.count_tokens(model="claude-cached", messages=MESSAGES)
    assert used(gw, token_id) == 0
    with client(gw, "sk-" + "x" * 48) as sdk, pytest.raises(anthropic.AuthenticationError):
        sdk.messages.count_tokens(model="claude-test", messages=MESSAGES)


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_both_credential_forms(gw: Deployment, header: str) -> None:
    key, _ = new_key(gw)
    headers = {"x-api-key": key} if header == "x-api-key" else {"Authorization": f"Bearer {key}"}
    body = {"model": "claude-test", "max_tokens": 3, "messages": MESSAGES}
    response = httpx.post(gw.url + "/v1/messages", json=body, headers=headers | {"anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "fake reply word"


def test_errors_are_typed_anthropic_errors(gw: Deployment) -> None:
    with client(gw, "sk-" + "x" * 48) as sdk, pytest.raises(anthropic.AuthenticationError) as caught:
        sdk.messages.create(model="claude-test", max_tokens=5, messages=MESSAGES)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }
    key, _ = new_key(gw)
    poor, _ = new_key(gw, usd="0.000002", user="bob")
    with client(gw, poor) as sdk, pytest.raises(anthropic.RateLimitError):
        sdk.messages.create(model="claude-test", max_tokens=5, messages=MESSAGES)
    gw.cli("user", "disable", "alice")
    gw.runtime_poll()
    with client(gw, key) as sdk, pytest.raises(anthropic.PermissionDeniedError):
        sdk.messages.create(model="claude-test", max_tokens=5, messages=MESSAGES)


def test_only_chat_requests_reach_a_model_of_another_protocol(gw: Deployment) -> None:
    """Messages convert (tests/relay/convert); token counting and embeddings do not."""
    key, _ = new_key(gw)
    with client(gw, key) as sdk, pytest.raises(anthropic.InternalServerError) as caught:
        sdk.messages.count_tokens(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert "another API protocol" in caught.value.message
    with (
        openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.InternalServerError) as refused,
    ):
        sdk.embeddings.create(model="claude-test", input="hi")
    assert refused.value.code == "model_not_available"


def test_models_in_the_anthropic_shape(gw: Deployment) -> None:
    key, _ = new_key(gw, "--models", "claude-test,claude-cached,gpt-4o")
    with client(gw, key) as sdk:
        models = list(sdk.models.list())
        assert [model.id for model in models] == ["claude-cached", "claude-test"]
        assert models[0].type == "model"
        assert sdk.models.retrieve("claude-test").display_name == "claude-test"
        with pytest.raises(anthropic.NotFoundError):
            sdk.models.retrieve("gpt-4o")
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    page = httpx.get(gw.url + "/v1/models", headers=headers).json()
    assert (page["has_more"], page["first_id"], page["last_id"]) == (False, "claude-cached", "claude-test")
    openai_page = httpx.get(gw.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).json()
    assert [model["id"] for model in openai_page["data"]] == ["gpt-4o"]
