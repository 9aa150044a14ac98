"""Realtime sessions through the gateway with the `websockets` client, as SDK-free clients connect."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from relaygate.fakeupstream.openai_realtime import AUDIO_BYTES_PER_TOKEN
from tests.relay.test_openai_sdk import new_key
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

MODEL = "gpt-4o-realtime-preview"


@pytest.fixture
def realtime_gateway(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream + "/v1", "--key", "fake", "--models", MODEL,
    )  # fmt: skip
    gateway.cli("price", "set", MODEL, "--input", "5", "--output", "20")
    gateway.runtime_poll()
    return gateway


def ws_url(gw: Deployment, model: str = MODEL) -> str:
    return gw.url.replace("http://", "ws://") + f"/v1/realtime?model={model}"


def open_session(gw: Deployment, key: str, model: str = MODEL) -> ClientConnection:
    """As browsers connect: the key in a subprotocol."""
    protocols = ["realtime", f"openai-insecure-api-key.{key}", "openai-beta.realtime-v1"]
    return connect(ws_url(gw, model), subprotocols=protocols, open_timeout=10)  # type: ignore[arg-type]


def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    ws.send(json.dumps(event))


def until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Every event up to and including the first of type `kind`."""
    events = []
    while True:
        event = json.loads(ws.recv(timeout=10))
        events.append(event)
        if event["type"] == kind:
            return events


