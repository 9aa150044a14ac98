"""Two gateway processes on one PostgreSQL database and one Redis prefix share their rate limits.

Only rate-limit outcomes are checked here (served or 429): the books across processes are the
ledger's concern.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.postgres import migrated_database
from tests.support.processes import instances as running_instances
from tests.support.redis import SERVER, fresh_prefix

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@pytest.fixture
def shared(tmp_path: Path, fake_upstream: str) -> Iterator[Deployment]:
    """A deployment on a fresh PostgreSQL database and Redis prefix, with a fast and a slow model."""
    # a Redis in use (see fresh_prefix): the instances join its ledger generation, without the 2 s warm-up
    with migrated_database() as database_url, fresh_prefix(in_use=True) as prefix:
        gw = Deployment(tmp_path / "data", database_url, redis_url=SERVER, redis_prefix=prefix)
        gw.cli(
            "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o-mini"
        )  # fmt: skip
        gw.cli(
            "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;delay-ms=3000",
            "--models", "slow-model",
        )  # fmt: skip
        for model in ("gpt-4o-mini", "slow-model"):
            gw.cli("price", "set", model, "--input", "0.1", "--output", "0.1")
        gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "100")
        yield gw


@pytest.fixture
def instances(shared: Deployment) -> Iterator[list[str]]:
    """Two `relaygate serve` processes of the shared deployment."""
    with running_instances(shared.env, 2) as urls:
        yield urls


async def spread(urls: list[str], key: str, count: int, body: dict[str, object]) -> Counter[tuple[str, object]]:
    """`count` concurrent requests, alternating between the instances: outcome per (instance, status or code)."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:

        async def one(url: str) -> tuple[str, object]:
            response = await client.post(
                url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            outcome = 200 if response.status_code == 200 else response.json()["error"]["code"]
            return url, outcome

        return Counter(await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(count))))


def outcomes(counts: Counter[tuple[str, object]]) -> Counter[object]:
    total: Counter[object] = Counter()
    for (_, outcome), number in counts.items():
        total[outcome] += number
    return total


def test_rpm_60_serves_60_of_100_over_two_instances(shared: Deployment, instances: list[str]) -> None:
    key = shared.cli("token", "create", "--user", "alice", "--rpm", "60")[0]["key"]
    counts = asyncio.run(spread(instances, key, 100, CHAT))
    total = outcomes(counts)
    assert 57 <= total[200] <= 63, total  # 60 unless the run straddles a minute's edge
    assert total[200] + total["rate_limit_exceeded"] == 100, total
    assert all(counts[(url, 200)] > 0 for url in instances), counts  # both instances served some


def test_max_concurrent_2_holds_over_two_instances(shared: Deployment, instances: list[str]) -> None:
    key = shared.cli("token", "create", "--user", "alice", "--max-concurrent", "2")[0]["key"]
    slow = {**CHAT, "model": "slow-model"}
    for _ in range(2):  # two waves: the slots of the first are free again for the second
        # 8 requests arrive well within the 3 s each served one takes: exactly 2 fit at once.
        total = outcomes(asyncio.run(spread(instances, key, 8, slow)))
        assert total == Counter({200: 2, "rate_limit_exceeded": 6}), total
