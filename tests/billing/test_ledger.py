"""The ledger contract, on every ledger and storage backend: holds, charges, refunds, flushes, outside credits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relaygate.billing import ledger as ledger_module
from relaygate.billing import redis_ledger as redis_ledger_module
from relaygate.billing.books import check_books
from relaygate.billing.db_ledger import DatabaseLedger
from relaygate.billing.ledger import Ledger, MemoryLedger, read_stored
from relaygate.billing.redis_ledger import RedisLedger
from relaygate.billing.usage_record import UsageRecord
from relaygate.errors import InsufficientBalance, TokenQuotaExceeded
from relaygate.settings import Settings, to_async_url
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.redis import connect_redis
from relaygate.tokens.service import create_tokens, get_token
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user, credit, get_user


def record(user_id: int, token_id: int, quota: int = 0, **changes: Any) -> UsageRecord:
    fields: dict[str, Any] = {
        "request_id": "r", "user_id": user_id, "token_id": token_id, "channel_id": None, "endpoint": "chat.completions",
        "model": "m", "upstream_model": "m", "group": "default", "prompt_tokens": 1, "cached_tokens": 0, "completion_tokens": 1,
        "quota": quota, "latency_ms": 1, "status_code": 200, "stream": False, "client_ip": "127.0.0.1", "created_at": 1,
    }  # fmt: skip
    return UsageRecord(**{**fields, **changes})


def make_ledger(kind: str, settings: Settings, engine: Any) -> Ledger:
    if kind == "memory":
        return MemoryLedger(engine, settings.flush_interval)
    if kind == "database":
        return DatabaseLedger(engine, settings.flush_interval)
    redis = connect_redis(settings)
    assert redis is not None
    return RedisLedger(engine, redis, settings)


async def books_of(engine: Any, user_id: int, token_id: int) -> tuple[int, int, bool]:
    """(balance, token used quota, books balanced) in the database."""
    async with engine.connect() as conn:
        balance = (await get_user(conn, user_id))["balance"]
        used = (await get_token(conn, token_id))["used_quota"]
        return balance, used, (await check_books(conn))["balanced"]


def unwritten(ledger: Any) -> list[UsageRecord]:
    """The usage records the ledger still has to write."""
    return ledger.batcher.records  # type: ignore[no-any-return]


async def database_with_account(settings: Settings) -> tuple[Any, int, int]:
    """(engine, user id, token id): a migrated database, alice with 1000 units and her token.

    The token is unlimited in the database: each scenario gives `reserve` the limit it tests (600,
    or None), and the books check a used quota only against a limit the database knows.
    """
    engine = create_engine(to_async_url(settings.database_url))
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        user = await create_user(conn, NewUser(name="alice", password="password-123", balance=1000))
        [token] = await create_tokens(conn, user["id"], TokenSpec(unlimited=True))
    return engine, user["id"], token["id"]


def run_contract(form: tuple[str, Settings], scenario: Any, *, flush_interval: float = 3600) -> None:
    kind, settings = form
    settings = settings.model_copy(update={"flush_interval": flush_interval})

    async def main() -> None:
        engine, user_id, token_id = await database_with_account(settings)
        ledger = make_ledger(kind, settings, engine)
        await ledger.start()
        try:
            await scenario(engine, ledger, user_id, token_id)
        finally:
            await ledger.close()
            if isinstance(ledger, RedisLedger):
                await ledger._redis.aclose()
            await engine.dispose()

    asyncio.run(main())


def test_holds_charges_and_refunds_balance_after_a_flush(form: tuple[str, Settings]) -> None:
    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        first = await ledger.reserve(token_id, user_id, 600, 400)
        second = await ledger.reserve(token_id, user_id, 600, 200)
        with pytest.raises(TokenQuotaExceeded):
            await ledger.reserve(token_id, user_id, 600, 1)
        await ledger.settle(first, record(user_id, token_id, 150))
        await ledger.settle(second, record(user_id, token_id, 0))  # a failed request: refunded
        await ledger.flush()
        assert ledger.pending_records() == 0
        async with engine.connect() as conn:
            assert (await get_user(conn, user_id))["balance"] == 850
            assert (await get_token(conn, token_id))["used_quota"] == 150
            assert (await check_books(conn))["balanced"]
        third = await ledger.reserve(token_id, user_id, 600, 450)
        await ledger.settle(third, record(user_id, token_id, 450))

    run_contract(form, scenario)


def test_an_outside_credit_is_seen_while_charges_are_still_pending(form: tuple[str, Settings]) -> None:
    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        hold = await ledger.reserve(token_id, user_id, None, 900)
        await ledger.settle(hold, record(user_id, token_id, 900))  # pending, not yet written
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 101)
        async with engine.begin() as conn:
            await credit(conn, user_id, 500, kind="topup", reason="test")
        await ledger.on_change("user", str(user_id))
        hold = await ledger.reserve(token_id, user_id, None, 600)  # 1000 + 500 - 900 = 600 left
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 1)
        await ledger.settle(hold, record(user_id, token_id, 600))
        await ledger.flush()
        async with engine.connect() as conn:
            assert (await get_user(conn, user_id))["balance"] == 0
            assert await check_books(conn) == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}

    run_contract(form, scenario)


def test_an_outside_credit_whose_notice_arrives_while_the_counters_are_first_read_is_not_lost(
    form: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger that keeps counters reads both of a reservation's in one query: a read that raced with a
    change notice must not become the counter (the credit is there when the request is checked)."""
    if form[0] == "database":
        pytest.skip("the database ledger keeps no counters: every reservation is checked in the database")

    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        first_read = True

        async def read_then_credit(engine_: Any, refs: Any) -> Any:
            nonlocal first_read
            stored = await read_stored(engine_, refs)
            if first_read:  # the snapshot just read predates this credit and its notice
                first_read = False
                assert set(refs) == {("user", user_id), ("token", token_id)}  # one read for both counters
                async with engine.begin() as conn:
                    await credit(conn, user_id, 5000, kind="topup", reason="test")
                await ledger.on_change("user", str(user_id))
            return stored

        monkeypatch.setattr(ledger_module, "read_stored", read_then_credit)
        monkeypatch.setattr(redis_ledger_module, "read_stored", read_then_credit)
        hold = await ledger.reserve(token_id, user_id, None, 6000)  # 1000 + 5000
        assert not first_read
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 1)
        await ledger.settle(hold, record(user_id, token_id, 6000))
        await ledger.flush()
        assert await books_of(engine, user_id, token_id) == (0, 6000, True)

    run_contract(form, scenario)


