"""Periodic quota resets in a running gateway, on each backend: a spent daily token is served again after
midnight in the operator's zone, the books still balance, and resetters running at once reset a token once."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import time_machine
from sqlalchemy import select

from relaygate.store.database import create_engine
from relaygate.store.schema import audit_log, tokens
from relaygate.tokens.resets import QuotaResetter
from tests.support.deployment import Deployment
from tests.tokens.conftest import OPERATOR_ZONE

BERLIN = ZoneInfo(OPERATOR_ZONE)
PER_CALL_UNITS = 500  # gpt-4o at 0.001 USD per call: the estimate is the charge
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def relay(gw: Deployment, key: str) -> int | str:
    """200, or the error code of the refusal."""
    response = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    return 200 if response.status_code == 200 else str(response.json()["error"]["code"])


def prepare(gw: Deployment, *token_args: str) -> dict[str, Any]:
    """Per-call pricing, alice with 10 USD, and a token; the gateway's own resetter is stopped so the
    test decides when resets run."""
    gw.cli("price", "set", "gpt-4o", "--per-call", "0.001")
    gw.runtime_poll()
    gw.server.call(gw.runtime.resetter.stop())  # type: ignore[union-attr]
    if "alice" not in {user["name"] for user in gw.cli("user", "list")}:
        gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "10")
    return gw.cli("token", "create", "--user", "alice", *token_args)[0]  # type: ignore[no-any-return]


def run_gateway_resetter(gw: Deployment) -> list[int]:
    return gw.server.call(gw.runtime.resetter.run_once())  # type: ignore[union-attr,no-any-return]


def test_a_spent_daily_token_is_served_again_after_midnight_in_the_operator_zone(
    gateway_on_each_backend: Deployment,
) -> None:
    gw = gateway_on_each_backend
    # The evening Berlin springs forward: the next midnight is 22:00 UTC, not 23:00 or 00:00.
    with time_machine.travel(berlin("2026-03-29T23:30:00"), tick=True) as traveller:
        token = prepare(gw, "--quota-usd", "0.001", "--reset", "daily")
        key = token["key"]
        assert token["next_reset_at"] == "2026-03-29T22:00:00Z"
        assert token["last_reset_at"] is None
        assert [relay(gw, key), relay(gw, key)] == [200, "token_quota_exceeded"]
        assert run_gateway_resetter(gw) == []  # created today: nothing to reset before midnight
        assert relay(gw, key) == "token_quota_exceeded"
        # Usage reaches the database every flush interval; a reset clears what has reached it.
        gw.flush()

        traveller.move_to(berlin("2026-03-30T00:00:01"))
        assert run_gateway_resetter(gw) == [token["id"]]
        gw.runtime_poll()
        assert [relay(gw, key), relay(gw, key)] == [200, "token_quota_exceeded"]
        assert run_gateway_resetter(gw) == []  # once per period

        gw.flush()
        shown = gw.token(token["id"])
        assert shown["used_quota"] == PER_CALL_UNITS
        assert shown["last_reset_at"] == "2026-03-29T22:00:00Z"
        assert shown["next_reset_at"] == "2026-03-30T22:00:00Z"
        # The reset clears the token's counter, never the owner's spending: both charges stay paid.
        assert gw.user("alice")["balance"] == 10 * 500_000 - 2 * PER_CALL_UNITS
        assert gw.books() == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}


def test_resetters_running_at_once_reset_each_token_once(gateway_on_each_backend: Deployment) -> None:
    gw = gateway_on_each_backend
    with time_machine.travel(berlin("2026-11-30T12:00:00"), tick=True):
        daily = [prepare(gw, "--quota-usd", "1", "--reset", "daily") for _ in range(4)]
        monthly = prepare(gw, "--quota-usd", "1", "--reset", "monthly")
        weekly = prepare(gw, "--quota-usd", "1", "--reset", "weekly")  # Monday 30th: its week runs to next Monday
        never = prepare(gw, "--quota-usd", "1")
        revoked = prepare(gw, "--quota-usd", "1", "--reset", "daily")
        used = [*daily, monthly, weekly, never, revoked]
        for token in used:
            assert [relay(gw, token["key"]), relay(gw, token["key"])] == [200, 200]
        gw.cli("token", "revoke", str(revoked["id"]))
        gw.flush()

    due = sorted(token["id"] for token in [*daily, monthly])
    moment = int(berlin("2026-12-01T00:00:05").timestamp())
    seqs_before = {row.id: row.ledger_seq for row in gw.db(lambda conn: read_tokens(conn))}
    outcomes = asyncio.run(concurrent_resets(gw, moment, resetters=3))
    assert sorted(token_id for ids in outcomes for token_id in ids) == due  # each due token in one outcome only

    rows = {row.id: row for row in gw.db(lambda conn: read_tokens(conn))}
    for token_id in due:
        assert (rows[token_id].used_quota, rows[token_id].quota_cleared) == (0, 2 * PER_CALL_UNITS)
        assert rows[token_id].ledger_seq == seqs_before[token_id] + 1  # one reset, not three
        assert rows[token_id].last_reset_at == int(berlin("2026-12-01T00:00:00").timestamp())
    for token in (weekly, never, revoked):
        assert (rows[token["id"]].used_quota, rows[token["id"]].quota_cleared) == (2 * PER_CALL_UNITS, 0)
    audited = gw.db(lambda conn: reset_audit_targets(conn))
    assert sorted(audited) == [f"token:{token_id}" for token_id in due]
    assert gw.books() == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}


def test_the_gateway_catches_up_at_start_on_resets_missed_while_it_was_down(
    gateway_on_each_backend: Deployment,
) -> None:
    gw = gateway_on_each_backend
    with time_machine.travel(berlin("2026-10-24T18:00:00"), tick=True) as traveller:
        token = prepare(gw, "--quota-usd", "0.001", "--reset", "daily")
        assert relay(gw, token["key"]) == 200
        gw.stop()  # a clean stop writes the usage

        traveller.move_to(berlin("2026-10-27T09:00:00"))  # down for two midnights, one of them after a DST change
        gw.start()
        assert wait_for_reset(gw, token["id"]) == "2026-10-26T23:00:00Z"  # one reset, to the latest midnight (+01:00)
        gw.runtime_poll()
        assert relay(gw, token["key"]) == 200
        gw.flush()
        shown = gw.token(token["id"])
        assert shown["used_quota"] == PER_CALL_UNITS
        assert gw.books() == {"balanced": True, "accounts": [], "tokens": [], "overruns": []}


def wait_for_reset(gw: Deployment, token_id: int, seconds: float = 5) -> str | None:
    """The token's last_reset_at once the gateway's own resetter has set it (None if it did not in time)."""
    deadline = time.monotonic() + seconds
    while (last := gw.token(token_id)["last_reset_at"]) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return last  # type: ignore[no-any-return]


async def concurrent_resets(gw: Deployment, moment: int, resetters: int) -> list[list[int]]:
    """Several resetters, each with its own connection pool as separate instances have, run at once."""
    engines = [create_engine(gw.settings.sqlalchemy_url) for _ in range(resetters)]
    try:
        return await asyncio.gather(
            *(QuotaResetter(engine, BERLIN, clock=lambda: moment).run_once() for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()


async def read_tokens(conn: Any) -> list[Any]:
    return list((await conn.execute(select(tokens))).all())


async def reset_audit_targets(conn: Any) -> list[str]:
    return list((await conn.execute(select(audit_log.c.target).where(audit_log.c.action == "token.reset"))).scalars())
