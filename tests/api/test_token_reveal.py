"""`POST /api/tokens/{id}/reveal`: a new or rotated key is revealed once, by its owner, within
RELAYGATE_KEY_REVEAL_HOURS; then 410 key_not_available and only the hash is left (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.settings import load_settings
from relaygate.store.schema import tokens
from relaygate.tokens import sealing
from tests.api.conftest import PASSWORD, ROOT_PASSWORD, error_of, session_client, with_root
from tests.support.deployment import Deployment

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.fixture
def gw(gateway_on_each_backend: Deployment) -> Deployment:
    return with_root(gateway_on_each_backend)


@pytest.fixture
def user_client(gw: Deployment, clients: list[httpx.Client]) -> Callable[[str], httpx.Client]:
    def make(name: str) -> httpx.Client:
        gw.cli("user", "create", name, "--password", PASSWORD, "--balance-usd", "10")
        client = session_client(gw, name, PASSWORD)
        clients.append(client)
        return client

    return make


@pytest.fixture
def admin(gw: Deployment, clients: list[httpx.Client]) -> httpx.Client:
    client = session_client(gw, "root", ROOT_PASSWORD)
    clients.append(client)
    return client


def sealed_columns(gw: Deployment, token_id: int) -> tuple[Any, Any]:
    async def read(conn: AsyncConnection) -> tuple[Any, Any]:
        row = (
            await conn.execute(select(tokens.c.sealed_key, tokens.c.sealed_until).where(tokens.c.id == token_id))
        ).one()
        return row.sealed_key, row.sealed_until

    return gw.db(read)


def create_one(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/api/tokens", json={"name": "ci"})
    assert response.status_code == 201, response.text
    [token] = response.json()["items"]
    return dict(token)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_the_owner_reveals_a_new_key_once_then_only_the_hash_is_left(
    gw: Deployment, user_client: Callable[[str], httpx.Client], admin: httpx.Client
) -> None:
    alice = user_client("alice")
    token = create_one(alice)
    sealed, _ = sealed_columns(gw, token["id"])
    assert sealed is not None
    assert token["key"][3:] not in sealed
    [listed] = alice.get("/api/tokens").json()["items"]
    assert listed["revealable"] is True
    assert "key" not in listed

    revealed = alice.post(f"/api/tokens/{token['id']}/reveal")
    assert revealed.status_code == 200
    assert revealed.headers["cache-control"] == "no-store"
    assert revealed.json() == {"id": token["id"], "hint": token["hint"], "key": token["key"]}
    assert sealed_columns(gw, token["id"]) == (None, None)

    again = alice.post(f"/api/tokens/{token['id']}/reveal")
    assert error_of(again) == (410, "key_not_available")
    assert "Rotate" in again.json()["error"]["message"]
    assert alice.get("/api/tokens").json()["items"][0]["revealable"] is False
    response = httpx.post(
        gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {token['key']}"}
    )
    assert response.status_code == 200  # the hash still authenticates it

    [entry] = admin.get("/api/audit", params={"action": "token.reveal"}).json()["items"]
    assert (entry["actor_name"], entry["target"]) == ("alice", f"token:{token['id']}")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_only_the_owner_may_reveal_and_concurrent_reveals_hand_out_one_key(
    gw: Deployment, user_client: Callable[[str], httpx.Client], admin: httpx.Client
) -> None:
    alice, bob = user_client("alice"), user_client("bob")
    token = create_one(alice)
    assert error_of(bob.post(f"/api/tokens/{token['id']}/reveal"))[0] == 404
    assert error_of(admin.post(f"/api/tokens/{token['id']}/reveal"))[0] == 404  # an admin is not the owner

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: alice.post(f"/api/tokens/{token['id']}/reveal").status_code, range(4)))
    assert statuses == [200, 410, 410, 410]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_rotated_key_is_sealed_again_and_a_deleted_token_loses_its_seal(
    gw: Deployment, user_client: Callable[[str], httpx.Client]
) -> None:
    alice = user_client("alice")
    token = create_one(alice)
    assert alice.post(f"/api/tokens/{token['id']}/reveal").status_code == 200
    rotated = alice.post(f"/api/tokens/{token['id']}/rotate").json()
    assert rotated["revealable"] is True
    assert alice.post(f"/api/tokens/{token['id']}/reveal").json()["key"] == rotated["key"] != token["key"]

    other = create_one(alice)
    assert alice.delete(f"/api/tokens/{other['id']}").status_code == 204
    assert sealed_columns(gw, other["id"]) == (None, None)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_after_the_reveal_hours_the_key_is_gone(
    gw: Deployment, user_client: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = user_client("alice")
    token = create_one(alice)
    _, until = sealed_columns(gw, token["id"])
    assert until - time.time() == pytest.approx(24 * 3600, abs=60)  # the default, RELAYGATE_KEY_REVEAL_HOURS=24

    later = int(time.time()) + 24 * 3600 + 1
    monkeypatch.setattr(sealing, "now", lambda: later)
    assert alice.get("/api/tokens").json()["items"][0]["revealable"] is False
    assert error_of(alice.post(f"/api/tokens/{token['id']}/reveal")) == (410, "key_not_available")
    assert sealed_columns(gw, token["id"])[0] is not None  # until the sweep
    assert gw.server is not None
    assert gw.server.call(gw.runtime.seal_sweeper.sweep_once()) == 1
    assert sealed_columns(gw, token["id"]) == (None, None)


@pytest.fixture
def never_sealing(tmp_path: Path, fake_upstream: str) -> Iterator[Deployment]:
    gw = Deployment(tmp_path / "data", key_reveal_hours=0)
    gw.start()
    yield with_root(gw)
    gw.stop()


def test_with_zero_reveal_hours_no_key_is_sealed(never_sealing: Deployment, clients: list[httpx.Client]) -> None:
    never_sealing.cli("user", "create", "alice", "--password", PASSWORD)
    alice = session_client(never_sealing, "alice", PASSWORD)
    clients.append(alice)
    token = create_one(alice)
    assert token["revealable"] is False
    assert sealed_columns(never_sealing, token["id"]) == (None, None)
    assert error_of(alice.post(f"/api/tokens/{token['id']}/reveal")) == (410, "key_not_available")


@pytest.mark.parametrize("hours", ["-1", "9000", "a day"])
def test_a_bad_reveal_hours_setting_is_refused(tmp_path: Path, hours: str) -> None:
    with pytest.raises(ValidationError, match="key_reveal_hours"):
        load_settings(data_dir=tmp_path, key_reveal_hours=hours)
