"""The official openai SDK (sync, async, streaming) through the gateway to the fake upstream."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from relaygate.fakeupstream import chat_usage, completion_usage, embedding_usage
from tests.support.billing import expected_charge, mini_charge
from tests.support.deployment import Deployment

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to the world"}]


def new_key(gw: Deployment, user: str = "alice", usd: str = "10", *token_args: str) -> tuple[str, int]:
    gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)
    token = gw.cli("token", "create", "--user", user, "--name", "t", *token_args)[0]
    return token["key"], token["id"]


def client(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def test_chat_completion_is_relayed_and_billed_exactly(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk:
        reply = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    prompt, completion = chat_usage({"messages": MESSAGES})
    assert reply.choices[0].message.content == "fake reply word token fake reply word token fake reply word token"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, completion)  # type: ignore[union-attr]
    gateway.flush()
    charge = mini_charge(prompt, completion)
    assert gateway.user("alice")["balance"] == 5_000_000 - charge
    assert gateway.token(token_id)["used_quota"] == charge
    assert gateway.books()["balanced"]


def test_stream_relays_every_chunk_and_hides_the_usage_chunk_the_client_did_not_ask_for(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)
    with client(gateway, key) as sdk:
        chunks = list(sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, max_tokens=5))  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "fake reply word token fake"
    assert all(chunk.choices for chunk in chunks), "the gateway's own usage request must not reach the client"
    gateway.flush()
    prompt, completion = chat_usage({"messages": MESSAGES, "max_tokens": 5})
    assert gateway.token(token_id)["used_quota"] == mini_charge(prompt, completion)


def test_stream_passes_the_usage_chunk_when_the_client_asks(gateway: Deployment) -> None:
    key, _ = new_key(gateway)
    with client(gateway, key) as sdk:
        chunks = list(
            sdk.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12


def test_async_client_and_legacy_completions_and_embeddings(gateway: Deployment) -> None:
    key, token_id = new_key(gateway)

    async def calls() -> None:
        async with openai.AsyncOpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk:
            chat = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
            legacy = sdk.completions.create(model="gpt-4o-mini", prompt="once upon a time", max_tokens=4)
            embedding = sdk.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
            results = await asyncio.gather(chat, legacy, embedding)
        assert results[1].choices[0].text == "fake reply word token"
        assert len(results[2].data) == 2

    asyncio.run(calls())
    gateway.flush()
    chat_p, chat_c = chat_usage({"messages": MESSAGES})
    legacy_p, legacy_c = completion_usage({"prompt": "once upon a time", "max_tokens": 4})
    embed_p = embedding_usage({"input": ["one two", "three"]})
    expected = (
        expected_charge("2.5", "10", chat_p, chat_c)
        + mini_charge(legacy_p, legacy_c)
        + expected_charge("0.02", "0", embed_p, 0)
    )
    assert gateway.token(token_id)["used_quota"] == expected
    assert gateway.user("alice")["balance"] == 5_000_000 - expected


def test_models_lists_only_what_the_token_may_use(gateway: Deployment) -> None:
    key, _ = new_key(gateway, "alice", "10", "--models", "gpt-4o-mini,gpt-4o")
    with client(gateway, key) as sdk:
        assert sorted(model.id for model in sdk.models.list()) == ["gpt-4o", "gpt-4o-mini"]
        assert sdk.models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve("text-embedding-3-small")


def test_client_key_never_reaches_the_upstream(gateway: Deployment, fake_upstream: str) -> None:
    key, _ = new_key(gateway)
    httpx.delete(fake_upstream + "/_fake/requests")
    with client(gateway, key) as sdk:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    seen = httpx.get(fake_upstream + "/_fake/requests").json()
    assert [entry["authorization"] for entry in seen] == ["Bearer fake"]
    assert key[3:] not in str(seen)
