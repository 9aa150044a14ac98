"""Many simultaneous requests against a quota that fits only some: never more served, books exact."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.support.deployment import Deployment

PER_CALL_USD = "0.001"  # 500 quota units, so the estimate is the real charge
PER_CALL_UNITS = 500
REQUESTS = 160


async def fire(url: str, key: str, count: int) -> Counter[object]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
                for _ in range(count)
            )
        )
    return Counter(r.status_code if r.status_code == 200 else r.json()["error"]["code"] for r in responses)


def test_token_quota_that_fits_30_serves_exactly_30(gateway_on_each_backend: Deployment) -> None:
    gw = gateway_on_each_backend
    gw.cli("price", "set", "gpt-4o", "--per-call", PER_CALL_USD)
    gw.runtime_poll()
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "100")
    token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * 30))[0]

    outcome = asyncio.run(fire(gw.url, token["key"], REQUESTS))

    assert outcome == Counter({200: 30, "token_quota_exceeded": REQUESTS - 30})
    gw.flush()
    assert gw.token(token["id"])["used_quota"] == 30 * PER_CALL_UNITS
    assert gw.user("alice")["balance"] == 100 * 500_000 - 30 * PER_CALL_UNITS
    assert gw.books() == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}


def test_balance_that_fits_30_across_two_tokens_serves_exactly_30(gateway_on_each_backend: Deployment) -> None:
    gw = gateway_on_each_backend
    gw.cli("price", "set", "gpt-4o", "--per-call", PER_CALL_USD)
    gw.runtime_poll()
    gw.cli("user", "create", "bob", "--password", "password-123", "--balance-usd", str(0.001 * 30))
    first, second = gw.cli("token", "create", "--user", "bob", "--count", "2")

    async def both() -> Counter[object]:
        a, b = await asyncio.gather(
            fire(gw.url, first["key"], REQUESTS // 2), fire(gw.url, second["key"], REQUESTS // 2)
        )
        return a + b

    outcome = asyncio.run(both())

    assert outcome == Counter({200: 30, "insufficient_balance": REQUESTS - 30})
    gw.flush()
    assert gw.user("bob")["balance"] == 0
    assert gw.token(first["id"])["used_quota"] + gw.token(second["id"])["used_quota"] == 30 * PER_CALL_UNITS
    assert gw.books()["balanced"]


def test_token_priced_requests_never_overspend_the_quota(gateway: Deployment) -> None:
    """With per-token prices the reservation is an upper estimate: fewer may be served, never more."""
    gateway.cli("user", "create", "carol", "--password", "password-123", "--balance-usd", "100")
    # gpt-4o: 2.5 in / 10 out per 1M. One request (prompt 7, completion 3) costs ceil(0.0000475 * 500000) = 24 units.
    token = gateway.cli("token", "create", "--user", "carol", "--quota-usd", str(24 * 30 / 500_000))[0]
    outcome = asyncio.run(fire(gateway.url, token["key"], REQUESTS))
    assert 1 <= outcome[200] <= 30
    gateway.flush()
    assert gateway.token(token["id"])["used_quota"] == outcome[200] * 24
    assert gateway.books()["balanced"]
