"""Redis lost and restarted empty under load: requests are served and billed, or refused, never unbilled."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from relaygate.store.schema import usage_records
from tests.scaleout.conftest import PER_CALL_UNITS, shared_setup
from tests.support.deployment import Deployment
from tests.support.postgres import migrated_database
from tests.support.processes import free_port, instances


class RedisServer:
    """A redis-server of the test's own, on a free port, that keeps nothing on disk."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
            if probe.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


@pytest.fixture
def gateway_on_own_redis(tmp_path: Path, fake_upstream: str, own_redis: RedisServer) -> Iterator[Deployment]:
    with migrated_database() as url:
        yield shared_setup(tmp_path, fake_upstream, database_url=url, redis_url=own_redis.url)


async def paced_load(urls: list[str], key: str, count: int, every: float) -> Counter[object]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]

    async def one(i: int) -> object:
        response = await clients[i % len(clients)].post("/v1/chat/completions", json=body, headers=headers)
        return 200 if response.status_code == 200 else response.json()["error"]["code"]

    try:
        calls = []
        for i in range(count):
            calls.append(asyncio.create_task(one(i)))
            await asyncio.sleep(every)
        return Counter(await asyncio.gather(*calls))
    finally:
        for client in clients:
            await client.aclose()


def test_a_redis_restart_under_load_loses_no_charge_and_counts_none_twice(
    gateway_on_own_redis: Deployment, own_redis: RedisServer
) -> None:
    gw = gateway_on_own_redis
    token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * 300))[0]

    async def load_with_a_restart(urls: list[str]) -> Counter[object]:
        load = asyncio.create_task(paced_load(urls, token["key"], 600, every=0.008))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_redis.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_redis.start)  # back, and empty
        return await load

    with instances(gw.env, 2) as urls:
        outcome = asyncio.run(load_with_a_restart(urls))
    served = outcome[200]
    assert set(outcome) <= {200, "service_unavailable", "token_quota_exceeded"}, outcome
    assert outcome["service_unavailable"] > 0, "Redis was down: some requests must have been refused"
    assert 0 < served <= 300, outcome
    records = gw.db(
        lambda conn: conn.scalar(select(func.count()).select_from(usage_records).where(usage_records.c.quota > 0))
    )
    assert records == served, "every request served was billed once"
    assert gw.token(token["id"])["used_quota"] == served * PER_CALL_UNITS
    assert gw.books()["balanced"]
