"""The import's options and its refusals: --dry-run, --with-logs, --keep-root, bad DSNs, read-only source."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.errors import CodeExpired
from relaygate.importer import channels as channels_import
from relaygate.importer.source import open_source, parse_dsn
from relaygate.redemptions.service import import_code, redeem_code
from relaygate.store.schema import audit_log, usage_records
from relaygate.users.service import find_user_id, get_user
from tests.support import postgres
from tests.support.legacy_gateways import Source, build_source, counts, fresh_gateway


def test_a_dry_run_writes_nothing_and_reports_what_the_import_will_do(sqlite_source: Source, tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    before = counts(gw)
    dry = gw.cli("import", sqlite_source.kind, "--from", sqlite_source.dsn, "--dry-run")
    assert dry["dry_run"] is True
    assert counts(gw) == before
    assert [user["name"] for user in gw.cli("user", "list")] == ["root"]
    real = gw.cli("import", sqlite_source.kind, "--from", sqlite_source.dsn)
    assert {**dry, "dry_run": False} == real
    assert real["imported"] > 0

    async def audited(conn: AsyncConnection) -> dict[str, str]:
        rows = await conn.execute(select(audit_log.c.action, audit_log.c.actor_name))
        return {row.action: row.actor_name for row in rows}

    assert gw.db(audited)["import.users"] == f"relaygate import {sqlite_source.kind}"


def test_consume_logs_become_usage_records_and_the_books_still_balance(source: Source, tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    report = gw.cli("import", source.kind, "--from", source.dsn, "--with-logs")
    assert report["kinds"]["logs"]["imported"] == 3  # the top-up log is not usage
    assert gw.books()["balanced"], gw.books()
    assert gw.user("alice")["used_quota"] == 250_000  # the logs explain part of it, they add nothing
    prod = next(token for token in gw.cli("token", "list") if token["name"] == "prod")
    assert prod["used_quota"] == 150_000

    async def log_records(conn: AsyncConnection) -> list[tuple[str, int, int | None]]:
        query = select(usage_records.c.model, usage_records.c.quota, usage_records.c.token_id).where(
            usage_records.c.model == "gpt-4o-mini"
        )
        return sorted((row.model, row.quota, row.token_id) for row in await conn.execute(query))

    assert gw.db(log_records) == sorted(
        [("gpt-4o-mini", 120, prod["id"]), ("gpt-4o-mini", 80, prod["id"]), ("gpt-4o-mini", 40, prod["id"] + 1)]
    )
    again = gw.cli("import", source.kind, "--from", source.dsn, "--with-logs")
    assert again["kinds"]["logs"]["imported"] == 0
    assert again["imported"] == 0


def test_keep_root_keeps_their_root_a_root_beside_relaygates_own(sqlite_source: Source, tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    report = gw.cli("import", sqlite_source.kind, "--from", sqlite_source.dsn, "--keep-root")
    roles = {user["name"]: user["role"] for user in gw.cli("user", "list")}
    their_root = "root_" + sqlite_source.kind.replace("-", "")
    assert roles["root"] == "root"
    assert roles[their_root] == "root"
    assert any("is named 'root_" in note and "the name is taken" in note for note in report["kinds"]["users"]["notes"])


def test_a_bad_source_is_refused_with_what_to_give_instead(tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    assert "must start with mysql://, postgresql:// or sqlite:///" in gw.cli_fails(
        "import", "new-api", "--from", "ftp://host/db"
    )
    assert "no database file at" in gw.cli_fails("import", "new-api", "--from", f"sqlite:///{tmp_path}/none.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert "has no table 'users': is it the database new-api runs on?" in gw.cli_fails(
        "import", "new-api", "--from", f"sqlite:///{empty}"
    )
    output = gw.cli_fails("import", "one-api", "--from", "mysql://root:s3cret-pw@127.0.0.1:1/one-api")
    assert "cannot read the source database mysql://127.0.0.1:1/one-api" in output
    assert "s3cret-pw" not in output


def test_the_source_is_opened_read_only(source: Source) -> None:
    async def try_to_write() -> None:
        async with open_source(parse_dsn(source.dsn)) as conn:
            await conn.execute(text("UPDATE tokens SET remain_quota = 0"))

    with pytest.raises(DBAPIError):
        asyncio.run(try_to_write())

    async def remaining() -> int:
        async with open_source(parse_dsn(source.dsn)) as conn:
            return int((await conn.execute(text("SELECT SUM(remain_quota) FROM tokens"))).scalar_one())

    assert asyncio.run(remaining()) == sum(row["remain_quota"] for row in source.rows["tokens"])


def test_an_imported_code_past_its_expiry_is_refused_and_stays_unused(tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    gw.cli("user", "create", "erin", "--password", "password-123")

    async def import_then_redeem(conn: AsyncConnection) -> tuple[str, int]:
        user_id = await find_user_id(conn, "erin")
        await import_code(conn, "A" * 32, 1000, expires_at=now() - 1, created_by=None)
        with pytest.raises(CodeExpired) as caught:
            await redeem_code(conn, "A" * 32, user_id)
        return caught.value.code, (await get_user(conn, user_id))["balance"]

    assert gw.db(import_then_redeem) == ("code_expired", 0)


def test_an_import_into_a_postgresql_relaygate_balances_and_runs_once(tmp_path: Path, fake_upstream: str) -> None:
    source = build_source("new-api", f"sqlite:///{tmp_path / 'new-api.db'}", fake_upstream)
    with postgres.fresh_database() as url:
        gw = fresh_gateway(tmp_path, url)
        first = gw.cli("import", "new-api", "--from", source.dsn, "--with-logs")
        assert first["kinds"]["tokens"]["imported"] == 6
        assert gw.books()["balanced"], gw.books()
        before = counts(gw)
        assert gw.cli("import", "new-api", "--from", source.dsn, "--with-logs")["imported"] == 0
        assert counts(gw) == before
        assert gw.user("alice")["balance"] == 1_000_000


def test_a_kind_that_fails_is_rolled_back_whole_and_a_rerun_finishes_the_job(
    sqlite_source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = fresh_gateway(tmp_path)
    real_add = channels_import.add_channel
    calls = []

    async def add_then_fail(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # two channels are in when the database gives way
            raise OperationalError("INSERT INTO channels ...", {}, Exception("disk I/O error"))
        return await real_add(*args, **kwargs)

    monkeypatch.setattr(channels_import, "add_channel", add_then_fail)
    output = gw.cli_fails("import", sqlite_source.kind, "--from", sqlite_source.dsn)
    assert "importing channels failed, so none of them was written (disk I/O error)" in output
    assert "imported before it: groups, prices, users, tokens" in output
    assert gw.cli("channel", "list") == []
    assert gw.books()["balanced"]

    monkeypatch.setattr(channels_import, "add_channel", real_add)
    again = gw.cli("import", sqlite_source.kind, "--from", sqlite_source.dsn)
    assert again["kinds"]["channels"]["imported"] == 5
    assert again["kinds"]["users"]["already_imported"] == 4
    assert len(gw.cli("channel", "list")) == 5


def test_a_source_with_another_quota_unit_is_flagged(tmp_path: Path, fake_upstream: str) -> None:
    source = build_source("one-api", f"sqlite:///{tmp_path / 'one-api.db'}", fake_upstream)
    db = sqlite3.connect(tmp_path / "one-api.db")
    with db:
        db.execute("UPDATE options SET value = '1000000' WHERE key = 'QuotaPerUnit'")
    db.close()
    gw = fresh_gateway(tmp_path)
    notes = gw.cli("import", "one-api", "--from", source.dsn, "--dry-run")["kinds"]["users"]["notes"]
    assert any("their QuotaPerUnit is 1000000, not 500,000" in note for note in notes)
