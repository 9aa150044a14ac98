"""`make bench-tokens`: the relay's chat throughput as the tokens table grows, on one key and on many.

For each backend and each N: a fresh database (`relaygate migrate`), the channel, price and user of
`make bench`, then N tokens bulk-inserted over up to USERS users, each with its own opening balance.
Their keys authenticate for real: the database keeps `relaygate.tokens.keys.hash_key` of each, as for
a token made by `relaygate token create`. Then a gateway on it, and wrk with bench/chat_many_keys.lua:
all requests on one key; spread over SPREAD of the keys in turn, first while each key is new to the
gateway's cache (its first request reads the token and its owner from the database), then again once
they are cached. Afterwards every request must have its usage record and the books must balance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import processes
import scale_out
from data_load import timed
from report import Check, Run, load_average, machine_description, prepend_section
from run import (
    BENCH_DIR,
    RESULTS,
    WARMUP_SECONDS,
    configure_gateway,
    gateway_env,
    relaygate_cli,
    start_fake_upstream,
    start_gateway,
    wait_until_admitted,
)
from sqlalchemy import func, insert, select
from wrk import WrkResult, ensure_wrk, run_wrk

from relaygate.billing.books import check_books
from relaygate.clock import now
from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.store.schema import ledger_entries, tokens, usage_records, users
from relaygate.tokens.keys import PREFIX, SECRET_LENGTH, hash_key, key_hint

MANY_KEYS = BENCH_DIR / "chat_many_keys.lua"
ONE_KEY, FIRST_USE, CACHED = "1 key", "spread keys, first use", "spread keys, cached"  # the timed runs, in order
CONNECTIONS = 32
CREDIT = 10**12  # each bulk user's opening balance, in quota units
USER_PREFIX = "tokens-user-"


@dataclass
class Figures:
    backend: str
    tokens: int
    spread: int = 0  # keys of the first-use run
    cached: int = 0  # keys of the cached run: those the first-use run had all used
    load_s: float = 0.0
    runs: dict[str, Run] = field(default_factory=dict)  # by ONE_KEY, FIRST_USE, CACHED
    checks: list[Check] = field(default_factory=list)

    @property
    def first_use_share(self) -> float:
        """The share of the first-use run's requests that were the first of their key."""
        sent = self.runs[FIRST_USE].result.requests
        return min(self.spread, sent) / max(sent, 1)

    @property
    def first_use_cpu_ms(self) -> float | None:
        """The gateway CPU a key's first use costs over a cached request, in ms (None: too few first uses).

        The first-use run's CPU per request is share x (cached + extra) + (1 - share) x cached, so the
        extra is the difference of the two spread runs over the share of first uses."""
        if self.first_use_share < 0.1:
            return None
        first, cached = self.runs[FIRST_USE].cpu_us or 0.0, self.runs[CACHED].cpu_us or 0.0
        return (first - cached) / self.first_use_share / 1000

    def first_use_text(self) -> str:
        cpu_ms = self.first_use_cpu_ms
        return "n/a (too few keys)" if cpu_ms is None else f"{cpu_ms:.2f}"


def make_keys(count: int) -> list[str]:
    """`count` distinct keys of the form `generate_key` makes, derived from one random seed (fast)."""
    seed = secrets.token_hex(16)
    return [PREFIX + hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[:SECRET_LENGTH] for i in range(count)]


async def insert_tokens(url: str, keys: list[str], user_count: int) -> None:
    """`user_count` users with an opening balance each, and a token for each key, spread over them in turn."""
    created = now()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(users),
                [
                    {"name": f"{USER_PREFIX}{i}", "password_hash": "x", "balance": CREDIT, "created_at": created}
                    for i in range(user_count)
                ],
            )
            owners = list(
                (await conn.execute(select(users.c.id).where(users.c.name.startswith(USER_PREFIX)))).scalars()
            )
            await conn.execute(
                insert(ledger_entries),
                [
                    {"user_id": owner, "kind": "initial", "amount": CREDIT, "reason": "bench", "created_at": created}
                    for owner in owners
                ],
            )
            await conn.execute(
                insert(tokens),
                [
                    {
                        "user_id": owners[i % len(owners)],
                        "name": "bench",
                        "key_hash": hash_key(key),
                        "hint": key_hint(key),
                        "unlimited": True,
                        "models": [],
                        "allow_ips": [],
                        "created_at": created,
                    }
                    for i, key in enumerate(keys)
                ],
            )
    finally:
        await engine.dispose()


