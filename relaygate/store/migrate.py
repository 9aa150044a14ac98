"""Schema migrations (Alembic), run by `relaygate migrate` and at server start."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The newest revisions of the migrations this package ships (their scripts are read once)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    # Every CLI command and every start lands here: a database already at the head is told by one
    # read of alembic_version, without loading the migration environment and its scripts again.
    if frozenset(MigrationContext.configure(connection).get_current_heads()) == head_revisions():
        return
    command.upgrade(alembic_config(connection), "head")


async def make_revision(engine: AsyncEngine, message: str) -> None:
    """Autogenerate a revision from the difference between the schema and the database (developers)."""
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.revision(alembic_config(sync), message=message, autogenerate=True)
        )