def say(ws: ClientConnection, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    send(ws, {"type": "conversation.item.create", "item": item})
    until(ws, "conversation.item.created")


def charge_of(done: dict[str, Any]) -> int:
    usage = done["response"]["usage"]
    return expected_charge("5", "20", usage["input_tokens"], usage["output_tokens"])


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def test_session_is_relayed_both_ways_and_each_response_billed(
    realtime_gateway: Deployment, fake_upstream: str
) -> None:
    key, token_id = new_key(realtime_gateway)
    httpx.delete(fake_upstream + "/_fake/requests")
    with open_session(realtime_gateway, key) as ws:
        assert ws.subprotocol == "realtime"
        assert until(ws, "session.created")[-1]["session"]["model"] == MODEL
        say(ws, "hello there world")
        send(ws, {"type": "response.create"})
        first = until(ws, "response.done")
        send(ws, {"type": "response.create", "response": {"max_response_output_tokens": 4}})
        second = until(ws, "response.done")
    assert "".join(event["delta"] for event in first if event["type"] == "response.text.delta") == (
        "fake reply word token fake reply word token fake reply word token"
    )
    assert first[-1]["response"]["usage"]["input_tokens"] == 3
    assert (second[-1]["response"]["usage"]["input_tokens"], second[-1]["response"]["usage"]["output_tokens"]) == (
        15,
        4,
    )
    expected = charge_of(first[-1]) + charge_of(second[-1])
    assert used(realtime_gateway, token_id) == expected
    assert realtime_gateway.user("alice")["balance"] == 5_000_000 - expected
    assert realtime_gateway.books()["balanced"]
    seen = httpx.get(fake_upstream + "/_fake/requests").json()
    assert [(entry["authorization"], entry["openai-beta"]) for entry in seen] == [("Bearer fake", "realtime=v1")]
    assert key[3:] not in str(seen)


def test_server_clients_may_send_a_bearer_key_and_responses_the_upstream_starts_are_billed(
    realtime_gateway: Deployment,
) -> None:
    key, token_id = new_key(realtime_gateway)
    audio = base64.b64encode(bytes(250)).decode()
    with connect(ws_url(realtime_gateway), additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        assert ws.subprotocol is None
        until(ws, "session.created")
        send(ws, {"type": "input_audio_buffer.append", "audio": audio})
        send(ws, {"type": "input_audio_buffer.commit"})  # the upstream answers on its own, as with voice detection
        done = until(ws, "response.done")[-1]
    assert done["response"]["usage"]["input_tokens"] == -(-250 // AUDIO_BYTES_PER_TOKEN)
    assert used(realtime_gateway, token_id) == charge_of(done)
    assert realtime_gateway.books()["balanced"]


@pytest.mark.parametrize(
    ("key", "model", "status", "code"),
    [
        ("sk-not-a-real-key", MODEL, 401, "invalid_api_key"),
        (None, MODEL, 401, "missing_api_key"),
        ("", "", 400, "missing_model"),
        ("", "gpt-4o-mini", 403, "model_not_allowed"),
        ("", "no-such-model", 404, "model_not_found"),
    ],
)
def test_refusals_are_http_errors_in_the_openai_shape(
    realtime_gateway: Deployment, key: str | None, model: str, status: int, code: str
) -> None:
    good_key, _ = new_key(realtime_gateway, "alice", "10", "--models", f"{MODEL},no-such-model")
    protocols = ["realtime"]
    if key is not None:
        protocols.append(f"openai-insecure-api-key.{key or good_key}")
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(realtime_gateway, model), subprotocols=protocols)  # type: ignore[arg-type]
    response = refused.value.response
    assert response.status_code == status
    assert json.loads(response.body or b"")["error"]["code"] == code


def test_quota_exhausted_mid_session_ends_it_with_an_error_event(realtime_gateway: Deployment) -> None:
    # 0.004 USD = 2,000 units: the first response holds 100 output tokens (1,000 units) and its prompt;
    # the second's instructions alone (1,000 tokens of bound, 2,500 units) do not fit what is left.
    key, token_id = new_key(realtime_gateway, "alice", "10", "--quota-usd", "0.004")
    with open_session(realtime_gateway, key) as ws:
        until(ws, "session.created")
        say(ws, "hello there world")
        send(ws, {"type": "response.create", "response": {"max_output_tokens": 100}})
        first = until(ws, "response.done")[-1]
        send(ws, {"type": "response.create", "response": {"instructions": "x" * 1000}})
        error = until(ws, "error")[-1]
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)
    assert error["error"]["code"] == "token_quota_exceeded"
    assert ws.close_code == 1000
    assert used(realtime_gateway, token_id) == charge_of(first)
    assert realtime_gateway.books()["balanced"]


def test_client_leaving_mid_response_pays_the_hold_of_the_cut_response(
    realtime_gateway: Deployment, fake_upstream: str
) -> None:
    realtime_gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;chunk-delay-ms=200",
        "--models", "slow-realtime",
    )  # fmt: skip
    realtime_gateway.cli("price", "set", "slow-realtime", "--input", "5", "--output", "20")
    realtime_gateway.runtime_poll()
    key, token_id = new_key(realtime_gateway)
    with open_session(realtime_gateway, key, "slow-realtime") as ws:
        until(ws, "session.created")
        send(ws, {"type": "response.create", "response": {"max_output_tokens": 50}})
        until(ws, "response.created")
    # nothing reports the usage of a response cut short: it is charged what it held (its options' bound, 50 out)
    deadline = time.monotonic() + 10
    while not used(realtime_gateway, token_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used(realtime_gateway, token_id) == expected_charge("5", "20", len("max_output_tokens") + 1, 50)
    assert realtime_gateway.books()["balanced"]


# The SDK calls websockets' connect() outside a `with`, which websockets 17.1 deprecates: the SDK's
# business, not the gateway's.
@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_openai_sdk_realtime_client_through_the_gateway(realtime_gateway: Deployment) -> None:
    key, token_id = new_key(realtime_gateway)
    sdk = openai.OpenAI(api_key=key, base_url=realtime_gateway.url + "/v1", max_retries=0)
    with sdk.realtime.connect(model=MODEL) as connection:
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]}
        connection.send({"type": "conversation.item.create", "item": item})  # type: ignore[arg-type]
        connection.send({"type": "response.create"})  # type: ignore[arg-type]
        for event in connection:
            if event.type == "response.done":
                usage = event.response.usage
                break
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (2, 12)
    assert used(realtime_gateway, token_id) == expected_charge("5", "20", 2, 12)


