"""An upstream that breaks a stream off, or hangs while the client has gone: what the client and the books see."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.relay.test_bounded_spend import new_key, records
from tests.support.deployment import Deployment


@pytest.fixture
def faulty_gateway(gateway: Deployment, fake_upstream: str) -> Deployment:
    for kind, model in (("openai", "breaking-gpt"), ("anthropic", "breaking-claude"), ("gemini", "breaking-gemini")):
        gateway.cli("channel", "add", "--type", kind, "--base-url", fake_upstream, "--key", "fake;words=50;break-after=6",
                    "--models", model)  # fmt: skip
        gateway.cli("price", "set", model, "--input", "1", "--output", "10")
    gateway.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;delay-ms=8000",
                "--models", "hanging-gpt")  # fmt: skip
    gateway.cli("price", "set", "hanging-gpt", "--input", "1", "--output", "10")
    gateway.runtime_poll()
    return gateway


def billed_for_what_was_produced(gw: Deployment) -> dict[str, Any]:
    [record] = records(gw)
    assert record["status_code"] == 200
    assert 0 < record["completion_tokens"] < 50  # what came before the break, not the 50-word answer
    assert record["quota"] > 0
    assert gw.books()["balanced"]
    return record


def test_an_openai_stream_broken_off_ends_with_an_error_chunk(faulty_gateway: Deployment) -> None:
    key, _, _ = new_key(faulty_gateway, "10")
    received = []
    with openai.OpenAI(api_key=key, base_url=faulty_gateway.url + "/v1", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(
            model="breaking-gpt",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,  # type: ignore[arg-type]
        )
        with pytest.raises(openai.APIError) as broken:
            received.extend(stream)
    assert received
    assert "broke off" in broken.value.message
    billed_for_what_was_produced(faulty_gateway)


def test_an_anthropic_stream_broken_off_ends_with_an_error_event(faulty_gateway: Deployment) -> None:
    key, _, _ = new_key(faulty_gateway, "10")
    with (
        anthropic.Anthropic(api_key=key, base_url=faulty_gateway.url, max_retries=0) as sdk,
        pytest.raises(anthropic.APIStatusError) as broken,
        sdk.messages.stream(model="breaking-claude", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as s,
    ):
        for _ in s.text_stream:
            pass
    assert "broke off" in str(broken.value)
    billed_for_what_was_produced(faulty_gateway)


def test_a_gemini_stream_broken_off_ends_with_an_error_chunk(faulty_gateway: Deployment) -> None:
    key, _, _ = new_key(faulty_gateway, "10")
    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=faulty_gateway.url))
    with pytest.raises(genai_errors.APIError) as broken:
        for _ in client.models.generate_content_stream(model="breaking-gemini", contents="hi"):
            pass
    assert "broke off" in str(broken.value)
    billed_for_what_was_produced(faulty_gateway)


def test_a_client_that_leaves_while_the_upstream_hangs_frees_its_hold(faulty_gateway: Deployment) -> None:
    key, _, _ = new_key(faulty_gateway, "10")
    body = {"model": "hanging-gpt", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            faulty_gateway.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=1.5,
        )
    ledger = faulty_gateway.runtime.ledger
    deadline = time.monotonic() + 5  # the upstream hangs for 8 s; the gateway lets go when the client does
    while ledger.open_holds() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ledger.open_holds() == 0
    [record] = records(faulty_gateway)
    assert (record["status_code"], record["quota"]) == (499, 0)
