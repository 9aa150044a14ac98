"""Prices and groups through the API: everyone reads, admins write, the relay charges the new numbers."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from relaygate.billing.default_prices import default_price_table
from tests.api.conftest import error_of
from tests.support.deployment import Deployment


def test_prices_crud(root: httpx.Client, login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    put = root.put("/api/prices/models/gemini-x", json={"input": 1.25, "output": "10", "cached_input": "0.3125"})
    assert put.status_code == 200
    assert put.json() == {
        "model": "models/gemini-x",
        "input": "1.25",
        "cached_input": "0.3125",
        "output": "10",
        "per_call": None,
        "audio_input": None,
        "audio_output": None,
        "cache_write_5m": None,
        "cache_write_1h": None,
        "max_output_tokens": None,
    }
    limited = root.put("/api/prices/claude-x", json={"input": "3", "output": "15", "max_output_tokens": 64000})
    assert limited.json()["max_output_tokens"] == 64000
    assert error_of(root.put("/api/prices/claude-x", json={"input": "3", "max_output_tokens": 0}))[0] == 422
    audio = root.put("/api/prices/gpt-realtime", json={"input": "4", "output": "16", "audio_input": "32"}).json()
    assert (audio["audio_input"], audio["audio_output"]) == ("32", None)
    cache = root.put("/api/prices/claude-c", json={"input": "3", "cache_write_5m": "3.75", "cache_write_1h": 6}).json()
    assert (cache["cache_write_5m"], cache["cache_write_1h"]) == ("3.75", "6")
    assert root.put("/api/prices/mj_imagine", json={"per_call": "0.05"}).json()["per_call"] == "0.05"
    listed = {price["model"]: price for price in alice.get("/api/prices").json()["items"]}
    assert listed["models/gemini-x"]["input"] == "1.25"
    assert error_of(root.put("/api/prices/x", json={})) == (422, "invalid_value")
    assert error_of(root.put("/api/prices/x", json={"input": -1}))[0] == 422
    assert error_of(root.put("/api/prices/x", json={"input": "abc"}))[0] == 422
    assert root.delete("/api/prices/models/gemini-x").status_code == 204
    assert error_of(root.delete("/api/prices/models/gemini-x")) == (404, "not_found")


def test_groups_crud(gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    created = root.post("/api/groups", json={"name": "vip", "multiplier": "0.5", "description": "friends"})
    assert created.status_code == 201
    assert created.json() == {
        "name": "vip",
        "multiplier": "0.5",
        "description": "friends",
        "selectable": False,
        "sort_order": 0,
    }
    assert error_of(root.post("/api/groups", json={"name": "vip"})) == (409, "conflict")
    assert root.patch("/api/groups/vip", json={"multiplier": "0.75"}).json()["multiplier"] == "0.75"
    names = [group["name"] for group in alice.get("/api/groups").json()["items"]]
    assert names == ["default", "vip"]
    assert error_of(root.delete("/api/groups/default")) == (409, "conflict")
    me = alice.get("/api/me").json()
    root.patch(f"/api/users/{me['id']}", json={"group": "vip"})
    assert error_of(root.delete("/api/groups/vip")) == (409, "conflict")
    root.patch(f"/api/users/{me['id']}", json={"group": "default"})
    assert root.delete("/api/groups/vip").status_code == 204
    assert error_of(root.patch("/api/groups/vip", json={"multiplier": "1"})) == (404, "not_found")


def test_a_price_change_is_charged_by_the_relay(gateway: Deployment, root: httpx.Client) -> None:
    gateway.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    key = gateway.cli("token", "create", "--user", "alice")[0]["key"]
    root.put("/api/prices/gpt-4o-mini", json={"input": "1000", "output": "1000"})
    gateway.runtime_poll()
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"})
    gateway.flush()
    # fake upstream: prompt 1 word + 3 + 3 priming = 7 tokens, reply cut to 5; at $1000 per 1M both ways
    assert gateway.user("alice")["used_quota"] == (7 + 5) * 1000 * 500_000 // 1_000_000


def test_an_admin_loads_the_default_prices_without_overwriting_and_it_is_audited(
    root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    as_of, table = default_price_table()
    mine = next(iter(table))
    root.put(f"/api/prices/{mine}", json={"input": "123", "output": "456"})
    priced = {price["model"] for price in root.get("/api/prices").json()["items"]}
    loaded = root.post("/api/prices/load-defaults")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["as_of"] == as_of
    assert {price["model"] for price in loaded.json()["items"]} == set(table) - priced
    prices = {price["model"]: price for price in root.get("/api/prices").json()["items"]}
    assert prices[mine]["input"] == "123"  # an operator's own price stays
    assert root.post("/api/prices/load-defaults", json={}).json()["items"] == []
    replaced = root.post("/api/prices/load-defaults", json={"replace": True}).json()["items"]
    assert len(replaced) == len(table)
    assert {price["model"]: price for price in root.get("/api/prices").json()["items"]}[mine]["input"] != "123"
    actions = [entry for entry in root.get("/api/audit").json()["items"] if entry["action"] == "price.load_defaults"]
    assert len(actions) == 3
    assert error_of(login_as("alice").post("/api/prices/load-defaults")) == (403, "forbidden")
    assert error_of(root.post("/api/prices/load-defaults", json={"replace": "sometimes"}))[0] == 422


def test_a_model_priced_a_moment_ago_is_no_longer_listed_as_unpriced(root: httpx.Client) -> None:
    assert "unpriced-model" in root.get("/api/prices").json()["unpriced_models"]
    assert root.put("/api/prices/unpriced-model", json={"input": "1"}).status_code == 200
    assert "unpriced-model" not in root.get("/api/prices").json()["unpriced_models"]  # before any poll
