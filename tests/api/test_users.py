"""Accounts through the API: admin CRUD, top-ups as ledger entries, the books, and who may do what."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import PASSWORD, error_of, session_client
from tests.support.deployment import Deployment

USER_FIELDS = {
    "id",
    "name",
    "role",
    "group",
    "status",
    "balance",
    "used_quota",
    "request_count",
    "created_at",
    "rpm",
    "tpm",
    "max_concurrent",
}


def test_admin_creates_lists_updates_and_deletes_users(gateway: Deployment, root: httpx.Client) -> None:
    created = root.post("/api/users", json={"name": "carol", "password": PASSWORD, "balance_usd": "2.5"})
    assert created.status_code == 201
    carol = created.json()
    assert set(carol) == USER_FIELDS
    assert (carol["role"], carol["group"], carol["balance"]) == ("user", "default", 1_250_000)
    assert error_of(root.post("/api/users", json={"name": "carol", "password": PASSWORD})) == (409, "conflict")
    root.post("/api/groups", json={"name": "vip", "multiplier": "0.8"})
    patched = root.patch(f"/api/users/{carol['id']}", json={"group": "vip", "status": "disabled"})
    assert (patched.json()["group"], patched.json()["status"]) == ("vip", "disabled")
    assert error_of(root.patch(f"/api/users/{carol['id']}", json={"group": "nope"}))[0] == 422
    listed = root.get("/api/users", params={"q": "car"}).json()
    assert (listed["total"], [user["name"] for user in listed["items"]]) == (1, ["carol"])
    assert root.get(f"/api/users/{carol['id']}").json()["name"] == "carol"
    assert root.delete(f"/api/users/{carol['id']}").status_code == 204
    assert error_of(root.get(f"/api/users/{carol['id']}")) == (404, "not_found")
    assert "carol" not in {user["name"] for user in root.get("/api/users").json()["items"]}


def test_deleting_a_user_stops_their_tokens_at_once(gateway: Deployment, root: httpx.Client) -> None:
    carol = root.post("/api/users", json={"name": "carol", "password": PASSWORD, "balance_usd": "1"}).json()
    key = gateway.cli("token", "create", "--user", "carol")[0]["key"]
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers=headers).status_code == 200
    root.delete(f"/api/users/{carol['id']}")
    gateway.runtime_poll()
    assert httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers=headers).status_code == 401


def test_topups_are_ledger_entries_and_the_books_balance(gateway: Deployment, root: httpx.Client) -> None:
    carol = root.post("/api/users", json={"name": "carol", "password": PASSWORD, "balance_usd": "1"}).json()
    assert (
        root.post(f"/api/users/{carol['id']}/topup", json={"usd": "0.5", "reason": "promo"}).json()["balance"]
        == 750_000
    )
    assert root.post(f"/api/users/{carol['id']}/topup", json={"quota": -250_000}).json()["balance"] == 500_000
    too_much = root.post(f"/api/users/{carol['id']}/topup", json={"quota": -600_000})
    assert error_of(too_much) == (409, "conflict")
    both = root.post(f"/api/users/{carol['id']}/topup", json={"quota": 1, "usd": "1"})
    assert error_of(both) == (422, "validation_failed")
    assert error_of(root.post("/api/users/9999/topup", json={"quota": 5})) == (404, "not_found")
    key = gateway.cli("token", "create", "--user", "carol")[0]["key"]
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"})
    gateway.flush()
    books = root.get("/api/books").json()
    assert books == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}
    kinds = gateway.db(_ledger_kinds(carol["id"]))
    assert kinds == [("initial", 500_000), ("topup", 250_000), ("adjustment", -250_000)]


def _ledger_kinds(user_id: int) -> Callable[..., object]:
    from sqlalchemy import select

    from relaygate.store.schema import ledger_entries

    async def read(conn: object) -> list[tuple[str, int]]:
        query = select(ledger_entries.c.kind, ledger_entries.c.amount).where(ledger_entries.c.user_id == user_id)
        rows = (await conn.execute(query.order_by(ledger_entries.c.id))).all()  # type: ignore[attr-defined]
        return [(row.kind, row.amount) for row in rows]

    return read


def test_a_user_gets_403_on_admin_routes(login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice")
    for method, path in (
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/users/1"),
        ("POST", "/api/users/1/topup"),
        ("GET", "/api/books"),
        ("GET", "/api/channels"),
        ("POST", "/api/channels/1/test"),
        ("PUT", "/api/prices/gpt-4o"),
        ("POST", "/api/groups"),
        ("POST", "/api/redemptions"),
        ("GET", "/api/audit"),
    ):
        response = alice.request(method, path, json={})
        assert error_of(response) == (403, "forbidden"), (method, path)
    assert alice.get("/api/prices").status_code == 200
    assert alice.get("/api/groups").status_code == 200


def test_only_root_manages_admins(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    admin = login_as("ada", role="admin")
    other_admin = root.post("/api/users", json={"name": "adam", "password": PASSWORD, "role": "admin"}).json()
    user = admin.post("/api/users", json={"name": "uma", "password": PASSWORD}).json()
    assert error_of(admin.post("/api/users", json={"name": "x1", "password": PASSWORD, "role": "admin"})) == (
        403,
        "forbidden",
    )
    assert error_of(admin.patch(f"/api/users/{user['id']}", json={"role": "admin"})) == (403, "forbidden")
    assert error_of(admin.patch(f"/api/users/{other_admin['id']}", json={"status": "disabled"})) == (403, "forbidden")
    assert error_of(admin.delete(f"/api/users/{other_admin['id']}")) == (403, "forbidden")
    assert admin.patch(f"/api/users/{user['id']}", json={"status": "disabled"}).status_code == 200
    promoted = root.patch(f"/api/users/{user['id']}", json={"role": "admin", "status": "enabled"})
    assert promoted.json()["role"] == "admin"
    me = root.get("/api/me").json()
    assert error_of(root.delete(f"/api/users/{me['id']}")) == (409, "conflict")
    assert error_of(root.patch(f"/api/users/{me['id']}", json={"role": "user"})) == (409, "conflict")
    uma = session_client(gateway, "uma", PASSWORD)
    assert uma.get("/api/users").status_code == 200
    uma.close()


def test_me_shows_the_own_account(login_as: Callable[..., httpx.Client]) -> None:
    alice = login_as("alice", balance_usd="3")
    me = alice.get("/api/me").json()
    assert set(me) == USER_FIELDS | {"csrf_token"}
    assert (me["name"], me["role"], me["group"], me["balance"], me["used_quota"]) == (
        "alice",
        "user",
        "default",
        1_500_000,
        0,
    )
