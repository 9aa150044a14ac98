"""Several gateway processes on one PostgreSQL (and Redis): a deployment as scale-out operators run it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.postgres import migrated_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix

PER_CALL_USD = "0.001"  # 500 quota units a call: the estimate is the charge, so quotas fit exact counts
PER_CALL_UNITS = 500


def shared_setup(tmp_path: Path, fake_upstream: str, **settings: str) -> Deployment:
    gw = Deployment(tmp_path / "data", **settings)
    gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o")
    gw.cli("price", "set", "gpt-4o", "--per-call", PER_CALL_USD)
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "100")
    return gw


@pytest.fixture
def on_postgres_and_redis(tmp_path: Path, fake_upstream: str) -> Iterator[Deployment]:
    with migrated_database() as url, fresh_prefix() as prefix:
        yield shared_setup(tmp_path, fake_upstream, database_url=url, redis_url=REDIS_SERVER, redis_prefix=prefix)


@pytest.fixture
def on_postgres_alone(tmp_path: Path, fake_upstream: str) -> Iterator[Deployment]:
    with migrated_database() as url:
        yield shared_setup(tmp_path, fake_upstream, database_url=url)


async def spread(urls: list[str], key: str, count: int, per_instance: int = 40) -> Counter[object]:
    """`count` chat requests spread round-robin over `urls`, `per_instance` at a time on each."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    headers = {"Authorization": f"Bearer {key}"}
    clients = [
        httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=per_instance)) for url in urls
    ]
    try:
        responses = await asyncio.gather(
            *(clients[i % len(clients)].post("/v1/chat/completions", json=body, headers=headers) for i in range(count))
        )
    finally:
        for client in clients:
            await client.aclose()
    return Counter(r.status_code if r.status_code == 200 else r.json()["error"]["code"] for r in responses)
