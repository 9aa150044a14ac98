"""The official google-genai SDK through the gateway to the fake upstream's Gemini protocol."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types

from relaygate.fakeupstream import gemini_prompt_tokens
from tests.support.billing import expected_charge, gemini_charge
from tests.support.deployment import Deployment

BODY = {"contents": [{"role": "user", "parts": [{"text": "Say hello to the world"}]}]}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    """The test gateway plus Gemini channels: one plain (with a mapping), one reporting thoughts and cache."""
    gateway.cli(
        "channel", "add", "--type", "gemini", "--base-url", fake_upstream, "--key", "fake",
        "--models", "gemini-test,gemini-mapped,embed-test", "--map", "gemini-mapped=gemini-upstream-name",
    )  # fmt: skip
    gateway.cli(
        "channel", "add", "--type", "gemini", "--base-url", fake_upstream + "/v1beta",
        "--key", "fake;thoughts=7;cached=2", "--models", "gemini-thinking",
    )  # fmt: skip
    for model in ("gemini-test", "gemini-mapped", "gemini-thinking"):
        gateway.cli("price", "set", model, "--input", "0.3", "--output", "2.5", "--cached-input", "0.075")
    gateway.cli("price", "set", "embed-test", "--input", "0.15")
    gateway.runtime_poll()
    return gateway


def new_key(gw: Deployment, *token_args: str, usd: str = "10", user: str = "alice") -> tuple[str, int]:
    gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)
    token = gw.cli("token", "create", "--user", user, "--name", "t", *token_args)[0]
    return token["key"], token["id"]


def client(gw: Deployment, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url))


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def test_generate_content_is_relayed_and_billed_exactly(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    config = types.GenerateContentConfig(max_output_tokens=5, system_instruction="Be brief.")
    with client(gw, key) as sdk:
        answer = sdk.models.generate_content(model="gemini-test", contents="Say hello to the world", config=config)
    assert answer.text == "fake reply word token fake"
    prompt = gemini_prompt_tokens(BODY | {"systemInstruction": {"parts": [{"text": "Be brief."}]}})
    assert answer.usage_metadata is not None
    assert answer.usage_metadata.prompt_token_count == prompt
    assert used(gw, token_id) == gemini_charge(prompt, 5)
    assert gw.books()["balanced"]


def test_stream_bills_the_last_usage_with_thoughts_as_output_and_cached_input(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with client(gw, key) as sdk:
        chunks = list(sdk.models.generate_content_stream(model="gemini-thinking", contents="Say hello to the world"))
    assert len(chunks) == 12
    assert "".join(chunk.text or "" for chunk in chunks) == "fake reply word token " * 2 + "fake reply word token"
    assert used(gw, token_id) == gemini_charge(gemini_prompt_tokens(BODY), 12 + 7, cached=2)


def test_count_tokens_is_free_and_embeddings_are_billed(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    with client(gw, key) as sdk:
        assert sdk.models.count_tokens(model="gemini-test", contents="one two three").total_tokens == 3
        assert used(gw, token_id) == 0
        embedded = sdk.models.embed_content(model="embed-test", contents=["one two", "three four five"])
    assert embedded.embeddings is not None
    assert len(embedded.embeddings) == 2
    assert used(gw, token_id) == expected_charge("0.15", "0", 5, 0)


def test_the_model_in_the_path_is_mapped_and_the_client_key_stays_here(gw: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gw)
    httpx.delete(fake_upstream + "/_fake/requests")
    response = httpx.post(gw.url + f"/v1beta/models/gemini-mapped:generateContent?key={key}", json=BODY)
    assert response.status_code == 200
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert seen["path"] == "/v1beta/models/gemini-upstream-name:generateContent"
    assert seen["x-goog-api-key"] == "fake"
    assert "query" not in seen
    assert key[3:] not in str(seen)


@pytest.mark.parametrize("form", ["x-goog-api-key", "query", "bearer"])
@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_every_credential_form_on_both_paths(gw: Deployment, form: str, version: str) -> None:
    key, _ = new_key(gw)
    url = gw.url + f"/{version}/models/gemini-test:streamGenerateContent?alt=sse"
    headers = {"x-goog-api-key": key} if form == "x-goog-api-key" else {"Authorization": f"Bearer {key}"}
    if form == "query":
        url, headers = url + f"&key={key}", {}
    response = httpx.post(url, json=BODY, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.count("data: ") == 12


@pytest.mark.parametrize(("status", "setup"), [(401, "bad-key"), (403, "disabled"), (429, "poor")])
def test_errors_are_typed_sdk_errors_in_the_google_shape(gw: Deployment, status: int, setup: str) -> None:
    key, _ = new_key(gw, usd="0.000002" if setup == "poor" else "10")
    if setup == "disabled":
        gw.cli("user", "disable", "alice")
        gw.runtime_poll()
    with (
        client(gw, "sk-" + "x" * 48 if setup == "bad-key" else key) as sdk,
        pytest.raises(errors.ClientError) as caught,
    ):
        sdk.models.generate_content(model="gemini-test", contents="hi")
    assert caught.value.code == status
    assert caught.value.status in ("UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED")


def test_token_counting_for_a_model_of_another_protocol_is_not_available_here(gw: Deployment) -> None:
    """generateContent converts (tests/relay/convert); countTokens does not."""
    key, _ = new_key(gw)
    with client(gw, key) as sdk, pytest.raises(errors.ServerError) as caught:
        sdk.models.count_tokens(model="gpt-4o-mini", contents="hi")
    assert caught.value.code == 503
    assert "another API protocol" in (caught.value.message or "")


def test_models_are_listed_in_the_gemini_shape(gw: Deployment) -> None:
    key, _ = new_key(gw, "--models", "gemini-test,embed-test,gpt-4o")
    with client(gw, key) as sdk:
        assert sorted(model.name or "" for model in sdk.models.list()) == ["models/embed-test", "models/gemini-test"]
    page = httpx.get(gw.url + "/v1beta/models", headers={"x-goog-api-key": key}).json()
    assert [model["displayName"] for model in page["models"]] == ["embed-test", "gemini-test"]
