"""Migration 0015 on a database with channels: every existing channel keeps serving /v1/responses natively."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import select, text

from relaygate.store.database import create_engine
from relaygate.store.migrate import alembic_config
from relaygate.store.schema import channels
from tests.support.deployment import Deployment


def test_existing_channels_are_not_chat_completions_only_and_the_downgrade_drops_the_column(
    unmigrated_deployment: Deployment,
) -> None:
    async def migrate() -> tuple[list[bool], list[str]]:
        engine = create_engine(unmigrated_deployment.settings.sqlalchemy_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0014"))
                await conn.execute(
                    text(
                        "INSERT INTO channels (name, type, base_url, key_encrypted, key_hint, models, model_map, "
                        "groups, priority, weight, status, created_at) VALUES ('old', 'openai', 'http://x', 'k', "
                        "'sk-...1234', '[\"m\"]', '{}', '[\"default\"]', 0, 1, 'enabled', 1)"
                    )
                )
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
                flags = (await conn.execute(select(channels.c.chat_completions_only))).scalars().all()
                await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0014"))
                columns = (await conn.execute(text("SELECT * FROM channels"))).keys()
            return list(flags), list(columns)
        finally:
            await engine.dispose()

    flags, columns = asyncio.run(migrate())
    assert flags == [False]
    assert "chat_completions_only" not in columns
