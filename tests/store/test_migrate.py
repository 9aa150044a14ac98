"""upgrade_to_head: a database behind is migrated; one at the head is left alone without loading the
migration scripts (every CLI command and every start calls it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext

from relaygate.settings import to_async_url
from relaygate.store import migrate
from relaygate.store.database import create_engine
from relaygate.store.migrate import alembic_config, head_revisions, upgrade_to_head


def _url(tmp_path: Path, database_url: str) -> str:
    return to_async_url(database_url or f"sqlite:///{tmp_path / 'relaygate.db'}")


async def _current(url: str) -> frozenset[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
        return frozenset(heads)
    finally:
        await engine.dispose()


async def _upgrade(url: str, revision: str | None = None) -> None:
    engine = create_engine(url)
    try:
        if revision is None:
            await upgrade_to_head(engine)
        else:
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()


def test_a_database_behind_is_brought_to_the_head(tmp_path: Path, database_url: str) -> None:
    url = _url(tmp_path, database_url)
    asyncio.run(_upgrade(url, "0014"))
    assert asyncio.run(_current(url)) == {"0014"}
    asyncio.run(_upgrade(url))
    assert asyncio.run(_current(url)) == head_revisions()


def test_a_database_at_the_head_is_not_migrated_again(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(tmp_path, database_url)
    asyncio.run(_upgrade(url))
    runs: list[Any] = []
    real_upgrade = command.upgrade
    monkeypatch.setattr(migrate.command, "upgrade", lambda *args: runs.append(args) or real_upgrade(*args))
    asyncio.run(_upgrade(url))
    assert runs == []
    assert asyncio.run(_current(url)) == head_revisions()
