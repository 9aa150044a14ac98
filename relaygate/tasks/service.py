"""The tasks table behind one small interface: record a submitted task, find a caller's tasks, update state.

A task id is the upstream's; it is unique per platform (`midjourney`, `suno`). Ownership is the
user's: every lookup names the user, so another user's task is indistinguishable from an unknown one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.clock import now
from relaygate.store.schema import tasks


@dataclass(frozen=True)
class Task:
    platform: str
    task_id: str
    kind: str
    user_id: int
    token_id: int | None
    channel_id: int | None
    status: str
    data: Any


async def record_task(engine: AsyncEngine, task: Task) -> None:
    """Store a task the upstream accepted; a task id seen before (Midjourney's code 21) keeps its first owner."""
    stamp = now()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(tasks).values(
                    platform=task.platform,
                    task_id=task.task_id,
                    kind=task.kind,
                    user_id=task.user_id,
                    token_id=task.token_id,
                    channel_id=task.channel_id,
                    status=task.status,
                    data=task.data,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    except IntegrityError:
        return  # the unique (platform, task_id) index: already recorded


async def owned_tasks(engine: AsyncEngine, platform: str, user_id: int, task_ids: Iterable[str]) -> list[Task]:
    """The tasks among `task_ids` that `user_id` owns, in the order asked; others are left out."""
    wanted = list(dict.fromkeys(task_ids))
    if not wanted:
        return []
    query = select(tasks).where(tasks.c.platform == platform, tasks.c.user_id == user_id, tasks.c.task_id.in_(wanted))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    found = {row["task_id"]: _task(row) for row in rows}
    return [found[task_id] for task_id in wanted if task_id in found]


async def update_task(engine: AsyncEngine, platform: str, task_id: str, status: str, data: Any) -> None:
    """Keep the upstream's latest answer about a task."""
    async with engine.begin() as conn:
        await conn.execute(
            update(tasks)
            .where(tasks.c.platform == platform, tasks.c.task_id == task_id)
            .values(status=status, data=data, updated_at=now())
        )


def _task(row: Any) -> Task:
    return Task(
        platform=row["platform"],
        task_id=row["task_id"],
        kind=row["kind"],
        user_id=row["user_id"],
        token_id=row["token_id"],
        channel_id=row["channel_id"],
        status=row["status"],
        data=row["data"],
    )