def test_upstream_refusing_the_session_is_a_502_and_costs_nothing(
    realtime_gateway: Deployment, fake_upstream: str
) -> None:
    realtime_gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;fail=401",
        "--models", "refused-realtime",
    )  # fmt: skip
    realtime_gateway.cli("price", "set", "refused-realtime", "--input", "5", "--output", "20")
    realtime_gateway.runtime_poll()
    key, token_id = new_key(realtime_gateway)
    with pytest.raises(InvalidStatus) as refused:
        open_session(realtime_gateway, key, "refused-realtime")
    assert refused.value.response.status_code == 502
    assert used(realtime_gateway, token_id) == 0


def test_an_upstream_refusing_the_sessions_key_takes_the_key_out_and_the_next_key_serves(
    realtime_gateway: Deployment, fake_upstream: str
) -> None:
    [channel] = realtime_gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;fail=401",
        "--key", "fake", "--models", "two-key-realtime",
    )  # fmt: skip
    realtime_gateway.cli("price", "set", "two-key-realtime", "--input", "5", "--output", "20")
    realtime_gateway.runtime_poll()
    key, _ = new_key(realtime_gateway)
    for _ in range(20):  # every session opens (a refused key is retried on the other); 2**-20 to miss the bad key
        with open_session(realtime_gateway, key, "two-key-realtime") as ws:
            until(ws, "session.created")
    bad, good = next(c for c in realtime_gateway.cli("channel", "list") if c["id"] == channel["id"])["keys"]
    assert (bad["status"], good["status"]) == ("auto_disabled", "enabled")
    assert "401" in bad["disabled_reason"]


def test_a_session_counts_against_the_concurrency_limit_while_it_lasts(realtime_gateway: Deployment) -> None:
    key, _ = new_key(realtime_gateway, "alice", "10", "--max-concurrent", "1")
    with open_session(realtime_gateway, key) as ws:
        until(ws, "session.created")
        with pytest.raises(InvalidStatus) as refused:
            open_session(realtime_gateway, key)
        assert refused.value.response.status_code == 429
        assert json.loads(refused.value.response.body or b"")["error"]["code"] == "rate_limit_exceeded"
    deadline = time.monotonic() + 10
    while True:  # the slot is given back when the gateway has seen the session end
        try:
            with open_session(realtime_gateway, key) as ws:
                assert until(ws, "session.created")
            break
        except InvalidStatus:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_response_holds_for_what_the_client_added_to_the_conversation(realtime_gateway: Deployment) -> None:
    # 30,000 characters are held as about 10,000 input tokens (25,000 units at 5 USD per 1M): more than the
    # 2,000 units of the key, although the response asks for a single output token.
    key, token_id = new_key(realtime_gateway, "alice", "10", "--quota-usd", "0.004")
    with open_session(realtime_gateway, key) as ws:
        until(ws, "session.created")
        say(ws, "word " * 6_000)
        send(ws, {"type": "response.create", "response": {"max_response_output_tokens": 1}})
        assert until(ws, "error")[-1]["error"]["code"] == "token_quota_exceeded"
    assert used(realtime_gateway, token_id) == 0
    assert realtime_gateway.books()["balanced"]


def test_a_response_past_its_limit_is_charged_at_most_its_hold(
    realtime_gateway: Deployment, fake_upstream: str
) -> None:
    realtime_gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;ignore-limit;words=3000",
        "--models", "lying-realtime", "--name", "ignores-limits",
    )  # fmt: skip
    realtime_gateway.cli("price", "set", "lying-realtime", "--input", "5", "--output", "20")
    realtime_gateway.runtime_poll()
    key, token_id = new_key(realtime_gateway)
    with open_session(realtime_gateway, key, "lying-realtime") as ws:
        until(ws, "session.created")
        send(ws, {"type": "response.create", "response": {"max_output_tokens": 20}})
        done = until(ws, "response.done")[-1]
    assert done["response"]["usage"]["output_tokens"] == 3000
    held = expected_charge("5", "20", len("max_output_tokens") + 1, 20)  # the response's bound: its options, 20 out
    assert used(realtime_gateway, token_id) <= held
    [overrun] = realtime_gateway.books()["overruns"]
    assert overrun["channel"] == "ignores-limits"
    assert overrun["quota"] > 0
