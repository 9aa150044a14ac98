"""RELAYGATE_USAGE_RETENTION_DAYS: old usage records are folded into their daily rollups, and the books still balance."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.usage_queries import UsageFilter
from relaygate.billing.usage_summary import usage_summary
from relaygate.store.database import create_engine
from relaygate.store.schema import usage_records, usage_rollups
from relaygate.usage.retention import fold_old_usage, folded_before
from relaygate.usage.rollups import EVERYONE
from tests.support.deployment import Deployment
from tests.support.keys import new_key

DAYS = 86400


def chat(gw: Deployment, key: str, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ).status_code


async def counts(conn: AsyncConnection) -> tuple[int, int]:
    records = (await conn.execute(select(func.count()).select_from(usage_records))).scalar_one()
    before = await folded_before(conn)
    days = usage_rollups.c.span == DAYS, usage_rollups.c.bucket < before, usage_rollups.c.user_id == EVERYONE
    folded = (
        await conn.execute(select(func.coalesce(func.sum(usage_rollups.c.requests), 0)).where(*days))
    ).scalar_one()
    return int(records), int(folded)


def summary(gw: Deployment, by: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_engine(gw.settings.sqlalchemy_url)
        try:
            return await usage_summary(engine, UsageFilter(user_id=None), by)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture
def used_gateway(gateway_on_each_backend: Deployment) -> Deployment:
    gw = gateway_on_each_backend
    key, _ = new_key(gw)
    other, _ = new_key(gw, user="bob")
    for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o"):
        assert chat(gw, key, model) == 200
    assert chat(gw, other, "gpt-4o-mini") == 200
    gw.cli(
        "channel", "add", "--type", "openai", "--base-url", gw.runtime.channels.all()[0].base_url,
        "--key", "fake;fail=500", "--models", "failing-model",
    )  # fmt: skip
    gw.cli("price", "set", "failing-model", "--input", "1", "--output", "1")
    gw.runtime_poll()
    assert chat(gw, other, "failing-model") == 500  # an error record, folded with the rest
    gw.flush()
    return gw


def test_records_past_the_retention_period_are_folded_and_the_books_balance(used_gateway: Deployment) -> None:
    gw = used_gateway
    before = {by: summary(gw, by) for by in ("model", "user", "token", "channel")}
    used = {name: gw.user(name)["used_quota"] for name in ("alice", "bob")}
    assert gw.db(counts) == (5, 0)

    assert gw.db(lambda conn: fold_old_usage(conn.engine, 1)) == 0  # nothing is a day old yet
    with time_machine.travel(time.time() + 3 * DAYS):
        assert gw.db(lambda conn: fold_old_usage(conn.engine, 1)) == 5

    assert gw.db(counts) == (0, 5)
    assert gw.books()["balanced"] is True, gw.books()
    assert {name: gw.user(name)["used_quota"] for name in ("alice", "bob")} == used
    for by, totals in before.items():  # analytics read the folded totals as they read the records
        assert summary(gw, by) == totals


def test_a_running_gateway_folds_at_start(used_gateway: Deployment) -> None:
    gw = used_gateway
    gw.stop()
    gw.env["RELAYGATE_USAGE_RETENTION_DAYS"] = "2"
    with time_machine.travel(time.time() + 5 * DAYS):
        gw.start()
        deadline = time.monotonic() + 15
        while gw.db(counts) != (0, 5):
            assert time.monotonic() < deadline, gw.db(counts)
            time.sleep(0.05)
        assert gw.books()["balanced"] is True
