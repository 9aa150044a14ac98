"""One load at a time per key: concurrent callers that miss the same cache entry share one read.

A burst of requests with one cold key would otherwise send every one of them to the database at
once (hundreds of identical queries, each holding a pooled connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._loads: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """`load()`'s result, from the load already running for `key` if there is one.

        The load runs in a task of its own, so a caller that gives up (a client that disconnects)
        does not cancel it for the others; its outcome, result or error, reaches every caller."""
        task = self._loads.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._loads[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def in_flight(self) -> int:
        return len(self._loads)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._loads.get(key) is task:
            del self._loads[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every caller may have given up before it ended
