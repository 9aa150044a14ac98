"""Migration 0009 on a database with channels: each channel's key becomes its first key row, and the
previous version's one-key columns keep working (rolling upgrades)."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import select, text

from relaygate.channels.crypto import SecretBox
from relaygate.store.database import create_engine
from relaygate.store.migrate import alembic_config
from relaygate.store.schema import channel_keys, channels
from tests.support.deployment import Deployment


def test_an_existing_channel_keeps_its_key_after_the_upgrade(unmigrated_deployment: Deployment) -> None:
    box = SecretBox(unmigrated_deployment.settings.secret_key)

    async def upgrade() -> tuple[list[str], list[str | None]]:
        engine = create_engine(unmigrated_deployment.settings.sqlalchemy_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0006"))
                await conn.execute(
                    text(
                        "INSERT INTO channels (name, type, base_url, key_encrypted, key_hint, models, model_map, "
                        "groups, priority, weight, status, created_at) VALUES ('old', 'openai', 'http://x', :key, "
                        "'sk-...1234', '[\"m\"]', '{}', '[\"default\"]', 0, 1, 'enabled', 1)"
                    ),
                    {"key": box.encrypt("sk-old-secret-1234")},
                )
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
                keys = (await conn.execute(select(channel_keys))).mappings().all()
                legacy = (await conn.execute(select(channels.c.key_hint))).scalars().all()
            return [box.decrypt(row["key_encrypted"]) for row in keys], list(legacy)
        finally:
            await engine.dispose()

    assert asyncio.run(upgrade()) == (["sk-old-secret-1234"], ["sk-...1234"])
    [channel] = unmigrated_deployment.cli("channel", "list")
    assert ([key["hint"] for key in channel["keys"]], channel["status"]) == (["sk-...1234"], "enabled")
