"""The fake upstream's Gemini protocol, through the official google-genai SDK and plain HTTP."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types

from relaygate.fakeupstream import embedding_vector, gemini_prompt_tokens


def sdk(url: str, key: str = "fake") -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=url))


def test_generate_content_has_the_documented_usage(fake_upstream: str) -> None:
    config = types.GenerateContentConfig(max_output_tokens=3, system_instruction="be brief")
    with sdk(fake_upstream) as client:
        answer = client.models.generate_content(model="gemini-x", contents="hello there world", config=config)
    assert answer.text == "fake reply word"
    assert answer.candidates is not None
    assert answer.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    usage = answer.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (5, 3)
    request = {
        "contents": [{"parts": [{"text": "hello there world"}]}],
        "systemInstruction": {"parts": [{"text": "b c"}]},
    }
    assert gemini_prompt_tokens(request) == 5


def test_stream_sends_one_chunk_per_word_and_the_final_usage_last(fake_upstream: str) -> None:
    with sdk(fake_upstream, "fake;words=4;thoughts=7;cached=1") as client:
        chunks = list(client.models.generate_content_stream(model="gemini-x", contents="hello there"))
    assert "".join(chunk.text or "" for chunk in chunks) == "fake reply word token"
    final = chunks[-1].usage_metadata
    assert final is not None
    assert (final.prompt_token_count, final.candidates_token_count, final.thoughts_token_count) == (2, 4, 7)
    assert final.cached_content_token_count == 1


def test_count_tokens_and_embeddings(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        assert client.models.count_tokens(model="gemini-x", contents="one two three").total_tokens == 3
        embedded = client.models.embed_content(model="embed-x", contents=["one two", "three"])
    assert embedded.embeddings is not None
    assert [item.values for item in embedded.embeddings] == [embedding_vector("one two"), embedding_vector("three")]
    single = httpx.post(
        fake_upstream + "/v1beta/models/embed-x:embedContent",
        json={"content": {"parts": [{"text": "a b c"}]}},
        headers={"x-goog-api-key": "fake"},
    ).json()
    assert single["embedding"]["values"] == embedding_vector("a b c")
    assert single["usageMetadata"]["promptTokenCount"] == 3


def test_key_in_the_query_and_errors_in_the_google_shape(fake_upstream: str) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    url = fake_upstream + "/v1beta/models/gemini-x:generateContent"
    assert httpx.post(url + "?key=fake", json=body).status_code == 200
    missing = httpx.post(url, json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    with sdk(fake_upstream, "fake;fail=429") as client, pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-x", contents="hi")
    assert caught.value.code == 429
