"""The access cache reads a token with its owner in one query, and a change is never hidden by it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.auth.access import AccessCache
from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.tokens.service import set_token_status
from relaygate.users.service import update_user
from tests.support.access import account, count_reads_of


def engine_for(database_url: str, tmp_path: Path) -> AsyncEngine:
    return create_engine(to_async_url(database_url or f"sqlite:///{tmp_path / 'a.db'}"))


async def change(engine: AsyncEngine, cache: AccessCache, token_id: int, user_id: int) -> None:
    """Disable the token and move its owner to the group vip, and deliver the change feed's notices."""
    async with engine.begin() as conn:
        await set_token_status(conn, token_id, "disabled")
        await update_user(conn, user_id, {"group": "vip"})
    await cache.on_change("token", str(token_id))
    await cache.on_change("user", str(user_id))


def run_now(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run to its end, here, a coroutine that never waits (the cache's on_change): from inside a query."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("on_change waited")


def test_the_owner_read_with_a_token_is_served_from_memory_until_a_notice_drops_it(
    database_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        engine = engine_for(database_url, tmp_path)
        try:
            user_id, token_id, key = await account(engine)
            cache = AccessCache(engine)
            reads = count_reads_of(engine, "(tokens|users)")
            token = await cache.token_for_key(key)
            owner = await cache.user(user_id)
            assert token is not None
            assert owner is not None
            assert (token.status, owner.name, owner.group, len(reads)) == ("enabled", "alice", "default", 1)
            await change(engine, cache, token_id, user_id)
            reads = count_reads_of(engine, "(tokens|users)")
            token, owner = await cache.token_for_key(key), await cache.user(user_id)
            assert token is not None
            assert owner is not None
            assert (token.status, owner.group) == ("disabled", "vip")  # the moved group is seen
            assert len(reads) == 1  # the token read again with its owner, who was not read again alone
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_a_token_and_owner_read_while_their_change_notices_arrive_are_not_cached(
    database_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        engine = engine_for(database_url, tmp_path)
        try:
            user_id, token_id, key = await account(engine)
            cache = AccessCache(engine)
            notices = iter([None])

            def notices_arrive_mid_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                # The read's snapshot predates the change these notices announce (committed just after it).
                if "JOIN users" in statement and next(notices, True) is None:
                    run_now(cache.on_change("token", str(token_id)))
                    run_now(cache.on_change("user", str(user_id)))

            event.listen(engine.sync_engine, "after_cursor_execute", notices_arrive_mid_read)
            raced = await cache.token_for_key(key)
            assert raced is not None
            assert raced.status == "enabled"
            async with engine.begin() as conn:
                await set_token_status(conn, token_id, "disabled")
                await update_user(conn, user_id, {"group": "vip"})
            reads = count_reads_of(engine, "(tokens|users)")
            token, owner = await cache.token_for_key(key), await cache.user(user_id)
            assert token is not None
            assert owner is not None
            assert (token.status, owner.group) == ("disabled", "vip")  # neither was kept from the raced read
            assert len(reads) == 1  # the owner came with the token's new read
        finally:
            await engine.dispose()

    asyncio.run(scenario())
