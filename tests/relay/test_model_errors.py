"""Unknown models and bad keys, answered so that each official SDK raises the error its users expect.

404 `model_not_found` (no retry by the SDKs) when no channel of any group the caller may use serves
the model; 503 `model_not_available` when channels exist but none serves the caller now.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.support.deployment import Deployment

MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway plus a channel for another group only (`vip`, which no user may select)."""
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake",
        "--models", "vip-model", "--group", "vip",
    )  # fmt: skip
    gateway.cli("price", "set", "vip-model", "--input", "1", "--output", "1")
    gateway.cli("price", "set", "no-such-model", "--input", "1", "--output", "1")
    gateway.runtime_poll()
    return gateway


def new_key(gw: Deployment) -> str:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    return str(gw.cli("token", "create", "--user", "alice")[0]["key"])


@pytest.mark.parametrize("model", ["no-such-model", "vip-model"])
def test_an_unknown_model_is_404_model_not_found_in_the_openai_shape(gw: Deployment, model: str) -> None:
    key = new_key(gw)
    with (
        openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert caught.value.code == "model_not_found"
    assert model in caught.value.message


def test_an_unknown_model_is_404_in_the_anthropic_shape(gw: Deployment) -> None:
    key = new_key(gw)
    with (
        anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0) as sdk,
        pytest.raises(anthropic.NotFoundError) as caught,
    ):
        sdk.messages.create(model="no-such-model", max_tokens=5, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index, call-overload]


def test_an_unknown_model_is_404_in_the_gemini_shape(gw: Deployment) -> None:
    key = new_key(gw)
    with (
        genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url)) as sdk,
        pytest.raises(errors.ClientError) as caught,
    ):
        sdk.models.generate_content(model="no-such-model", contents="hi")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


def test_an_embedding_of_an_unknown_model_is_404_too(gw: Deployment) -> None:
    key = new_key(gw)
    with (
        openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        sdk.embeddings.create(model="no-such-model", input="hi")
    assert caught.value.code == "model_not_found"


def test_an_unknown_key_is_worded_as_openai_words_it_and_never_echoed(gw: Deployment) -> None:
    wrong = "sk-" + "Q7w" * 16
    with (
        openai.OpenAI(api_key=wrong, base_url=gw.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "invalid_api_key"
    answer = httpx.post(gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {wrong}"}, json={})
    assert answer.json()["error"]["message"].startswith("Incorrect API key provided")
    assert "Q7w" not in answer.text
