"""Noticing that a client has gone while its request waits on the upstream or streams its answer.

Once a request's body is read, the next ASGI `receive()` returns only when the client disconnects.
A task waiting on it for every request would cost the hot path, and most requests are answered
in well under a second; so the watch starts only once a request has waited `GRACE_SECONDS`. Nor
does each request set a timer of its own for that: the requests waiting now are noted in one
`GraceSweeper` per event loop, whose one timer starts the watch of those past their grace.

A client that leaves before the upstream's headers arrive cancels the wait (the request ends
unbilled and its hold, slot and upstream connection are freed at once); one that leaves mid-answer
runs the callbacks given to `on_leave_after_grace` (the stream closes its upstream response).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from relaygate.errors import ClientGone
from relaygate.relay.asgi import Receive

GRACE_SECONDS = 1.0
SWEEP_SECONDS = 0.25  # how often the waiting requests are looked at: a watch starts within this of its grace
T = TypeVar("T")


class ClientWatch:
    __slots__ = ("_callbacks", "_noted", "_receive", "_task", "left")

    def __init__(self, receive: Receive):
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self._callbacks: list[Callable[[], object]] = []
        self._noted: GraceSweeper | None = None  # the sweeper this watch waits in, once noted
        self.left = False

    def start(self) -> None:
        if self._task is None and not self.left:
            self._task = asyncio.ensure_future(self._watch())

    def on_leave_after_grace(self, callback: Callable[[], object]) -> None:
        """Call `callback` if the client leaves; the watch starts once the request has had its grace."""
        if self.left:
            callback()
            return
        self._callbacks.append(callback)
        if self._task is None and self._noted is None:
            self._noted = _sweeper()
            self._noted.note(self)

    async def guard(self, waiting: Awaitable[T]) -> T:
        """Await `waiting`; raise ClientGone (cancelling it) if the client leaves before it is done."""
        with self.guarding():
            return await waiting

    def guarding(self) -> Guarding:
        """`guard` as a `with` block around the awaits it covers (one coroutine fewer on the hot path)."""
        task = asyncio.current_task()
        assert task is not None
        return Guarding(self, task)

    def stop(self) -> None:
        if self._noted is not None:
            self._noted.forget(self)
            self._noted = None
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.left = True
                for callback in self._callbacks:
                    callback()
                return


class Guarding:
    """The current task is cancelled if the client leaves inside the block, which then raises ClientGone."""

    __slots__ = ("_cancel", "_task", "_watch")

    def __init__(self, watch: ClientWatch, task: asyncio.Task[object]):
        self._watch, self._task, self._cancel = watch, task, task.cancel

    def __enter__(self) -> None:
        self._watch.on_leave_after_grace(self._cancel)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        callbacks = self._watch._callbacks
        if self._cancel in callbacks:  # not when the watch ran it (the client left)
            callbacks.remove(self._cancel)
        if isinstance(error, asyncio.CancelledError) and self._watch.left and self._task.uncancel() == 0:
            raise ClientGone("The client closed the connection before the upstream answered.") from None


class GraceSweeper:
    """The watches of one event loop still in their grace, and the one timer that ends it."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._waiting: dict[ClientWatch, float] = {}  # in the order noted, so by deadline
        self._timer: asyncio.TimerHandle | None = None

    def note(self, watch: ClientWatch) -> None:
        self._waiting[watch] = time.monotonic() + GRACE_SECONDS
        if self._timer is None:
            self._timer = self._loop.call_later(SWEEP_SECONDS, self._sweep)

    def forget(self, watch: ClientWatch) -> None:
        self._waiting.pop(watch, None)

    def _sweep(self) -> None:
        self._timer = None
        now = time.monotonic()
        due = []
        for watch, deadline in self._waiting.items():
            if deadline > now:
                break
            due.append(watch)
        for watch in due:
            del self._waiting[watch]
            watch._noted = None
            if watch._callbacks:  # a request that is still waiting (or streaming)
                watch.start()
        if self._waiting:
            self._timer = self._loop.call_later(SWEEP_SECONDS, self._sweep)


class _LoopSweeper(threading.local):
    """The sweeper of the event loop running in this thread (tests run gateways in several threads)."""

    loop: asyncio.AbstractEventLoop | None = None
    sweeper: GraceSweeper | None = None


_local = _LoopSweeper()


def _sweeper() -> GraceSweeper:
    loop = asyncio.get_running_loop()
    if _local.loop is not loop or _local.sweeper is None:
        _local.loop, _local.sweeper = loop, GraceSweeper(loop)
    return _local.sweeper
