"""Logging in and out, the session cookie, CSRF, throttling, registration modes and access keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from relaygate.accounts.throttle import LoginThrottle
from tests.api.conftest import PASSWORD, ROOT_PASSWORD, error_of, key_client, session_client, with_root
from tests.support.deployment import Deployment

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def test_login_sets_an_httponly_samesite_cookie_and_returns_the_user(gateway: Deployment) -> None:
    response = httpx.post(gateway.url + "/api/auth/login", json={"username": "root", "password": ROOT_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["name"] == "root"
    assert body["user"]["role"] == "root"
    assert "password_hash" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("relaygate_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    me = httpx.get(gateway.url + "/api/me", cookies=response.cookies)
    assert me.json()["name"] == "root"
    assert me.json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_or_unknown_user_is_401_invalid_credentials(gateway: Deployment) -> None:
    for username in ("root", "nobody"):
        response = httpx.post(gateway.url + "/api/auth/login", json={"username": username, "password": "wrong-pass"})
        assert error_of(response) == (401, "invalid_credentials")


def test_a_write_with_the_cookie_but_without_the_csrf_token_is_403(root: httpx.Client) -> None:
    token = root.headers.pop("X-CSRF-Token")
    response = root.post("/api/access-keys", json={"name": "script"})
    assert error_of(response) == (403, "csrf_failed")
    response = root.post("/api/access-keys", json={"name": "script"}, headers={"X-CSRF-Token": "forged"})
    assert error_of(response) == (403, "csrf_failed")
    assert root.get("/api/me").status_code == 200  # reads need no token
    response = root.post("/api/access-keys", json={"name": "script"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 201


def test_logout_ends_the_session_at_once(gateway: Deployment) -> None:
    with closing(session_client(gateway, "root", ROOT_PASSWORD)) as client:
        cookie = dict(client.cookies)
        assert client.post("/api/auth/logout").status_code == 204
        assert error_of(httpx.get(gateway.url + "/api/me", cookies=cookie)) == (401, "unauthenticated")


def test_no_credential_is_401(gateway: Deployment) -> None:
    assert error_of(httpx.get(gateway.url + "/api/me")) == (401, "unauthenticated")


def test_disabling_a_user_ends_their_session_at_once(
    gateway: Deployment, login_as: Callable[..., httpx.Client]
) -> None:
    alice = login_as("alice")
    assert alice.get("/api/me").status_code == 200
    gateway.cli("user", "disable", "alice")
    assert error_of(alice.get("/api/me")) == (403, "account_disabled")


def test_repeated_failed_logins_for_a_user_get_429_with_retry_after(gateway: Deployment) -> None:
    gateway.cli("user", "create", "alice", "--password", PASSWORD)
    url = gateway.url + "/api/auth/login"
    for _ in range(5):
        assert httpx.post(url, json={"username": "alice", "password": "wrong-pass"}).status_code == 401
    blocked = httpx.post(url, json={"username": "alice", "password": PASSWORD})
    assert error_of(blocked) == (429, "too_many_attempts")
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    # other accounts are not locked out by alice's failures
    assert httpx.post(url, json={"username": "root", "password": ROOT_PASSWORD}).status_code == 200


def test_repeated_failed_logins_from_one_address_get_429(gateway: Deployment) -> None:
    # the production limit is 20 per address; 4 keeps the test quick (each failure costs an argon2 check)
    gateway.runtime.login_throttle = LoginThrottle(per_ip=4)
    url = gateway.url + "/api/auth/login"
    for index in range(4):
        assert httpx.post(url, json={"username": f"guess{index}", "password": "wrong-pass"}).status_code == 401
    blocked = httpx.post(url, json={"username": "root", "password": ROOT_PASSWORD})
    assert error_of(blocked) == (429, "too_many_attempts")
    assert int(blocked.headers["Retry-After"]) > 0


def test_registration_is_closed_by_default(gateway: Deployment) -> None:
    response = httpx.post(gateway.url + "/api/auth/register", json={"username": "eve", "password": PASSWORD})
    assert error_of(response) == (403, "registration_closed")


@pytest.fixture
def registering(tmp_path: Path) -> Iterator[Callable[[str], Deployment]]:
    started: list[Deployment] = []

    def start(mode: str) -> Deployment:
        gw = with_root(Deployment(tmp_path / mode, registration=mode))
        gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


def test_open_registration_creates_a_user_and_logs_them_in(registering: Callable[[str], Deployment]) -> None:
    gw = registering("open")
    with httpx.Client(base_url=gw.url) as client:
        response = client.post("/api/auth/register", json={"username": "eve", "password": PASSWORD})
        assert response.status_code == 201
        assert response.json()["user"]["role"] == "user"
        assert client.get("/api/me").json()["name"] == "eve"
        again = client.post("/api/auth/register", json={"username": "eve", "password": PASSWORD})
        assert error_of(again) == (409, "conflict")
        short = client.post("/api/auth/register", json={"username": "bob", "password": "short"})
        assert error_of(short) == (422, "invalid_value")
        assert "password" in short.json()["error"]["fields"]


def test_invite_registration_needs_an_unused_code(registering: Callable[[str], Deployment]) -> None:
    gw = registering("invite")
    with closing(session_client(gw, "root", ROOT_PASSWORD)) as root:
        [code] = root.post("/api/redemptions", json={"count": 1, "quota": 1000}).json()["items"]
    url = gw.url + "/api/auth/register"
    missing = httpx.post(url, json={"username": "eve", "password": PASSWORD})
    assert error_of(missing) == (422, "invalid_value")
    assert "invite_code" in missing.json()["error"]["fields"]
    joined = httpx.post(url, json={"username": "eve", "password": PASSWORD, "invite_code": code["code"]})
    assert joined.status_code == 201
    assert joined.json()["user"]["balance"] == 1000
    reused = httpx.post(url, json={"username": "mallory", "password": PASSWORD, "invite_code": code["code"]})
    assert error_of(reused) == (409, "already_redeemed")
    assert (
        error_of(httpx.post(gw.url + "/api/auth/login", json={"username": "mallory", "password": PASSWORD}))[0] == 401
    )


def test_access_keys_are_shown_once_and_work_as_bearer(gateway: Deployment, root: httpx.Client) -> None:
    created = root.post("/api/access-keys", json={"name": "ci"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("ak-")
    assert len(key) == 51
    assert key[3:].isalnum()
    listed = root.get("/api/access-keys").json()["items"]
    assert [item["name"] for item in listed] == ["ci"]
    assert "key" not in listed[0]
    assert key not in root.get("/api/access-keys").text
    with key_client(gateway, key) as script:
        assert script.get("/api/me").json()["name"] == "root"
        # no CSRF token needed: the key is not sent by browsers on their own
        assert script.post("/api/access-keys", json={"name": "other"}).status_code == 201
        assert root.delete(f"/api/access-keys/{created.json()['id']}").status_code == 204
        assert error_of(script.get("/api/me")) == (401, "invalid_access_key")


def test_a_relay_token_is_refused_on_the_api_and_an_access_key_on_the_relay(
    gateway: Deployment, login_as: Callable[..., httpx.Client]
) -> None:
    alice = login_as("alice")
    relay_key = gateway.cli("token", "create", "--user", "alice")[0]["key"]
    access_key = alice.post("/api/access-keys", json={}).json()["key"]
    with key_client(gateway, relay_key) as wrong:
        response = wrong.get("/api/me")
        assert error_of(response) == (401, "invalid_access_key")
        assert "sk-" in response.json()["error"]["message"]
        assert relay_key[3:] not in response.text
    relayed = httpx.post(
        gateway.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {access_key}"}
    )
    assert relayed.status_code == 401
    assert relayed.json()["error"]["code"] == "invalid_api_key"
    assert access_key[3:] not in relayed.text
    ok = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {relay_key}"})
    assert ok.status_code == 200


def test_a_new_password_ends_other_sessions(gateway: Deployment, login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    other = session_client(gateway, "alice", PASSWORD)
    wrong = alice.post("/api/me/password", json={"current_password": "nope-nope", "new_password": "new-password-1"})
    assert error_of(wrong) == (422, "invalid_value")
    assert "current_password" in wrong.json()["error"]["fields"]
    changed = alice.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "new-password-1"})
    assert changed.status_code == 204
    assert alice.get("/api/me").status_code == 200
    assert error_of(other.get("/api/me")) == (401, "unauthenticated")
    other.close()
    session_client(gateway, "alice", "new-password-1").close()
