"""A burst of relay requests against a PostgreSQL role with a small CONNECTION LIMIT: answers are
200 or a brief 503 service_unavailable with Retry-After, never a 500 and never a dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.keys import new_key
from tests.support.postgres import database_of_limited_role

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
BURST = 150


@pytest.fixture
def limited(tmp_path: Path, fake_upstream: str) -> Iterator[tuple[Deployment, list[str]]]:
    # The pool may open 8 connections; the role may hold 3: the server refuses the rest.
    with database_of_limited_role(3) as url:
        gw = Deployment(tmp_path / "data", database_url=url, db_pool_size=8, db_pool_overflow=0, db_pool_timeout=2)
        gw.cli(
            "channel",
            "add",
            "--type",
            "openai",
            "--base-url",
            fake_upstream,
            "--key",
            "fake",
            "--models",
            "gpt-4o-mini",
        )
        gw.cli("price", "set", "gpt-4o-mini", "--input", "0.15", "--output", "0.6")
        keys = [new_key(gw, usd="100")[0] for _ in range(3)]  # cold in the server's cache: misses at once
        gw.start()
        try:
            yield gw, keys
        finally:
            gw.stop()


def test_a_burst_over_the_connection_limit_gets_200_or_503_with_retry_after(
    limited: tuple[Deployment, list[str]],
) -> None:
    gw, keys = limited

    async def burst() -> list[httpx.Response | Exception]:
        limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=gw.url, timeout=60, limits=limits) as client:
            calls = [
                client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {keys[i % 3]}"})
                for i in range(BURST)
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    answers = asyncio.run(burst())
    dropped = [answer for answer in answers if isinstance(answer, Exception)]
    assert dropped == []
    responses = [answer for answer in answers if isinstance(answer, httpx.Response)]
    statuses = sorted({response.status_code for response in responses})
    assert set(statuses) <= {200, 503}, [r.text for r in responses if r.status_code not in (200, 503)][:3]
    busy = [response for response in responses if response.status_code == 503]
    assert busy, "the burst never reached the limit: the test proves nothing"
    assert all(response.headers["Retry-After"] == "1" for response in busy)
    assert {response.json()["error"]["code"] for response in busy} == {"service_unavailable"}
    # once the burst is over, the same keys work again
    assert (
        httpx.post(
            gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {keys[0]}"}
        ).status_code
        == 200
    )
