"""Every single-node promise across instances on PostgreSQL with Redis: quota, books, revocation.
(Workers sharing one database without Redis: test_workers.py.)"""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.scaleout.conftest import PER_CALL_UNITS, spread
from tests.support.deployment import Deployment
from tests.support.processes import instances


def test_600_requests_over_three_instances_on_a_quota_for_200_serve_200(on_postgres_and_redis: Deployment) -> None:
    gw = on_postgres_and_redis
    token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * 200))[0]
    with instances(gw.env, 3) as urls:
        outcome = asyncio.run(spread(urls, token["key"], 600))
    assert outcome == {200: 200, "token_quota_exceeded": 400}
    assert gw.token(token["id"])["used_quota"] == 200 * PER_CALL_UNITS
    assert gw.user("alice")["balance"] == 100 * 500_000 - 200 * PER_CALL_UNITS
    assert gw.books()["balanced"]


def test_a_token_deleted_on_one_instance_is_refused_on_every_instance_within_a_second(
    on_postgres_and_redis: Deployment,
) -> None:
    gw = on_postgres_and_redis
    token = gw.cli("token", "create", "--user", "alice")[0]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    headers = {"Authorization": f"Bearer {token['key']}"}
    no_polling = {**gw.env, "RELAYGATE_CHANGE_POLL_INTERVAL": "30"}  # only Redis pub/sub can tell them in time
    with instances(no_polling, 3) as urls:
        for url in urls:  # every instance has the token in its cache
            assert httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers).status_code == 200
        with httpx.Client(base_url=urls[0]) as console:
            login = console.post("/api/auth/login", json={"username": "alice", "password": "password-123"})
            csrf = login.json()["csrf_token"]
            assert console.delete(f"/api/tokens/{token['id']}", headers={"X-CSRF-Token": csrf}).status_code in (
                200,
                204,
            )
        deleted_at = time.monotonic()
        refused_after = {}
        while len(refused_after) < len(urls) and time.monotonic() - deleted_at < 5:
            for url in urls:
                if url not in refused_after:
                    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers)
                    if response.status_code == 401:
                        refused_after[url] = time.monotonic() - deleted_at
    assert len(refused_after) == 3, refused_after
    assert max(refused_after.values()) < 1.0, refused_after
