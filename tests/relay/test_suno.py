"""The Suno task API through the gateway to the fake upstream's Suno relay."""

from __future__ import annotations

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.keys import balance, new_key, used

PRICES = {"suno_music": "0.1", "suno_lyrics": "0.01"}
UNITS = {"suno_music": 50_000, "suno_lyrics": 5_000}
START = 5_000_000  # 10 USD


def add_suno_channel(gw: Deployment, fake_upstream: str, key: str = "fake-suno") -> None:
    gw.cli("channel", "add", "--type", "suno", "--base-url", fake_upstream, "--key", key, "--models", ",".join(PRICES))
    for model, usd in PRICES.items():
        gw.cli("price", "set", model, "--per-call", usd)
    gw.runtime_poll()


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    add_suno_channel(gateway, fake_upstream)
    return gateway


def suno(gw: Deployment, key: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("kind", ["music", "lyrics"])
def test_each_submit_is_relayed_and_billed_at_its_per_call_price(gw: Deployment, fake_upstream: str, kind: str) -> None:
    key, token_id = new_key(gw)
    httpx.delete(fake_upstream + "/_fake/requests")
    with suno(gw, key) as client:
        answer = client.post(f"/suno/submit/{kind}", json={"prompt": "a song about tests"})
    assert answer.status_code == 200
    assert answer.json()["code"] == "success"
    assert answer.json()["data"].startswith("suno-")
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert (seen["path"], seen["authorization"]) == (f"/suno/submit/{kind}", "Bearer fake-suno")
    assert used(gw, token_id) == UNITS[f"suno_{kind}"]
    assert balance(gw) == START - UNITS[f"suno_{kind}"]
    assert gw.books()["balanced"]


def test_a_rejected_submit_is_passed_on_and_refunded(gateway: Deployment, fake_upstream: str) -> None:
    add_suno_channel(gateway, fake_upstream, key="fake-suno;reject")
    key, token_id = new_key(gateway)
    with suno(gateway, key) as client:
        answer = client.post("/suno/submit/music", json={"prompt": "x"})
    assert (answer.status_code, answer.json()["code"]) == (200, "error")
    assert used(gateway, token_id) == 0
    assert balance(gateway) == START
    assert gateway.books()["balanced"]


def test_errors_come_as_code_message_data(gw: Deployment) -> None:
    restricted, _ = new_key(gw, "--models", "suno_lyrics")
    with httpx.Client(base_url=gw.url) as client:
        missing = client.post("/suno/submit/music", json={"prompt": "x"})
    with suno(gw, restricted) as client:
        not_allowed = client.post("/suno/submit/music", json={"prompt": "x"})
        not_json = client.post("/suno/submit/lyrics", content=b"not json")
    assert (missing.status_code, missing.json()) == (401, missing.json() | {"code": "missing_api_key", "data": None})
    assert set(missing.json()) == {"code", "message", "data"}
    assert (not_allowed.status_code, not_allowed.json()["code"]) == (403, "model_not_allowed")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_json")


def test_only_the_owner_fetches_tasks_one_or_many_and_fetches_are_free(gw: Deployment) -> None:
    alice, alice_token = new_key(gw)
    bob, _ = new_key(gw, user="bob")
    with suno(gw, alice) as client:
        music = client.post("/suno/submit/music", json={"prompt": "x"}).json()["data"]
        lyrics = client.post("/suno/submit/lyrics", json={"prompt": "y"}).json()["data"]
    with suno(gw, bob) as client:
        theirs = client.post("/suno/submit/music", json={"prompt": "z"}).json()["data"]
        other = client.get(f"/suno/fetch/{music}")
    with suno(gw, alice) as client:
        one = client.get(f"/suno/fetch/{music}")
        many = client.post("/suno/fetch", json={"ids": [lyrics, theirs, "suno-unknown", music]})
        unknown = client.get("/suno/fetch/suno-unknown")
    assert (other.status_code, other.json()["code"], other.json()["data"]) == (404, "not_found", None)
    assert one.status_code == 200
    assert one.json()["code"] == "success"
    assert (one.json()["data"]["task_id"], one.json()["data"]["status"]) == (music, "SUCCESS")
    assert many.json()["code"] == "success"
    assert [task["task_id"] for task in many.json()["data"]] == [lyrics, music]
    assert [task["action"] for task in many.json()["data"]] == ["LYRICS", "MUSIC"]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert used(gw, alice_token) == UNITS["suno_music"] + UNITS["suno_lyrics"]
    assert gw.books()["balanced"]


def test_an_insufficient_balance_is_refused_in_the_suno_shape(gw: Deployment) -> None:
    key, token_id = new_key(gw, usd="0.05")  # suno_music costs 0.1
    with suno(gw, key) as client:
        refused = client.post("/suno/submit/music", json={"prompt": "x"})
    assert (refused.status_code, refused.json()["code"], refused.json()["data"]) == (429, "insufficient_balance", None)
    assert used(gw, token_id) == 0
