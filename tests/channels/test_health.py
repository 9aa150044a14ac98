"""Channel health through a running gateway, the fake upstream and the official openai SDK.

The fake upstream's switches (`switch=NAME` in a key, `PUT /_fake/switches/NAME`) make a key start
or stop failing while the test runs; the request log tells which key each request reached.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from relaygate.channels.health import judge
from tests.support.deployment import Deployment
from tests.support.keys import new_key
from tests.support.webhook import WebhookReceiver

MODEL = "gpt-4o-mini"
PROMPT = "health check please"


def set_switch(fake_upstream: str, name: str, status: int | None, code: str | None = None) -> None:
    response = httpx.put(f"{fake_upstream}/_fake/switches/{name}", json={"fail": status, "code": code})
    assert response.status_code == 204, response.text


def hits(fake_upstream: str, key: str) -> int:
    """Client requests (not probes) the fake upstream received with `key`."""
    log = httpx.get(f"{fake_upstream}/_fake/requests").json()
    return sum(
        1
        for entry in log
        if entry.get("authorization") == f"Bearer {key}" and PROMPT in str((entry.get("body") or {}).get("messages"))
    )


def channel_state(gw: Deployment, channel_id: int) -> dict[str, Any]:
    return next(channel for channel in gw.cli("channel", "list") if channel["id"] == channel_id)


def wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=3)
    return reply.choices[0].message.content or ""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    hook.start()
    yield hook
    hook.stop()


@pytest.fixture
def health_gateway(tmp_path: Path, receiver: WebhookReceiver) -> Iterator[Deployment]:
    gw = Deployment(tmp_path / "data", channel_probe_interval="0.2", alert_webhook=receiver.url)
    gw.cli("price", "set", MODEL, "--input", "1", "--output", "2")
    yield gw
    gw.stop()


@pytest.fixture
def client_of() -> Iterator[Callable[[Deployment], openai.OpenAI]]:
    opened: list[openai.OpenAI] = []

    def make(gw: Deployment) -> openai.OpenAI:
        key, _ = new_key(gw)
        opened.append(openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0))
        return opened[-1]

    yield make
    for client in opened:
        client.close()


def serves(client: openai.OpenAI) -> bool:
    try:
        return bool(ask(client))
    except openai.APIStatusError:
        return False


def test_a_key_that_starts_answering_401_is_disabled_alone_within_one_request_and_comes_back_after(
    health_gateway: Deployment, fake_upstream: str, receiver: WebhookReceiver, client_of: Callable[..., openai.OpenAI]
) -> None:
    gw, run = health_gateway, uuid.uuid4().hex
    bad, good = f"fake;switch=bad-{run}", f"fake;switch=good-{run}"
    channel = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", bad, "--key", good, "--models", MODEL
    )[0]  # fmt: skip
    gw.start()
    client = client_of(gw)
    assert ask(client)
    set_switch(fake_upstream, f"bad-{run}", 401)
    before, asked = hits(fake_upstream, bad), 0
    while hits(fake_upstream, bad) == before:  # until one request reached the bad key
        assert ask(client)  # the good key answers every request, the one that met the bad key included
        asked += 1
        assert asked < 60
    bad_key, good_key = channel_state(gw, channel["id"])["keys"]
    assert bad_key["status"] == "auto_disabled"
    assert "401" in bad_key["disabled_reason"]
    assert bad_key["disabled_at"] is not None
    assert good_key["status"] == "enabled"
    assert channel_state(gw, channel["id"])["status"] == "enabled"
    reached = hits(fake_upstream, bad)
    for _ in range(10):
        assert ask(client)
    assert hits(fake_upstream, bad) == reached == before + 1  # disabled by the first request that met it
    event = receiver.wait_for("key_auto_disabled")
    assert (event["channel_id"], event["key_id"]) == (channel["id"], bad_key["id"])
    assert "401" in event["reason"]
    assert bad not in str(event)

    set_switch(fake_upstream, f"bad-{run}", None)  # the upstream takes the key again: a probe brings it back
    restored = receiver.wait_for("key_restored")
    assert restored["key_id"] == bad_key["id"]
    assert channel_state(gw, channel["id"])["keys"][0]["status"] == "enabled"


def test_a_channel_failing_with_5xx_opens_its_circuit_and_a_probe_brings_it_back(
    health_gateway: Deployment, fake_upstream: str, receiver: WebhookReceiver, client_of: Callable[..., openai.OpenAI]
) -> None:
    gw, run = health_gateway, uuid.uuid4().hex
    flaky = f"fake;switch=down-{run}"
    primary = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", flaky, "--models", MODEL,
        "--priority", "1", "--name", "primary",
    )[0]  # fmt: skip
    gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", MODEL)
    gw.start()
    client = client_of(gw)
    set_switch(fake_upstream, f"down-{run}", 502)
    for _ in range(3):  # the default threshold: three failures in a row, each retried on the backup
        assert ask(client)
    state = channel_state(gw, primary["id"])
    assert state["status"] == "auto_disabled"
    assert state["disabled_reason"].startswith("circuit open")
    assert "502" in state["disabled_reason"]
    for _ in range(5):
        assert ask(client)
    assert hits(fake_upstream, flaky) == 3  # out of service: no client request reaches it
    opened = receiver.wait_for("channel_auto_disabled")
    assert opened["channel_id"] == primary["id"]
    assert opened["key_id"] is None

    set_switch(fake_upstream, f"down-{run}", None)
    assert receiver.wait_for("channel_restored")["channel_id"] == primary["id"]
    wait_until(lambda: channel_state(gw, primary["id"])["status"] == "enabled")
    assert channel_state(gw, primary["id"])["disabled_reason"] is None
    wait_until(lambda: serves(client) and hits(fake_upstream, flaky) > 3)  # the top tier serves again


def test_a_manual_disable_is_never_undone_by_a_probe(
    health_gateway: Deployment, fake_upstream: str, receiver: WebhookReceiver, client_of: Callable[..., openai.OpenAI]
) -> None:
    gw, run = health_gateway, uuid.uuid4().hex
    key = f"fake;switch=manual-{run}"
    channel = gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", key, "--models", MODEL)
    channel_id = channel[0]["id"]
    gw.start()
    client = client_of(gw)
    set_switch(fake_upstream, f"manual-{run}", 402)
    with pytest.raises(openai.APIStatusError) as refused:
        ask(client)
    assert refused.value.status_code == 502  # the client is told the gateway's upstream account is at fault
    state = channel_state(gw, channel_id)
    assert state["status"] == "auto_disabled"
    assert state["disabled_reason"].startswith("no usable key")
    assert state["keys"][0]["status"] == "auto_disabled"
    assert "402" in state["keys"][0]["disabled_reason"]

    gw.cli("channel", "disable", str(channel_id))
    set_switch(fake_upstream, f"manual-{run}", None)  # the upstream would pass a probe now
    for _ in range(3):
        gw.server.call(gw.runtime.prober.probe_once())  # type: ignore[union-attr]
    state = channel_state(gw, channel_id)
    assert (state["status"], state["disabled_reason"]) == ("disabled", "disabled by an administrator")
    assert [event["event"] for event in receiver.events if event["event"].endswith("restored")] == []
    with pytest.raises(openai.APIStatusError) as unavailable:
        ask(client)
    assert unavailable.value.status_code == 503

    gw.cli("channel", "enable", str(channel_id))  # the admin's enable; the probe then brings the key back
    receiver.wait_for("key_restored")
    wait_until(lambda: serves(client))


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, b'{"error":{"message":"Incorrect API key provided"}}', "key"),
        (403, b"", "key"),
        (402, b"", "key"),
        (429, b'{"error":{"type":"insufficient_quota","message":"You exceeded your current quota"}}', "key"),
        (429, b'{"error":{"type":"requests","message":"Rate limit reached"}}', None),
        (400, b'{"error":{"message":"bad request"}}', None),
        (503, b"", "server"),
        (408, b"", "server"),
    ],
)
def test_what_an_upstream_answer_says_about_the_key_or_the_channel(status: int, body: bytes, kind: str | None) -> None:
    verdict = judge(status, body)
    assert (verdict.kind if verdict else None) == kind


def test_a_reason_never_quotes_a_credential() -> None:
    quoted = "Incorrect API key provided: sk-proj-AbCdEf**************************wxyz. Find your key at ..."
    verdict = judge(401, b"", quoted)
    assert verdict is not None
    assert "sk-proj" not in verdict.reason
    assert "wxyz" not in verdict.reason
    assert verdict.reason.startswith("upstream answered 401: Incorrect API key provided: [redacted]")


def test_a_key_whose_quota_ran_out_upstream_is_disabled_but_a_rate_limit_is_not(
    health_gateway: Deployment, fake_upstream: str, client_of: Callable[..., openai.OpenAI]
) -> None:
    gw, run = health_gateway, uuid.uuid4().hex
    limited, broke = f"fake;switch=limited-{run}", f"fake;switch=broke-{run}"
    channel = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", limited, "--key", broke,
        "--models", MODEL, "--priority", "1",
    )[0]  # fmt: skip
    gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", MODEL)
    gw.start()
    client = client_of(gw)
    set_switch(fake_upstream, f"limited-{run}", 429)  # a plain rate limit: retried elsewhere, the key stays
    set_switch(fake_upstream, f"broke-{run}", 429, code="insufficient_quota")
    asked = 0
    while hits(fake_upstream, limited) == 0 or hits(fake_upstream, broke) == 0:
        assert ask(client)
        asked += 1
        assert asked < 80
    limited_key, broke_key = channel_state(gw, channel["id"])["keys"]
    assert limited_key["status"] == "enabled"
    assert broke_key["status"] == "auto_disabled"
    assert "quota exhausted" in broke_key["disabled_reason"]
