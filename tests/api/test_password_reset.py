"""Password recovery: an admin sets a user's password through the API, the operator through the CLI."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import PASSWORD, ROOT_PASSWORD, error_of, session_client
from tests.support.deployment import Deployment


def login(gw: Deployment, name: str, password: str) -> int:
    return httpx.post(gw.url + "/api/auth/login", json={"username": name, "password": password}).status_code


def test_an_admin_sets_a_users_password_and_the_users_sessions_end(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    alice = login_as("alice")
    alice_id = alice.get("/api/me").json()["id"]
    assert root.post(f"/api/users/{alice_id}/password", json={"password": "reset-by-admin-1"}).status_code == 204
    assert error_of(alice.get("/api/me")) == (401, "unauthenticated")
    assert login(gateway, "alice", PASSWORD) == 401
    assert login(gateway, "alice", "reset-by-admin-1") == 200
    assert error_of(root.post(f"/api/users/{alice_id}/password", json={"password": "short"})) == (
        422,
        "validation_failed",
    )
    assert error_of(root.post("/api/users/9999/password", json={"password": "long-enough-1"})) == (404, "not_found")
    audit = root.get("/api/audit").json()["items"]
    assert any(entry["action"] == "user.password" for entry in audit)
    assert "reset-by-admin-1" not in str(audit)


def test_only_root_sets_an_administrators_password(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    admin = login_as("ops", role="admin")
    login_as("other-admin", role="admin")
    other_id = next(user["id"] for user in root.get("/api/users").json()["items"] if user["name"] == "other-admin")
    refused = admin.post(f"/api/users/{other_id}/password", json={"password": "taken-over-1"})
    assert error_of(refused) == (403, "forbidden")
    assert root.post(f"/api/users/{other_id}/password", json={"password": "by-root-123"}).status_code == 204
    assert login(gateway, "other-admin", "by-root-123") == 200


def test_the_cli_sets_roots_password_when_the_printed_one_is_lost(gateway: Deployment) -> None:
    before = session_client(gateway, "root", ROOT_PASSWORD)
    set_to = gateway.cli("user", "passwd", "root", "--password", "found-my-way-back")[0]
    assert set_to["name"] == "root"
    assert "password" not in set_to
    assert error_of(before.get("/api/me")) == (401, "unauthenticated")
    before.close()
    assert login(gateway, "root", ROOT_PASSWORD) == 401
    assert login(gateway, "root", "found-my-way-back") == 200
    generated = gateway.cli("user", "passwd", "root")[0]["password"]
    assert login(gateway, "root", generated) == 200
    assert "no user" in gateway.cli_fails("user", "passwd", "nobody", "--password", "whatever-123")
