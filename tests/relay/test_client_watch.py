"""The client watch: no task for a request answered within its grace; a leaving client is noticed after it."""

from __future__ import annotations

import asyncio

import pytest

from relaygate.errors import ClientGone
from relaygate.relay import client_watch
from relaygate.relay.client_watch import ClientWatch


class Client:
    """An ASGI receive whose disconnect arrives when `leave()` is called."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()
        self.receives = 0

    async def receive(self) -> dict[str, str]:
        self.receives += 1
        await self.gone.wait()
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self.gone.set()


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_watch, "GRACE_SECONDS", 0.2)
    monkeypatch.setattr(client_watch, "SWEEP_SECONDS", 0.05)


def test_a_quick_answer_never_starts_a_watch() -> None:
    async def scenario() -> int:
        client = Client()
        watch = ClientWatch(client.receive)
        assert await watch.guard(asyncio.sleep(0.01, result="answer")) == "answer"
        watch.stop()
        await asyncio.sleep(0.4)  # past the grace: nothing is left to start
        return client.receives

    assert asyncio.run(scenario()) == 0


def test_a_client_that_leaves_a_slow_wait_cancels_it() -> None:
    async def scenario() -> float:
        client = Client()
        watch = ClientWatch(client.receive)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, client.leave)
        started = loop.time()
        with pytest.raises(ClientGone):
            await watch.guard(asyncio.sleep(30))
        watch.stop()
        return loop.time() - started

    assert asyncio.run(scenario()) < 1.0  # the grace (0.2 s) and one sweep, not the 30 s wait


def test_a_stream_whose_client_leaves_runs_its_callback_after_the_grace() -> None:
    async def scenario() -> list[str]:
        client = Client()
        watch = ClientWatch(client.receive)
        closed: list[str] = []
        watch.on_leave_after_grace(lambda: closed.append("closed"))
        client.leave()
        for _ in range(40):
            if closed:
                break
            await asyncio.sleep(0.05)
        watch.stop()
        return closed

    assert asyncio.run(scenario()) == ["closed"]


def test_a_cancellation_from_elsewhere_is_not_taken_for_a_leaving_client() -> None:
    async def scenario() -> None:
        client = Client()
        watch = ClientWatch(client.receive)
        waiting = asyncio.ensure_future(watch.guard(asyncio.sleep(30)))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        watch.stop()

    asyncio.run(scenario())
