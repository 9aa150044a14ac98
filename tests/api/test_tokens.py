"""Token management through the API: create (one and a batch), list, search, update, and the relay noticing."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import error_of
from tests.support.deployment import Deployment

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def relay(gw: Deployment, key: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})


def relay_status_within(gw: Deployment, key: str, expected: int, seconds: float = 1.0) -> int:
    """The relay's answer for `key`, polled until it is `expected` or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while True:
        status = relay(gw, key).status_code
        if status == expected or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_create_returns_each_full_key_once(gateway: Deployment, login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    response = alice.post(
        "/api/tokens",
        json={
            "name": "prod",
            "quota_limit": 500_000,
            "models": ["gpt-4o-mini"],
            "allow_ips": ["127.0.0.1", "2001:db8::/48"],
            "expires_at": "2030-01-01T00:00:00Z",
            "rpm": 60,
            "reset": "monthly",
        },
    )
    assert response.status_code == 201
    [token] = response.json()["items"]
    assert token["key"].startswith("sk-")
    assert len(token["key"]) == 51
    assert token["hint"] == f"sk-{token['key'][3:7]}...{token['key'][-4:]}"
    assert token["quota_limit"] == 500_000
    assert token["unlimited"] is False
    assert token["allow_ips"] == ["127.0.0.1/32", "2001:db8::/48"]
    assert token["expires_at"] == "2030-01-01T00:00:00Z"
    assert token["reset"] == "monthly"
    assert relay(gateway, token["key"]).status_code == 200
    fetched = alice.get(f"/api/tokens/{token['id']}").json()
    assert "key" not in fetched
    assert token["key"] not in alice.get("/api/tokens").text


def test_batch_create_and_paginated_search(login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    created = alice.post("/api/tokens", json={"name": "team", "count": 25}).json()["items"]
    assert len(created) == 25
    assert len({token["key"] for token in created}) == 25
    assert created[0]["name"] == "team-1"
    assert created[0]["unlimited"] is True
    assert created[0]["quota_limit"] is None
    alice.post("/api/tokens", json={"name": "solo"})
    page = alice.get("/api/tokens", params={"page": 2, "per_page": 10}).json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (26, 2, 10, 10)
    assert alice.get("/api/tokens", params={"page": 3, "per_page": 10}).json()["items"][-1]["name"] == "solo"
    found = alice.get("/api/tokens", params={"q": "solo"}).json()
    assert [token["name"] for token in found["items"]] == ["solo"]
    alice.post(f"/api/tokens/{created[0]['id']}/disable")
    disabled = alice.get("/api/tokens", params={"status": "disabled"}).json()
    assert [token["id"] for token in disabled["items"]] == [created[0]["id"]]
    too_many = alice.post("/api/tokens", json={"count": 101})
    assert error_of(too_many) == (422, "validation_failed")
    assert "count" in too_many.json()["error"]["fields"]


def test_patch_changes_every_field_and_disable_reaches_the_relay_within_a_second(
    gateway: Deployment, login_as: Callable[..., httpx.Client]
) -> None:
    alice = login_as("alice")
    [token] = alice.post("/api/tokens", json={"name": "a"}).json()["items"]
    assert relay(gateway, token["key"]).status_code == 200
    changes = {
        "name": "renamed",
        "expires_at": "2031-06-01T12:00:00Z",
        "quota_limit": 1_000_000,
        "models": ["gpt-4o-mini", "gpt-4o"],
        "allow_ips": ["127.0.0.0/8"],
        "group": "default",
        "rpm": 100,
        "tpm": 10_000,
        "max_concurrent": 3,
        "reset": "daily",
    }
    patched = alice.patch(f"/api/tokens/{token['id']}", json=changes)
    assert patched.status_code == 200
    assert {name: patched.json()[name] for name in changes} == {
        **changes,
        "allow_ips": ["127.0.0.0/8"],
    }
    assert patched.json()["unlimited"] is False
    assert relay(gateway, token["key"]).status_code == 200
    cleared = alice.patch(f"/api/tokens/{token['id']}", json={"quota_limit": None, "rpm": None, "expires_at": None})
    assert (cleared.json()["unlimited"], cleared.json()["rpm"], cleared.json()["expires_at"]) == (True, None, None)
    alice.patch(f"/api/tokens/{token['id']}", json={"status": "disabled"})
    assert relay_status_within(gateway, token["key"], 401) == 401
    assert relay(gateway, token["key"]).json()["error"]["code"] == "token_disabled"
    alice.post(f"/api/tokens/{token['id']}/enable")
    assert relay_status_within(gateway, token["key"], 200) == 200
    alice.patch(f"/api/tokens/{token['id']}", json={"models": ["gpt-4o"]})
    assert relay_status_within(gateway, token["key"], 403) == 403
    bad = alice.patch(f"/api/tokens/{token['id']}", json={"allow_ips": ["10.0.0.300"]})
    assert error_of(bad) == (422, "invalid_value")
    assert "allow_ips" in bad.json()["error"]["fields"]


def test_rotate_and_delete_reach_the_relay(gateway: Deployment, login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    [token] = alice.post("/api/tokens", json={}).json()["items"]
    rotated = alice.post(f"/api/tokens/{token['id']}/rotate").json()
    assert rotated["key"] != token["key"]
    assert rotated["id"] == token["id"]
    assert relay_status_within(gateway, token["key"], 401) == 401
    assert relay(gateway, rotated["key"]).status_code == 200
    assert alice.delete(f"/api/tokens/{token['id']}").status_code == 204
    assert relay_status_within(gateway, rotated["key"], 401) == 401
    assert relay(gateway, rotated["key"]).json()["error"]["code"] == "invalid_api_key"
    assert error_of(alice.get(f"/api/tokens/{token['id']}")) == (404, "not_found")


def test_another_users_token_is_404_and_groups_are_guarded(
    login_as: Callable[..., httpx.Client], root: httpx.Client
) -> None:
    alice, bob = login_as("alice"), login_as("bob")
    [token] = alice.post("/api/tokens", json={}).json()["items"]
    for call in (
        lambda: bob.get(f"/api/tokens/{token['id']}"),
        lambda: bob.patch(f"/api/tokens/{token['id']}", json={"name": "mine"}),
        lambda: bob.post(f"/api/tokens/{token['id']}/disable"),
        lambda: bob.post(f"/api/tokens/{token['id']}/rotate"),
        lambda: bob.delete(f"/api/tokens/{token['id']}"),
    ):
        assert error_of(call()) == (404, "not_found")
    assert bob.get("/api/tokens").json()["total"] == 0
    assert alice.get(f"/api/tokens/{token['id']}").json()["status"] == "enabled"
    root.post("/api/groups", json={"name": "vip", "multiplier": "0.5"})
    refused = alice.post("/api/tokens", json={"group": "vip"})  # not selectable: a cheaper tier she was not given
    assert error_of(refused) == (403, "forbidden")
    assert "vip" in refused.json()["error"]["message"]
    assert error_of(alice.post("/api/tokens", json={"group": "nope"}))[0] == 422
    assert root.post("/api/tokens", json={"group": "vip"}).status_code == 201


def test_reset_times_follow_the_operator_zone(login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")  # the test gateway runs with the default RELAYGATE_TIMEZONE, UTC
    [daily] = alice.post("/api/tokens", json={"name": "d", "reset": "daily"}).json()["items"]
    [plain] = alice.post("/api/tokens", json={"name": "p"}).json()["items"]
    created = datetime.fromisoformat(daily["created_at"])
    next_midnight = datetime.combine(created.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert (daily["last_reset_at"], daily["next_reset_at"]) == (None, next_midnight.isoformat().replace("+00:00", "Z"))
    assert (plain["last_reset_at"], plain["next_reset_at"]) == (None, None)
    monthly = alice.patch(f"/api/tokens/{daily['id']}", json={"reset": "monthly"}).json()
    first_of_next_month = (created.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert datetime.fromisoformat(monthly["next_reset_at"]) == datetime.combine(
        first_of_next_month.date(), datetime.min.time(), tzinfo=UTC
    )
    listed = {token["id"]: token for token in alice.get("/api/tokens").json()["items"]}
    assert listed[daily["id"]]["next_reset_at"] == monthly["next_reset_at"]
    assert alice.get(f"/api/tokens/{plain['id']}").json()["next_reset_at"] is None
