"""`make bench-data`: the management reads and the relay as the usage table grows.

For each backend and each N: a fresh database at the schema before the rollups, N usage records
loaded in the database (bench/data_load.py), `relaygate migrate` (which backfills the rollups, as on
an upgrade), then a gateway on it: each management read the console makes timed (the median of
several calls, after one to warm up), and the relay's chat throughput for a few seconds with wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import processes
import scale_out
from alembic import command
from data_load import load_statements, timed
from report import load_average, machine_description, prepend_section
from run import CHAT, RELAYGATE, configure_gateway, gateway_env, relaygate_cli, start_fake_upstream, start_gateway
from wrk import ensure_wrk, run_wrk

from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.store.migrate import alembic_config

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ZONE = ZoneInfo("Europe/Berlin")  # the console sends the browser's zone; one an hour off UTC
MIGRATE_TIMEOUT_S = 3600
HEAVY_USER = 1  # the user of the most used token
ADMIN, ADMIN_PASSWORD = "bench-admin", "bench-admin-pass"  # root is made only in an empty database


@dataclass
class Figures:
    backend: str
    records: int
    load_s: float = 0.0
    migrate_s: float = 0.0
    size_mb: float = 0.0
    reads_ms: dict[str, float] = field(default_factory=dict)
    books_balanced: bool = False
    chat_rps: float = 0.0
    chat_p99_ms: float = 0.0


def reads(now: datetime) -> dict[str, tuple[str, dict[str, str]]]:
    """The reads an operator's console makes, by name: (path, query)."""
    local = now.astimezone(ZONE)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month, since = today.replace(day=1), today - timedelta(days=29)
    heavy = {"user_id": str(HEAVY_USER)}
    return {
        "books": ("/api/books", {}),
        "summary by=day (all users)": ("/api/usage/summary", {"by": "day"}),
        "summary by=model (all users)": ("/api/usage/summary", {"by": "model"}),
        "summary by=user (all users)": ("/api/usage/summary", {"by": "user"}),
        "totals (a user, all time)": ("/api/usage/totals", heavy),
        "totals today (a user, dashboard)": ("/api/usage/totals", heavy | {"from": today.isoformat()}),
        "totals this month (a user, dashboard)": ("/api/usage/totals", heavy | {"from": month.isoformat()}),
        "summary by=day, 30 local days (a user, dashboard)": (
            "/api/usage/summary",
            heavy | {"by": "day", "from": since.isoformat(), "tz": ZONE.key},
        ),
        "summary by=day in a zone (all users, analytics)": ("/api/usage/summary", {"by": "day", "tz": ZONE.key}),
    }


def time_reads(base_url: str, calls: int, figures: Figures) -> None:
    with httpx.Client(base_url=base_url, timeout=300) as client:
        login = client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        for name, (path, params) in reads(datetime.now(UTC)).items():
            took = []
            for _ in range(calls + 1):  # the first warms the caches
                began = time.perf_counter()
                response = client.get(path, params=params)
                took.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
            figures.reads_ms[name] = statistics.median(took[1:])
            if path == "/api/books":
                figures.books_balanced = bool(response.json()["balanced"])
            print(f"  {name}: {figures.reads_ms[name]:.1f} ms", flush=True)


