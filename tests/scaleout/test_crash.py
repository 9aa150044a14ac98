"""A gateway on PostgreSQL alone SIGKILLed with requests in flight: its holds come back within a minute.

Production takes a process silent for db_ledger.SILENCE_MS (30 s) for dead and sweeps every BEAT_SECONDS
(5 s), within a minute by the first test. The servers of the crash itself run with a 12 s silence and 1 s
beats (short_silence_serve.py): the same heartbeats and sweep, without half a minute of waiting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from relaygate.billing import db_ledger
from relaygate.store.schema import ledger_processes, tokens
from tests.scaleout import short_silence_serve
from tests.scaleout.conftest import PER_CALL_UNITS, PER_CALL_USD, shared_setup, spread
from tests.support.deployment import Deployment
from tests.support.postgres import migrated_database
from tests.support.processes import free_port, start_server, stop_server

QUOTA_CALLS = 10
SLOW = {"model": "slow-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def token_held(gw: Deployment, token_id: int) -> int:
    held = gw.db(lambda conn: conn.scalar(select(tokens.c.held).where(tokens.c.id == token_id)))
    assert held is not None
    return int(held)


async def hold_the_whole_quota(
    client: httpx.AsyncClient, key: str, gw: Deployment, token_id: int
) -> list[asyncio.Task[httpx.Response]]:
    """Slow requests in flight until every unit of the token's quota is held by them."""
    headers = {"Authorization": f"Bearer {key}"}
    calls = [
        asyncio.create_task(client.post("/v1/chat/completions", json=SLOW, headers=headers)) for _ in range(QUOTA_CALLS)
    ]
    deadline = time.monotonic() + 30
    while await asyncio.to_thread(token_held, gw, token_id) < QUOTA_CALLS * PER_CALL_UNITS:
        assert time.monotonic() < deadline, "the slow requests did not all hold"
        await asyncio.sleep(0.1)
    return calls


def test_the_production_silence_and_beat_release_a_dead_process_holds_within_a_minute() -> None:
    assert db_ledger.SILENCE_MS / 1000 + db_ledger.BEAT_SECONDS < 60
    # the crash test's servers: a shorter silence, still many beats long (a live process is never taken for dead)
    assert short_silence_serve.SHORT_SILENCE_MS / 1000 < db_ledger.SILENCE_MS / 1000
    assert short_silence_serve.SHORT_SILENCE_MS / 1000 >= 10 * short_silence_serve.SHORT_BEAT_SECONDS


def test_a_sigkilled_server_on_postgres_alone_has_its_holds_released_within_a_minute(
    tmp_path: Path, fake_upstream: str
) -> None:
    with migrated_database() as url:
        gw = shared_setup(tmp_path, fake_upstream, database_url=url)
        gw.cli(
            "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;delay-ms=20000",
            "--models", "slow-model",
        )  # fmt: skip
        gw.cli("price", "set", "slow-model", "--per-call", PER_CALL_USD)
        token = gw.cli("token", "create", "--user", "alice", "--quota-usd", str(0.001 * QUOTA_CALLS))[0]

        first_port = free_port()
        server = start_server(gw.env, first_port, command=short_silence_serve.COMMAND)

        async def kill_under_load() -> float:
            limits = httpx.Limits(max_connections=QUOTA_CALLS)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{first_port}", timeout=120, limits=limits
            ) as client:
                calls = await hold_the_whole_quota(client, token["key"], gw, token["id"])
                server.kill()  # SIGKILL: no shutdown, the holds stay in ledger_holds
                killed_at = time.monotonic()
                server.communicate()
                failed = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(outcome, httpx.TransportError) for outcome in failed), failed
            return killed_at

        try:
            killed_at = asyncio.run(kill_under_load())
        finally:
            server.kill()
            server.communicate()
        port = free_port()
        restarted = start_server(gw.env, port, command=short_silence_serve.COMMAND)
        try:
            urls = [f"http://127.0.0.1:{port}"]
            assert asyncio.run(spread(urls, token["key"], 1)) == {"token_quota_exceeded": 1}  # still held
            while token_held(gw, token["id"]) != 0:
                assert time.monotonic() < killed_at + 60, "the dead server's holds were still there 60 s after"
                time.sleep(0.5)
            assert asyncio.run(spread(urls, token["key"], QUOTA_CALLS + 2)) == {
                200: QUOTA_CALLS,
                "token_quota_exceeded": 2,
            }  # the whole quota, and not a unit more
        finally:
            stop_server(restarted)
        assert gw.token(token["id"])["used_quota"] == QUOTA_CALLS * PER_CALL_UNITS
        assert token_held(gw, token["id"]) == 0
        assert gw.db(lambda conn: conn.scalar(select(func.count()).select_from(ledger_processes))) == 0  # SIGTERM
        assert gw.books()["balanced"]
