"""`serve --workers 2` without Redis: the worker processes share a quota through the database alone,
on PostgreSQL and on SQLite (instances with Redis: test_instances.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.scaleout.conftest import PER_CALL_UNITS, shared_setup, spread
from tests.support.deployment import Deployment
from tests.support.processes import instances


def test_workers_on_postgres_alone_share_the_quota_through_the_database(on_postgres_alone: Deployment) -> None:
    gw = on_postgres_alone
    token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * 100))[0]
    with instances(gw.env, 1, "--workers", "2") as [workers], instances(gw.env, 1) as [single]:
        outcome = asyncio.run(spread([workers, single], token["key"], 300))
    assert outcome == {200: 100, "token_quota_exceeded": 200}
    assert gw.token(token["id"])["used_quota"] == 100 * PER_CALL_UNITS
    assert gw.books()["balanced"]


def test_workers_on_sqlite_share_the_quota_through_the_database(tmp_path: Path, fake_upstream: str) -> None:
    gw = shared_setup(tmp_path, fake_upstream)
    token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * 50))[0]
    with instances(gw.env, 1, "--workers", "2") as urls:
        outcome = asyncio.run(spread(urls, token["key"], 150, per_instance=20))
    assert outcome == {200: 50, "token_quota_exceeded": 100}
    assert gw.token(token["id"])["used_quota"] == 50 * PER_CALL_UNITS
    assert gw.books()["balanced"]
