"""Background loops stop at shutdown even when the cancellation comes back as an ordinary error.

A task cancelled inside a database call can see SQLAlchemy's cleanup turn the cancellation into
"Can't reconnect until invalid transaction is rolled back"; a loop that logs errors and retries
then never ends, and `relaygate serve` hung on SIGTERM (seen in CI under load).
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from relaygate import periodic
from relaygate.periodic import Periodic
from relaygate.settings import Settings
from relaygate.store.change_bus import ChangeSubscriber, channel
from tests.support.redis import SERVER, fresh_prefix


class CancelledIntoError:
    """Work that, cancelled while it waits, raises an ordinary error instead, as the driver cleanup does."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.runs = 0

    async def __call__(self, *_: object) -> None:
        self.runs += 1
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise RuntimeError("Can't reconnect until invalid transaction is rolled back") from None


def test_a_periodic_loop_whose_cancelled_run_raises_still_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(periodic, "STOP_GRACE_S", 0.1)

    async def main() -> int:
        work = CancelledIntoError()
        loop = Periodic("test work", work, lambda: 0.01)
        loop.start()
        await asyncio.wait_for(work.started.wait(), 5)
        await asyncio.wait_for(loop.stop(), 5)  # hung forever when the loop retried after the error
        return work.runs

    assert asyncio.run(main()) == 1


def test_a_periodic_loop_lets_a_run_in_progress_finish_before_stopping() -> None:
    async def main() -> list[str]:
        done: list[str] = []

        async def work() -> None:
            await asyncio.sleep(0.2)
            done.append("finished")

        loop = Periodic("test work", work, lambda: 0.0, run_first=True)
        loop.start()
        await asyncio.sleep(0.05)
        await loop.stop()
        return done

    assert asyncio.run(main()) == ["finished"]


def test_the_change_subscriber_stops_while_a_listener_turns_its_cancellation_into_an_error() -> None:
    with fresh_prefix() as prefix:

        async def main() -> int:
            redis = Redis.from_url(SERVER)
            settings = Settings(redis_prefix=prefix)
            listener = CancelledIntoError()
            subscriber = ChangeSubscriber(redis, settings, listener)
            await subscriber.start()
            try:
                await asyncio.wait_for(subscriber.subscribed.wait(), 5)
                await redis.publish(channel(settings), "token:1")
                await asyncio.wait_for(listener.started.wait(), 5)
                await asyncio.wait_for(subscriber.stop(), 5)  # hung: _deliver logged the error and listened on
            finally:
                await redis.aclose()
            return listener.runs

        assert asyncio.run(main()) == 1
