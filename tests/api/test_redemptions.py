"""Redemption codes: created by admins, redeemed once, even by many requests at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import PASSWORD, error_of, session_client, with_root
from tests.support.deployment import Deployment


def test_codes_are_created_once_shown_and_redeemed_once(
    root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    created = root.post("/api/redemptions", json={"count": 3, "quota": 250_000})
    assert created.status_code == 201
    codes = created.json()["items"]
    assert len({code["code"] for code in codes}) == 3
    assert all(code["code"].startswith("rc-") for code in codes)
    listed = root.get("/api/redemptions").json()
    assert listed["total"] == 3
    assert codes[0]["code"] not in str(listed)
    alice = login_as("alice", balance_usd="1")
    redeemed = alice.post("/api/redeem", json={"code": codes[0]["code"]})
    assert redeemed.json() == {"quota": 250_000, "balance": 750_000}
    assert error_of(alice.post("/api/redeem", json={"code": codes[0]["code"]})) == (409, "already_redeemed")
    assert error_of(alice.post("/api/redeem", json={"code": "rc-nope"})) == (404, "not_found")
    assert root.get("/api/redemptions", params={"redeemed": True}).json()["total"] == 1
    assert error_of(root.post("/api/redemptions", json={"count": 0, "quota": 1}))[0] == 422


def test_twenty_concurrent_redeems_credit_once(deployment: Deployment) -> None:
    gw = with_root(deployment)
    gw.cli("user", "create", "alice", "--password", PASSWORD)
    gw.start()
    try:
        root = session_client(gw, "root", "root-password-for-tests")
        [code] = root.post("/api/redemptions", json={"count": 1, "quota": 1_000_000}).json()["items"]
        alice = session_client(gw, "alice", PASSWORD)
        # twenty connections of the one session, so that the requests really overlap
        clients = [
            httpx.Client(base_url=gw.url, cookies=alice.cookies, headers=alice.headers, timeout=30) for _ in range(20)
        ]
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda c: c.post("/api/redeem", json={"code": code["code"]}).status_code, clients))
        assert sorted(statuses) == [200] + [409] * 19
        assert gw.user("alice")["balance"] == 1_000_000
        assert gw.books()["balanced"] is True
        for client in [root, alice, *clients]:
            client.close()
    finally:
        gw.stop()