def load(env: dict[str, str], n: int, figures: Figures) -> None:
    """The schema before the rollups, N records in it, then `relaygate migrate` (the backfill)."""
    url = env.get("RELAYGATE_DATABASE_URL") or f"sqlite:///{Path(env['RELAYGATE_DATA_DIR']) / 'relaygate.db'}"
    Path(env["RELAYGATE_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    asyncio.run(_upgrade_to(to_async_url(url), "0014"))
    statements = load_statements(n, int(time.time()), postgres=url.startswith("postgresql"))
    if url.startswith("postgresql"):
        figures.load_s = timed(f"load {n:,} records", lambda: asyncio.run(_run_postgres(url, statements)))
    else:
        figures.load_s = timed(f"load {n:,} records", lambda: _run_sqlite(url.removeprefix("sqlite:///"), statements))
    figures.migrate_s = timed("relaygate migrate (backfills the rollups)", lambda: _migrate(env))
    figures.size_mb = _size_mb(url)


def _migrate(env: dict[str, str]) -> None:
    """`relaygate migrate`, given the time a backfill of 10M records takes (relaygate_cli allows 60 s)."""
    subprocess.run([RELAYGATE, "migrate"], env=env, capture_output=True, timeout=MIGRATE_TIMEOUT_S, check=True)


async def _upgrade_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()


def _run_sqlite(path: str, statements: list[str]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -2000000")  # 2 GB: the indexes are built once, in memory
        for statement in statements:
            db.execute(statement)
        db.commit()


async def _run_postgres(url: str, statements: list[str]) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _size_mb(url: str) -> float:
    if not url.startswith("postgresql"):
        return Path(url.removeprefix("sqlite:///")).stat().st_size / 2**20

    async def size() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    return asyncio.run(size()) / 2**20


def scenario(wrk: str, backend: str, n: int, calls: int, chat_seconds: int) -> Figures:
    figures = Figures(backend, n)
    print(f"{backend}, {n:,} records", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="relaygate-bench-data-") as tmp,
        contextlib.ExitStack() as children,
    ):
        workdir = Path(tmp)
        env = gateway_env(workdir / "data")
        if backend == "postgres":
            env |= children.enter_context(scale_out.postgres_and_redis())  # the ledger in Redis, as scaled out
        load(env, n, figures)
        upstream_port, port = processes.free_port(), processes.free_port()
        start_fake_upstream(children, workdir, upstream_port)
        key = configure_gateway(env, upstream_port)
        relaygate_cli(env, "user", "create", ADMIN, "--password", ADMIN_PASSWORD, "--role", "admin")
        start_gateway(children, workdir, env, port)
        time_reads(f"http://127.0.0.1:{port}", calls, figures)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        run_wrk(wrk, url, CHAT, connections=32, seconds=2, key=key)  # warm-up
        chat = run_wrk(wrk, url, CHAT, connections=32, seconds=chat_seconds, key=key)
        figures.chat_rps, figures.chat_p99_ms = chat.requests_per_sec, chat.p99_ms
        print(f"  chat, 32 connections: {chat.requests_per_sec:,.0f} req/s, p99 {chat.p99_ms:.1f} ms", flush=True)
    return figures


def table(all_figures: list[Figures]) -> str:
    columns = [f"{f.backend}, {f.records:,}" for f in all_figures]
    rows = [
        "| | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
        "| load, s | " + " | ".join(f"{f.load_s:.0f}" for f in all_figures) + " |",
        "| `relaygate migrate` (backfill), s | " + " | ".join(f"{f.migrate_s:.1f}" for f in all_figures) + " |",
        "| database size, MB | " + " | ".join(f"{f.size_mb:,.0f}" for f in all_figures) + " |",
    ]
    for name in all_figures[0].reads_ms:
        rows.append(f"| {name}, ms | " + " | ".join(f"{f.reads_ms[name]:.1f}" for f in all_figures) + " |")
    rows.append("| books balanced | " + " | ".join(str(f.books_balanced).lower() for f in all_figures) + " |")
    rows.append("| chat, 32 conn, req/s | " + " | ".join(f"{f.chat_rps:,.0f}" for f in all_figures) + " |")
    rows.append("| chat, 32 conn, p99 ms | " + " | ".join(f"{f.chat_p99_ms:.1f}" for f in all_figures) + " |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", default="0,1000000,10000000", help="record counts on SQLite ('' for none)")
    parser.add_argument("--postgres", default="0,1000000", help="record counts on PostgreSQL ('' for none)")
    parser.add_argument("--calls", type=int, default=7, help="timed calls per read (the median is reported)")
    parser.add_argument("--chat-seconds", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="do not add the figures to bench/RESULTS.md")
    args = parser.parse_args()
    load_before, wrk = load_average(), ensure_wrk()
    plans = [("sqlite", int(n)) for n in args.sqlite.split(",") if n] + [
        ("postgres", int(n)) for n in args.postgres.split(",") if n
    ]
    all_figures = [scenario(wrk, backend, n, args.calls, args.chat_seconds) for backend, n in plans]
    text = table(all_figures)
    print("\n" + text)
    if not args.no_record:
        counts = f"--sqlite {args.sqlite or repr('')} --postgres {args.postgres or repr('')}"
        command_line = f".venv/bin/python bench/data_growth.py {counts}"
        stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        section = "\n".join(
            [
                f"## {stamp}: data growth (management reads and the relay as the usage table grows)",
                "",
                f"- Machine: {machine_description()}",
                f"- Load average before the run: {load_before}",
                f"- Command: `{command_line}` (make bench-data)",
                "",
                text,
                "",
            ]
        )
        prepend_section(RESULTS, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
