"""The database ledger's crash safety: a dead process's holds come back, a live one's never go."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, update

from relaygate.billing import db_ledger
from relaygate.billing.db_ledger import HOLD_SECONDS, DatabaseLedger, sweep_dead_processes, sweep_expired_holds
from relaygate.billing.ledger import Ledger
from relaygate.errors import InsufficientBalance, TokenQuotaExceeded
from relaygate.settings import Settings
from relaygate.store.schema import ledger_holds, ledger_processes, tokens, users
from tests.billing.test_ledger import books_of, database_with_account, record, run_contract

DATABASE_FORMS = pytest.mark.parametrize("form", ["database/sqlite", "database/postgres"], indirect=True)


def run(form: tuple[str, Settings], scenario: Any, processes: int = 2) -> None:
    """`scenario(engine, ledgers, user_id, token_id)` with one DatabaseLedger per simulated process."""

    async def main() -> None:
        engine, user_id, token_id = await database_with_account(form[1])
        ledgers = [DatabaseLedger(engine, flush_interval=3600) for _ in range(processes)]
        for ledger in ledgers:
            await ledger.start()
        try:
            await scenario(engine, ledgers, user_id, token_id)
        finally:
            for ledger in ledgers:
                if ledger._stopping.is_set():  # killed or closed by the scenario: at most its flush task is left
                    await ledger.batcher.close()
                else:
                    await ledger.close()
            await engine.dispose()

    asyncio.run(main())


async def kill(ledger: DatabaseLedger) -> None:
    """What SIGKILL leaves of a process in the database: it stops beating, its holds and its row stay."""
    ledger._stopping.set()
    assert ledger._task is not None
    await ledger._task


async def held(engine: Any, user_id: int, token_id: int) -> tuple[int, int]:
    """The held counters of the account and the token."""
    async with engine.connect() as conn:
        user_held = await conn.scalar(select(users.c.held).where(users.c.id == user_id))
        token_held = await conn.scalar(select(tokens.c.held).where(tokens.c.id == token_id))
    return user_held, token_held


async def registered(engine: Any) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(ledger_processes.c.id))).scalars())


async def wait_until_released(engine: Any, user_id: int, token_id: int) -> None:
    deadline = time.monotonic() + 20
    while await held(engine, user_id, token_id) != (0, 0):
        assert time.monotonic() < deadline, "the dead process's holds were not released"
        await asyncio.sleep(0.05)


@DATABASE_FORMS
def test_the_holds_of_a_process_that_stopped_beating_are_released_by_a_live_one(
    form: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_ledger, "SILENCE_MS", 1000)
    monkeypatch.setattr(db_ledger, "BEAT_SECONDS", 0.1)

    async def scenario(engine: Any, ledgers: list[DatabaseLedger], user_id: int, token_id: int) -> None:
        live, dead = ledgers
        await dead.reserve(token_id, user_id, 600, 500)
        await kill(dead)
        with pytest.raises(TokenQuotaExceeded):
            await live.reserve(token_id, user_id, 600, 101)
        await wait_until_released(engine, user_id, token_id)
        assert await registered(engine) == {live.process_id}
        hold = await live.reserve(token_id, user_id, 600, 600)  # the token's whole quota is usable again
        await live.settle(hold, record(user_id, token_id, 600))
        await live.flush()
        assert await books_of(engine, user_id, token_id) == (400, 600, True)
        assert await held(engine, user_id, token_id) == (0, 0)

    run(form, scenario)


@DATABASE_FORMS
def test_sweepers_running_at_once_release_each_hold_of_dead_processes_once(
    form: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_ledger, "SILENCE_MS", 300)  # the background beats (every 5 s) stay out of the way

    async def scenario(engine: Any, ledgers: list[DatabaseLedger], user_id: int, token_id: int) -> None:
        for ledger, amount in zip(ledgers, (50, 100, 150), strict=True):
            await ledger.reserve(token_id, user_id, None, amount)
            await ledger.reserve(token_id, user_id, None, amount)
            await kill(ledger)
        assert await held(engine, user_id, token_id) == (600, 600)
        await asyncio.sleep(0.4)  # silent for longer than the limit
        released = await asyncio.gather(*(sweep_dead_processes(engine) for _ in range(4)))
        assert sum(released) == 6, released
        assert await held(engine, user_id, token_id) == (0, 0)  # not below zero: nothing released twice
        assert await registered(engine) == set()

    run(form, scenario, processes=3)


@DATABASE_FORMS
def test_a_live_process_long_running_hold_is_never_released(
    form: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_ledger, "SILENCE_MS", 1500)  # 15 beats: a loaded machine still beats in time
    monkeypatch.setattr(db_ledger, "BEAT_SECONDS", 0.1)

    async def scenario(engine: Any, ledgers: list[DatabaseLedger], user_id: int, token_id: int) -> None:
        other, holder = ledgers
        hold = await holder.reserve(token_id, user_id, 600, 500)
        await asyncio.sleep(3.0)  # two silence limits of sweeping by both processes
        with time_machine.travel(time.time() + HOLD_SECONDS + 1):  # and past its expiry
            assert await sweep_dead_processes(engine) == 0
            assert await sweep_expired_holds(engine) == 0
        assert await held(engine, user_id, token_id) == (500, 500)
        with pytest.raises(TokenQuotaExceeded):
            await other.reserve(token_id, user_id, 600, 101)
        await holder.settle(hold, record(user_id, token_id, 450))
        await holder.flush()
        assert await books_of(engine, user_id, token_id) == (550, 450, True)
        assert await held(engine, user_id, token_id) == (0, 0)

    run(form, scenario)


@DATABASE_FORMS
def test_a_process_taken_for_dead_puts_its_holds_back_at_its_next_beat(
    form: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_ledger, "SILENCE_MS", 1000)  # beats are driven by hand below

    async def scenario(engine: Any, ledgers: list[DatabaseLedger], user_id: int, token_id: int) -> None:
        sweeper, stalled = ledgers
        running = await stalled.reserve(token_id, user_id, 600, 500)
        done = await stalled.reserve(token_id, user_id, 600, 100)
        await stalled.settle(done, record(user_id, token_id, 80))  # settled, its hold not yet written off
        await asyncio.sleep(1.2)  # stalled is silent for longer than the limit
        await sweeper.beat()
        assert await sweep_dead_processes(engine) == 2
        assert await held(engine, user_id, token_id) == (0, 0)
        await stalled.beat()  # alive after all: its requests are still in flight
        assert await held(engine, user_id, token_id) == (600, 600)
        assert await registered(engine) == {sweeper.process_id, stalled.process_id}
        with pytest.raises(TokenQuotaExceeded):
            await sweeper.reserve(token_id, user_id, 600, 1)
        await stalled.settle(running, record(user_id, token_id, 500))
        await stalled.flush()
        assert await books_of(engine, user_id, token_id) == (420, 580, True)
        assert await held(engine, user_id, token_id) == (0, 0)

    run(form, scenario)


@DATABASE_FORMS
def test_a_clean_shutdown_deregisters_and_leaves_nothing_held(form: tuple[str, Settings]) -> None:
    async def scenario(engine: Any, ledgers: list[DatabaseLedger], user_id: int, token_id: int) -> None:
        staying, leaving = ledgers
        await leaving.reserve(token_id, user_id, 600, 300)
        await leaving.close()
        assert await registered(engine) == {staying.process_id}
        assert await held(engine, user_id, token_id) == (0, 0)

    run(form, scenario)


@DATABASE_FORMS
def test_an_expired_hold_of_no_process_is_released_once_and_a_late_settlement_still_charges(
    form: tuple[str, Settings], tmp_path: Path
) -> None:
    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        assert isinstance(ledger, DatabaseLedger)
        orphan = await ledger.reserve(token_id, user_id, None, 900)
        async with engine.begin() as conn:  # as the previous version (without heartbeats) took it
            await conn.execute(update(ledger_holds).values(process_id=None))
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 101)
        assert await sweep_expired_holds(engine) == 0  # not expired yet
        with time_machine.travel(time.time() + HOLD_SECONDS + 1):
            assert await sweep_expired_holds(engine) == 1
        hold = await ledger.reserve(token_id, user_id, None, 1000)  # the whole balance is free again
        await ledger.settle(hold, record(user_id, token_id, 0))
        await ledger.settle(orphan, record(user_id, token_id, 300))  # it was alive after all: charged, not re-released
        await ledger.flush()
        assert await books_of(engine, user_id, token_id) == (700, 300, True)
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 701)

    run_contract(form, scenario)
