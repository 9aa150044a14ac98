"""The tasks store, on every storage backend: ownership, order, duplicates, state updates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.tasks.service import Task, owned_tasks, record_task, update_task


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> str:
    return database_url or f"sqlite:///{tmp_path / 'tasks.db'}"


def run(url: str, scenario: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = create_engine(to_async_url(url))
        await upgrade_to_head(engine)
        try:
            await scenario(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


def task(task_id: str, user_id: int, platform: str = "midjourney") -> Task:
    return Task(platform, task_id, "imagine", user_id, token_id=7, channel_id=3, status="SUBMITTED", data=None)


def test_a_user_finds_only_own_tasks_in_the_order_asked(url: str) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        for record in (task("a", 1), task("b", 2), task("c", 1), task("a", 2, platform="suno")):
            await record_task(engine, record)
        found = await owned_tasks(engine, "midjourney", 1, ["c", "b", "missing", "a", "c"])
        assert [(t.task_id, t.user_id, t.channel_id) for t in found] == [("c", 1, 3), ("a", 1, 3)]
        assert [t.task_id for t in await owned_tasks(engine, "suno", 2, ["a", "b"])] == ["a"]
        assert await owned_tasks(engine, "midjourney", 1, []) == []

    run(url, scenario)


def test_a_task_id_seen_again_keeps_its_first_owner(url: str) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        await record_task(engine, task("a", 1))
        await record_task(engine, task("a", 2))
        assert [t.user_id for t in await owned_tasks(engine, "midjourney", 1, ["a"])] == [1]
        assert await owned_tasks(engine, "midjourney", 2, ["a"]) == []

    run(url, scenario)


def test_update_keeps_the_latest_upstream_state(url: str) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        await record_task(engine, task("a", 1))
        await update_task(engine, "midjourney", "a", "SUCCESS", {"id": "a", "progress": "100%"})
        [found] = await owned_tasks(engine, "midjourney", 1, ["a"])
        assert (found.status, found.data) == ("SUCCESS", {"id": "a", "progress": "100%"})

    run(url, scenario)