async def read_books(url: str) -> tuple[int, dict[str, object]]:
    """(usage records, the books check) of the database, once the gateway has flushed and stopped."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            records = (await conn.execute(select(func.count()).select_from(usage_records))).scalar_one()
            return int(records), await check_books(conn)
    finally:
        await engine.dispose()


def write_keys(path: Path, keys: list[str]) -> Path:
    path.write_text("".join(f"{key}\n" for key in keys))
    return path


def scenario(wrk: str, backend: str, n: int, spread: int, user_count: int, seconds: int) -> Figures:
    figures = Figures(backend, n)
    print(f"{backend}, {n:,} tokens", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="relaygate-bench-tokens-") as tmp,
        contextlib.ExitStack() as children,
    ):
        workdir = Path(tmp)
        env = gateway_env(workdir / "data")
        if backend == "postgres":
            env |= children.enter_context(scale_out.postgres_and_redis())  # the ledger in Redis, as scaled out
        url = env.get("RELAYGATE_DATABASE_URL") or f"sqlite:///{Path(env['RELAYGATE_DATA_DIR']) / 'relaygate.db'}"
        upstream_port, port = processes.free_port(), processes.free_port()
        start_fake_upstream(children, workdir, upstream_port)
        relaygate_cli(env, "migrate")
        key = configure_gateway(env, upstream_port)
        keys = make_keys(n)
        if keys:
            figures.load_s = timed(
                f"insert {n:,} tokens", lambda: asyncio.run(insert_tokens(to_async_url(url), keys, min(user_count, n)))
            )
        spread_keys = keys[:spread] or [key]  # with no tokens but the bench user's, "spread" over that one
        figures.spread = len(spread_keys)
        used_file = workdir / "keys-used.txt"
        gateway = start_gateway(children, workdir, env, port)
        target = f"http://127.0.0.1:{port}/v1/chat/completions"

        def drive(keys_file: Path, duration: int) -> WrkResult:
            """wrk with bench/chat_many_keys.lua, on the keys of `keys_file` in turn."""
            return run_wrk(
                wrk,
                target,
                MANY_KEYS,
                connections=CONNECTIONS,
                seconds=duration,
                key=key,
                script_env={"BENCH_KEYS_FILE": str(keys_file), "BENCH_KEYS_USED_FILE": str(used_file)},
            )

        def timed_run(name: str, keys_file: Path) -> None:
            print(f"  wrk: chat on {name}, {CONNECTIONS} conn, {seconds} s", flush=True)
            cpu_before = processes.cpu_seconds(gateway.pid)
            result = drive(keys_file, seconds)
            cpu_us = (processes.cpu_seconds(gateway.pid) - cpu_before) * 1e6 / max(result.requests, 1)
            figures.runs[name] = Run(name, backend, CONNECTIONS, result, cpu_us)
            print(f"    {result.requests_per_sec:,.0f} req/s, p99 {result.p99_ms:.1f} ms, {cpu_us:,.0f} us CPU/request")

        one_key = write_keys(workdir / "one-key.txt", [key])
        admitted = wait_until_admitted(target, key)
        warmup = drive(one_key, WARMUP_SECONDS)
        timed_run(ONE_KEY, one_key)
        timed_run(FIRST_USE, write_keys(workdir / "spread-keys.txt", spread_keys))
        # Again on the keys the first-use run sent, each of them: every one is in the gateway's cache now.
        figures.cached = max(1, min(int(used_file.read_text()), figures.spread))
        timed_run(CACHED, write_keys(workdir / "cached-keys.txt", spread_keys[: figures.cached]))
        print(f"  a key's first use: {figures.first_use_text()} ms of gateway CPU over a cached request")
        # SIGTERM makes the gateway flush pending usage records; uvicorn then exits with -15.
        print(f"  gateway stopped with exit code {processes.stop(gateway)}", flush=True)
        records, books = asyncio.run(read_books(to_async_url(url)))
    results = [warmup, *(run.result for run in figures.runs.values())]
    figures.checks = checks(f"{backend}, {n:,} tokens", results, admitted, records, books)
    return figures


def checks(label: str, results: list[WrkResult], admitted: int, records: int, books: dict[str, object]) -> list[Check]:
    """No errors; every request billed (wrk leaves out those in flight at its end: one per connection and
    run); the books balanced over every account and token."""
    sent = sum(r.requests for r in results) + admitted
    allowed = sent + CONNECTIONS * len(results)
    errors = sum(r.errors for r in results)
    return [
        Check(f"no errors or non-2xx responses ({label})", errors == 0, f"{errors} errors"),
        Check(
            f"every request billed ({label})",
            sent <= records <= allowed,
            f"{records} usage records for {sent} requests wrk counted (allowed up to {allowed})",
        ),
        Check(
            f"books balanced ({label})",
            bool(books["balanced"]),
            "every account and token" if books["balanced"] else f"{books['accounts']} {books['tokens']}",
        ),
    ]


def table(all_figures: list[Figures]) -> str:
    columns = [f"{f.backend}, {f.tokens:,} tokens" for f in all_figures]

    def row(name: str, cell: Callable[[Figures], str]) -> str:
        return f"| {name} | " + " | ".join(cell(f) for f in all_figures) + " |"

    rows = [
        "| | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
        row("insert the tokens, s", lambda f: f"{f.load_s:.1f}"),
        row("keys the spread runs use in turn", lambda f: f"{f.spread:,}"),
        row(f"{FIRST_USE}: requests that were a key's first", lambda f: f"{f.first_use_share:.0%}"),
        row(f"keys of the {CACHED} run (each used before)", lambda f: f"{f.cached:,}"),
    ]
    for name in (ONE_KEY, FIRST_USE, CACHED):
        rows += [
            row(f"chat on {name}, req/s", lambda f, n=name: f"{f.runs[n].result.requests_per_sec:,.0f}"),
            row(f"chat on {name}, p50 ms", lambda f, n=name: f"{f.runs[n].result.p50_ms:.1f}"),
            row(f"chat on {name}, p99 ms", lambda f, n=name: f"{f.runs[n].result.p99_ms:.1f}"),
            row(f"chat on {name}, gateway CPU us/request", lambda f, n=name: f"{f.runs[n].cpu_us or 0:,.0f}"),
        ]
    rows.append(row("a key's first use, gateway CPU over a cached request, ms", Figures.first_use_text))
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", default="10,10000,100000", help="token counts on SQLite ('' for none)")
    parser.add_argument(
        "--postgres", default="10,10000,100000", help="token counts on PostgreSQL + Redis ('' for none)"
    )
    parser.add_argument("--spread", type=int, default=10_000, help="keys the spread runs use in turn")
    parser.add_argument("--users", type=int, default=1_000, help="users the tokens belong to")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each timed wrk run")
    parser.add_argument("--no-record", action="store_true", help="do not add the figures to bench/RESULTS.md")
    args = parser.parse_args()
    load_before, wrk = load_average(), ensure_wrk()
    plans = [("sqlite", int(n)) for n in args.sqlite.split(",") if n] + [
        ("postgres", int(n)) for n in args.postgres.split(",") if n
    ]
    all_figures = [scenario(wrk, backend, n, args.spread, args.users, args.seconds) for backend, n in plans]
    text = table(all_figures)
    all_checks = [check for f in all_figures for check in f.checks]
    print("\n".join(["", text, "", *[check.line() for check in all_checks]]))
    if not args.no_record:
        counts = f"--sqlite {args.sqlite or repr('')} --postgres {args.postgres or repr('')}"
        command_line = (
            f".venv/bin/python bench/token_growth.py {counts} --spread {args.spread} --seconds {args.seconds}"
        )
        stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        section = "\n".join(
            [
                f"## {stamp}: token growth (the relay on one key and on many as the tokens table grows)",
                "",
                f"- Machine: {machine_description()}",
                f"- Load average before the run: {load_before}",
                f"- Command: `{command_line}` (make bench-tokens)",
                "",
                text,
                "",
                "```",
                *[check.line() for check in all_checks],
                "```",
                "",
            ]
        )
        prepend_section(RESULTS, section)
    return 0 if all(check.passed for check in all_checks) else 1


if __name__ == "__main__":
    sys.exit(main())
