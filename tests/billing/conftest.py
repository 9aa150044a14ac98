"""The ledger forms the billing tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from relaygate.settings import Settings
from tests.support.postgres import migrated_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix

LEDGERS = ["memory/sqlite", "database/sqlite", "database/postgres", "redis/postgres"]


@pytest.fixture(params=LEDGERS)
def form(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """(ledger kind, settings): each ledger on the storage it runs on."""
    kind, database = request.param.split("/")
    with ExitStack() as stack:
        url = stack.enter_context(migrated_database()) if database == "postgres" else f"sqlite:///{tmp_path / 'l.db'}"
        redis = (
            {"redis_url": REDIS_SERVER, "redis_prefix": stack.enter_context(fresh_prefix())} if kind == "redis" else {}
        )
        yield kind, Settings(database_url=url, data_dir=tmp_path, flush_interval=3600, **redis)
