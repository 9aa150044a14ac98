"""Noticing that a client has gone while its request waits on the upstream.

Once a request's body is read, the next ASGI `receive()` returns only when the client disconnects.
A task waiting on it for every request would cost the hot path, and most requests are answered
in well under a second; so the watch starts only after `GRACE_SECONDS` of waiting, or at once for
a stream. A client that leaves before the upstream's headers arrive cancels the wait (the request
ends unbilled and its hold, slot and upstream connection are freed at once); one that leaves
mid-answer runs the callbacks given to `on_leave` (the stream closes its upstream response).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from relaygate.errors import ClientGone
from relaygate.relay.asgi import Receive

GRACE_SECONDS = 1.0
T = TypeVar("T")


class ClientWatch:
    def __init__(self, receive: Receive):
        self._receive = receive
        self._task: asyncio.Task[None] | None = None
        self._callbacks: list[Callable[[], None]] = []
        self.left = False

    def start(self) -> None:
        if self._task is None and not self.left:
            self._task = asyncio.ensure_future(self._watch())

    def on_leave(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the client leaves (at once if it already has); watching starts now."""
        if self.left:
            callback()
            return
        self._callbacks.append(callback)
        self.start()

    async def guard(self, waiting: Awaitable[T]) -> T:
        """Await `waiting`; raise ClientGone (cancelling it) if the client leaves before it is done."""
        task = asyncio.current_task()
        assert task is not None

        def cancel() -> None:
            task.cancel()

        timer = asyncio.get_running_loop().call_later(GRACE_SECONDS, self.on_leave, cancel)
        try:
            return await waiting
        except asyncio.CancelledError:
            if self.left and task.uncancel() == 0:
                raise ClientGone("The client closed the connection before the upstream answered.") from None
            raise
        finally:
            timer.cancel()
            with contextlib.suppress(ValueError):
                self._callbacks.remove(cancel)

    def stop(self) -> None:
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