def test_a_failed_write_keeps_its_records_for_the_next(form: tuple[str, Settings]) -> None:
    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        hold = await ledger.reserve(token_id, user_id, None, 10)
        await ledger.settle(hold, record(user_id, token_id, 10, model=None))  # violates NOT NULL
        assert await ledger.flush() == 0
        entries = ledger.batcher.entries  # type: ignore[attr-defined]
        entries[0] = (entries[0][0]._replace(model="m"), entries[0][1])  # the database is healthy again
        assert await ledger.flush() == 1
        async with engine.connect() as conn:
            assert (await check_books(conn))["balanced"]

    run_contract(form, scenario)


@pytest.mark.parametrize("form", ["memory/sqlite", "memory/postgres", "redis/postgres"], indirect=True)
def test_a_flush_cancelled_mid_write_and_a_close_during_periodic_flushes_lose_nothing(
    form: tuple[str, Settings],
) -> None:
    async def scenario(engine: Any, ledger: Any, user_id: int, token_id: int) -> None:
        for _ in range(500):
            hold = await ledger.reserve(token_id, user_id, None, 1)
            await ledger.settle(hold, record(user_id, token_id, 1))
        flushing = asyncio.create_task(ledger.flush())
        await asyncio.sleep(0)  # the flush has taken the batch and is waiting on the database
        flushing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flushing
        batcher = ledger.batcher  # restart its periodic flush, now flushing all the time
        batcher._stopping.set()
        await batcher._task
        batcher._stopping.clear()
        batcher.interval = 0.001
        await batcher.start()
        for _ in range(300):
            hold = await ledger.reserve(token_id, user_id, None, 1)
            await ledger.settle(hold, record(user_id, token_id, 1))
            await asyncio.sleep(0)
        await ledger.close()
        async with engine.connect() as conn:
            assert (await get_token(conn, token_id))["used_quota"] == 800
            assert (await get_user(conn, user_id))["balance"] == 1000 - 800
            assert (await check_books(conn))["balanced"]

    run_contract(form, scenario)
