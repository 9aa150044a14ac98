"""Background work that runs every so often and stops cleanly at shutdown.

Stopping never relies on cancellation alone: a task cancelled inside a database call can see the
cancellation turned into an ordinary error by the driver's cleanup (SQLAlchemy's "Can't reconnect
until invalid transaction is rolled back"), which a retrying loop would log and carry on from, so
the shutdown that awaited it would wait forever. Here `stop()` first says so, lets a run in progress
finish for a moment, and only then cancels; the loop ends on the flag whatever its run raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # how long a run in progress may finish before it is cancelled
EXPECTED_FAILURES = (SQLAlchemyError, OSError, TimeoutError)  # Redis is imported only when configured


class Periodic:
    """Runs `work` every `interval()` seconds (after the wait, or before it with `run_first`)."""

    def __init__(
        self,
        what: str,
        work: Callable[[], Awaitable[object]],
        interval: Callable[[], float],
        *,
        run_first: bool = False,
    ):
        self._what = what
        self._work = work
        self._interval = interval
        self._run_first = run_first
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._what)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_S)
        if not done:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        first = self._run_first
        while not self._stopping.is_set():
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval())
                if self._stopping.is_set():
                    return
            first = False
            await self._run_once()

    async def _run_once(self) -> None:
        try:
            await self._work()
        except EXPECTED_FAILURES as exc:
            if not self._stopping.is_set():
                log.warning("%s failed, will retry: %s", self._what, exc)
        except Exception:
            if not self._stopping.is_set():
                # Anything else must not end the loop either: the work would never run again.
                log.exception("%s failed, will retry", self._what)
