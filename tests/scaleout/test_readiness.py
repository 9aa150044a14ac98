"""/readyz says ready only when this process would serve a relay request, its quota counters included."""

from __future__ import annotations

import asyncio
import time

import httpx
import redis.asyncio as aioredis

from relaygate.store.redis import key
from tests.support.deployment import Deployment
from tests.support.redis import SERVER as REDIS_SERVER

WARM_UP_S = 3.0  # longer than the ledger's own, so that the gateway is up well before it ends
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


async def start_generation_warming_up(gw: Deployment, seconds: float) -> None:
    """What another worker leaves in Redis when it has just started the ledger's generation: its warm-up ends
    `seconds` from now (on Redis' clock), and until then every process refuses reservations."""
    settings = gw.settings
    client = aioredis.Redis.from_url(REDIS_SERVER)
    try:
        now_s, now_us = await client.time()
        generation = key(settings, "ledger", "gen")
        await client.set(generation, "started-by-another-worker")
        await client.set(generation + ":warm", str(now_s * 1000 + now_us // 1000 + int(seconds * 1000)))
    finally:
        await client.aclose()


def test_readyz_answers_503_while_the_ledger_warms_up_and_200_once_relay_requests_are_served(
    on_postgres_and_redis: Deployment,
) -> None:
    gw = on_postgres_and_redis
    token = gw.cli("token", "create", "--user", "alice")[0]
    headers = {"Authorization": f"Bearer {token['key']}"}
    asyncio.run(start_generation_warming_up(gw, WARM_UP_S))
    gw.start()  # it joins the generation: its startup does not wait out a warm-up it did not start
    try:
        deadline = time.monotonic() + WARM_UP_S + 10
        warming = httpx.get(gw.url + "/readyz")
        assert (warming.status_code, warming.json()["status"]) == (503, "unavailable"), (
            f"{warming.json()} (or the gateway took over {WARM_UP_S} s to start)"
        )
        assert warming.json()["reason"].startswith("ledger: the quota counters are warming up")
        refused = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=30)
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "service_unavailable")
        while (ready := httpx.get(gw.url + "/readyz")).status_code == 503:
            assert time.monotonic() < deadline, f"still not ready: {ready.json()}"
            time.sleep(0.05)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        served = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=30)
        assert served.status_code == 200, served.text
    finally:
        gw.stop()
