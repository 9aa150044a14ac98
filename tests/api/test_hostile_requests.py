"""The management API against hostile and careless callers: huge integers, numeric times, deep
JSON, wrong methods, past expiries, concurrent password guessing, and admins reaching for root."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx

from tests.api.conftest import PASSWORD, ROOT_PASSWORD, error_of, session_client, with_root
from tests.support.deployment import Deployment

HUGE = 2**63


HUGE_REQUESTS: list[tuple[str, str, object]] = [
    ("GET", f"/api/tokens/{HUGE}", None),
    ("PATCH", f"/api/tokens/{HUGE}", {"name": "x"}),
    ("GET", f"/api/users/{HUGE}", None),
    ("POST", f"/api/channels/{HUGE}/enable", None),
    ("DELETE", f"/api/access-keys/{HUGE}", None),
    ("GET", f"/api/tokens?page={HUGE}", None),
    ("GET", f"/api/usage?token_id={HUGE}", None),
    ("GET", f"/api/usage.csv?user_id={HUGE}", None),  # was a 200 whose CSV broke off after its header
    ("GET", f"/api/audit?user_id={HUGE}", None),
    ("POST", "/api/tokens", {"quota_limit": HUGE}),
    ("POST", "/api/tokens", {"rpm": 2**31}),
    ("POST", "/api/users/1/topup", {"quota": HUGE}),
    ("POST", "/api/users/1/topup", {"quota": -HUGE}),
    ("POST", "/api/redemptions", {"quota": HUGE}),
    (
        "POST",
        "/api/channels",
        {"type": "openai", "base_url": "http://x", "key": "k", "models": ["m"], "priority": HUGE},
    ),
]


def test_integers_the_database_cannot_hold_are_a_422_naming_the_field(root: httpx.Client) -> None:
    answers = {}
    for method, path, body in HUGE_REQUESTS:
        response = root.request(method, path, content=None if body is None else json.dumps(body))
        answers[f"{method} {path}"] = (
            response.status_code,
            response.json()["error"]["code"],
            bool(response.json()["error"]["fields"]),
        )
    assert answers == dict.fromkeys(answers, (422, "validation_failed", True))


def test_a_topup_past_the_largest_balance_is_refused_and_the_balance_stays_whole(root: httpx.Client) -> None:
    user = root.post("/api/users", json={"name": "carol", "password": PASSWORD}).json()
    assert root.post(f"/api/users/{user['id']}/topup", json={"quota": 2**63 - 1}).status_code == 200
    again = root.post(f"/api/users/{user['id']}/topup", json={"quota": 1})
    assert error_of(again) == (409, "conflict")
    balance = root.get(f"/api/users/{user['id']}").json()["balance"]
    assert (type(balance), balance) == (int, 2**63 - 1)


def test_a_time_filter_must_be_iso_8601_not_a_number(root: httpx.Client) -> None:
    for value, path in itertools.product(
        ["0.5", "1700000000", "-1"], ["/api/usage", "/api/usage.csv", "/api/usage/summary"]
    ):
        response = root.get(path, params={"to": value})
        assert error_of(response) == (422, "validation_failed")
        assert "to" in response.json()["error"]["fields"]


def test_deep_json_is_a_400_before_the_framework_parses_it(root: httpx.Client) -> None:
    deep = '{"name": ' + "[" * 5000 + "]" * 5000 + "}"
    assert error_of(root.post("/api/tokens", content=deep)) == (400, "json_too_deep")
    shallow = '{"name": "t", "models": [' + "[" * 70 + "]" * 70 + "]}"
    assert error_of(root.post("/api/tokens", content=shallow)) == (400, "json_too_deep")


def test_a_405_says_which_methods_are_allowed(root: httpx.Client) -> None:
    for method, path, allowed in [
        ("PUT", "/api/tokens", {"GET", "POST"}),
        ("DELETE", "/api/users/1/topup", {"POST"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("GET", "/v1/chat/completions", {"POST"}),
    ]:
        response = root.request(method, path)
        assert response.status_code == 405
        assert {part.strip() for part in response.headers["Allow"].split(",")} == allowed, path


def test_a_token_that_would_be_born_expired_is_refused_in_the_api_and_the_cli(
    gateway: Deployment, root: httpx.Client
) -> None:
    response = root.post("/api/tokens", json={"name": "t", "expires_at": "2001-01-01T00:00:00Z"})
    assert error_of(response) == (422, "invalid_value")
    assert "expires_at" in response.json()["error"]["fields"]
    assert root.get("/api/tokens").json()["total"] == 0
    token = root.post("/api/tokens", json={"name": "t"}).json()["items"][0]
    patched = root.patch(f"/api/tokens/{token['id']}", json={"expires_at": "2001-01-01T00:00:00Z"})
    assert error_of(patched) == (422, "invalid_value")
    output = gateway.cli_fails("token", "create", "--user", "root", "--expires", "2001-01-01T00:00:00Z")
    assert "--expires" in output
    assert "is in the past" in output


def test_concurrent_wrong_logins_cannot_overrun_the_limit(gateway: Deployment) -> None:
    gateway.cli("user", "create", "alice", "--password", PASSWORD)

    async def guess_all() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
            wrong = {"username": "alice", "password": "wrong-password"}
            responses = await asyncio.gather(*(client.post("/api/auth/login", json=wrong) for _ in range(40)))
        return [response.status_code for response in responses]

    statuses = asyncio.run(guess_all())
    assert statuses.count(401) == 5  # password checks made; the rest refused before any check
    assert statuses.count(429) == 35


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(tmp_path: Path, fake_upstream: str) -> None:
    gw = with_root(Deployment(tmp_path / "data", trusted_proxies="127.0.0.1/32"))
    gw.start()
    try:
        gw.cli("user", "create", "alice", "--password", PASSWORD)
        url = gw.url + "/api/auth/login"
        attacker = {"X-Forwarded-For": "203.0.113.9"}
        for _ in range(6):
            httpx.post(url, json={"username": "alice", "password": "wrong-password"}, headers=attacker)
        blocked = httpx.post(url, json={"username": "alice", "password": PASSWORD}, headers=attacker)
        assert error_of(blocked) == (429, "too_many_attempts")
        owner = httpx.post(
            url, json={"username": "alice", "password": PASSWORD}, headers={"X-Forwarded-For": "10.1.2.3"}
        )
        assert owner.status_code == 200
    finally:
        gw.stop()


def test_only_root_changes_the_balance_of_root_and_admins(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    admin = login_as("admin1", role="admin")
    other = root.post("/api/users", json={"name": "admin2", "password": PASSWORD, "role": "admin"}).json()
    user = root.post("/api/users", json={"name": "dave", "password": PASSWORD}).json()
    users = {row["name"]: row["id"] for row in root.get("/api/users").json()["items"]}
    for target in (users["root"], other["id"], users["admin1"]):
        for amount in (-1, 1_000_000):
            refused = admin.post(f"/api/users/{target}/topup", json={"quota": amount})
            assert error_of(refused) == (403, "forbidden")
    for target in (users["root"], other["id"]):
        for change in ({"status": "disabled"}, {"role": "user"}, {"rpm": 1}):
            assert error_of(admin.patch(f"/api/users/{target}", json=change)) == (403, "forbidden")
    root_row = root.get(f"/api/users/{users['root']}").json()
    assert root_row["balance"] == 0
    assert admin.post(f"/api/users/{user['id']}/topup", json={"quota": 5}).status_code == 200
    assert root.post(f"/api/users/{other['id']}/topup", json={"quota": 5}).status_code == 200
    with closing(session_client(gateway, "root", ROOT_PASSWORD)) as again:
        assert again.get("/api/me").json()["balance"] == 0
