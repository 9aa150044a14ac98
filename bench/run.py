"""`make bench`: wrk against the fake upstream directly and through a real gateway, then the targets.

Everything runs on 127.0.0.1 in child processes that are stopped at the end, even on failure.
bench/RESULTS.md says how to read the figures and keeps those of earlier runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import processes
import scale_out
from report import Check, Run, load_average, prepend_section, results_section, scenario_table
from ttfb import Ttfb, measure_ttfb
from wrk import ensure_wrk, run_wrk

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
RELAYGATE = str(Path(sys.executable).with_name("relaygate"))
CHAT, STREAM = BENCH_DIR / "chat.lua", BENCH_DIR / "chat_stream.lua"
# (name, Lua script, connections): each is run directly against the fake upstream, then via the gateway.
SCENARIOS = (("chat", CHAT, 32), ("chat", CHAT, 1), ("stream", STREAM, 32))
# The scale-out deployment (2 workers, PostgreSQL + Redis) under the same load at 32 connections.
SCALE_OUT_SCENARIOS = (("chat", CHAT, 32), ("stream", STREAM, 32))
WARMUP_SECONDS = 2
BENCH_USER = "bench"
OPENING_BALANCE = 50_000_000_000  # 100000 USD at 500,000 quota units per USD
MIN_THROUGHPUT_RATIO = 0.35
MAX_ADDED_P50_MS = 0.5
MAX_RSS_MB = 150.0


@dataclass(frozen=True)
class Target:
    """Where wrk sends its requests, and with which key."""

    via: str
    url: str
    key: str
    pid: int  # the process serving it (with its workers): its CPU time per request is reported
    scenarios: tuple[tuple[str, Path, int], ...] = SCENARIOS
    headers: dict[str, str] = field(default_factory=dict)  # sent besides the key (a peer's routing headers)


@dataclass(frozen=True)
class Billing:
    """What the gateway's database holds once it has stopped."""

    records: int
    balance: int
    charged: int


def gateway_env(data_dir: Path) -> dict[str, str]:
    """The environment of the gateway and its CLI: a fresh data dir, no RELAYGATE_* from the caller."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("RELAYGATE_")}
    return inherited | {
        "RELAYGATE_DATA_DIR": str(data_dir),
        "RELAYGATE_SECRET_KEY": "bench-secret",
        "RELAYGATE_ROOT_PASSWORD": "bench-root-pass",
    }


def relaygate_cli(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run([RELAYGATE, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"relaygate {shlex.join(args)} exited with {completed.returncode}:\n{completed.stderr}")
    return completed.stdout


def configure_gateway(env: dict[str, str], upstream_port: int) -> str:
    """Channel, price, user and token through the CLI, before the gateway starts; the token's key."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    relaygate_cli(
        env, "channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake", "--models", "gpt-4o-mini"
    )
    relaygate_cli(env, "price", "set", "gpt-4o-mini", "--input", "0.15", "--output", "0.6")
    relaygate_cli(env, "user", "create", BENCH_USER, "--password", "bench-pass-1", "--balance-usd", "100000")
    tokens = json.loads(relaygate_cli(env, "token", "create", "--user", BENCH_USER, "--json"))
    return str(tokens[0]["key"])


def start_fake_upstream(
    children: contextlib.ExitStack, workdir: Path, port: int, *, cpus: str | None = None
) -> subprocess.Popen[bytes]:
    """The fake upstream on `port`, on the cores `cpus` (None: any), stopped with `children`."""
    log = workdir / "fake-upstream.log"
    command = processes.pinned([RELAYGATE, "fake-upstream", "--port", str(port)], cpus)
    process = processes.start(command, log, dict(os.environ))
    children.callback(processes.stop, process)
    processes.wait_for_port(process, port, log)
    return process


def start_gateway(
    children: contextlib.ExitStack,
    workdir: Path,
    env: dict[str, str],
    port: int,
    *args: str,
    cpus: str | None = None,
) -> subprocess.Popen[bytes]:
    """`relaygate serve` on `port` with `args`, on the cores `cpus` (None: any), stopped with `children`."""
    log = workdir / f"gateway-{port}.log"
    process = processes.start(processes.pinned([RELAYGATE, "serve", "--port", str(port), *args], cpus), log, env)
    children.callback(processes.stop, process)
    processes.wait_for_http(process, f"http://127.0.0.1:{port}/readyz", log)
    return process


def wait_until_admitted(url: str, key: str) -> int:
    """Return once the gateway serves a chat request (how many it served: 1).

    /readyz answers 503 while the worker that answers refuses relay requests (on a fresh Redis prefix, the
    ledger's warm-up of about 2 s, as after a Redis restart), but with several workers each answers for
    itself only: this makes sure that a relay request is served before anything is timed."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ready?"}], "max_tokens": 4}
    deadline = time.monotonic() + processes.READY_TIMEOUT_S
    while True:
        response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=5)
        if response.status_code != 503 or time.monotonic() > deadline:
            response.raise_for_status()
            return 1
        time.sleep(0.2)


def measure(wrk: str, targets: list[Target], seconds: int) -> tuple[list[Run], list[Run]]:
    """A short warm-up per target, then every scenario against every target: (warm-ups, runs)."""
    warmups = [
        Run(
            "warm-up",
            t.via,
            32,
            run_wrk(wrk, t.url, CHAT, connections=32, seconds=WARMUP_SECONDS, key=t.key, headers=t.headers),
        )
        for t in targets
    ]
    runs = []
    for target in targets:
        for name, script, connections in target.scenarios:
            print(f"wrk: {name} {target.via}, {connections} conn, {seconds} s", flush=True)
            cpu_before = processes.cpu_seconds(target.pid)
            result = run_wrk(
                wrk,
                target.url,
                script,
                connections=connections,
                seconds=seconds,
                key=target.key,
                headers=target.headers,
            )
            cpu_us = (processes.cpu_seconds(target.pid) - cpu_before) * 1e6 / max(result.requests, 1)
            runs.append(Run(name, target.via, connections, result, cpu_us))
    return warmups, runs


def read_billing(env: dict[str, str]) -> Billing:
    """Usage records and the bench user's balance, read after the gateway flushed and stopped."""
    users = json.loads(relaygate_cli(env, "user", "list", "--json"))
    user = next(u for u in users if u["name"] == BENCH_USER)
    if env.get("RELAYGATE_DATABASE_URL"):
        records, charged = scale_out.read_usage(env["RELAYGATE_DATABASE_URL"], user["id"])
        return Billing(records=records, balance=int(user["balance"]), charged=charged)
    database = Path(env["RELAYGATE_DATA_DIR"]) / "relaygate.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        (records,) = db.execute("SELECT count(*) FROM usage_records").fetchone()
        (charged,) = db.execute(
            "SELECT coalesce(sum(quota), 0) FROM usage_records WHERE user_id = ?", (user["id"],)
        ).fetchone()
    return Billing(records=records, balance=int(user["balance"]), charged=int(charged))


def find(runs: list[Run], scenario: str, via: str, connections: int) -> Run:
    return next(r for r in runs if (r.scenario, r.via, r.connections) == (scenario, via, connections))


def ratios(runs: list[Run]) -> tuple[float, float, float]:
    """Throughput via gateway / direct for chat and stream at 32 connections; added p50 at 1 connection."""
    chat = (
        find(runs, "chat", "gateway", 32).result.requests_per_sec
        / find(runs, "chat", "direct", 32).result.requests_per_sec
    )
    stream = (
        find(runs, "stream", "gateway", 32).result.requests_per_sec
        / find(runs, "stream", "direct", 32).result.requests_per_sec
    )
    added_p50 = find(runs, "chat", "gateway", 1).result.p50_ms - find(runs, "chat", "direct", 1).result.p50_ms
    return chat, stream, added_p50


def billing_checks(label: str, runs: list[Run], billing: Billing, also_sent: int) -> list[Check]:
    """Every request sent through one deployment (by wrk, and `also_sent` streams timed to their first
    byte) has its usage record, and its books balance."""
    sent = sum(r.result.requests for r in runs) + also_sent
    # wrk leaves out requests still in flight when its time is up: at most one per connection and run.
    in_flight = sum(r.connections for r in runs)
    return [
        Check(
            f"every request billed ({label})",
            sent <= billing.records <= sent + in_flight,
            f"{billing.records} usage records for {sent} requests wrk counted (allowed up to {sent + in_flight})",
        ),
        Check(
            f"balance + charges == opening balance ({label})",
            billing.balance + billing.charged == OPENING_BALANCE,
            f"{billing.balance} + {billing.charged} = {billing.balance + billing.charged} (opening {OPENING_BALANCE})",
        ),
    ]


def evaluate(
    warmups: list[Run],
    runs: list[Run],
    ttfbs: dict[str, Ttfb],
    rss_mb: float,
    billing: Billing,
    scaled_billing: Billing,
    scaled: str,
) -> list[Check]:
    chat_ratio, _, added_p50 = ratios(runs)
    errors = sum(r.result.errors for r in warmups + runs)
    return [
        Check(
            "throughput via gateway >= 0.35 x direct (chat, 32 conn)",
            chat_ratio >= MIN_THROUGHPUT_RATIO,
            f"{chat_ratio:.2f} x",
        ),
        Check("added p50 latency <= 0.5 ms (chat, 1 conn)", added_p50 <= MAX_ADDED_P50_MS, f"{added_p50:+.2f} ms"),
        Check("no errors or non-2xx responses", errors == 0, f"{errors} errors in all runs"),
        Check(f"gateway RSS <= {MAX_RSS_MB:.0f} MB after load", rss_mb <= MAX_RSS_MB, f"{rss_mb:.1f} MB"),
        *billing_checks("SQLite", [r for r in warmups + runs if r.via == "gateway"], billing, ttfbs["gateway"].sent),
        *billing_checks(scaled, [r for r in warmups + runs if r.via == scaled], scaled_billing, ttfbs[scaled].sent),
    ]


def benchmark(wrk: str, seconds: int, scaled: str, redis: bool) -> tuple[list[Run], dict[str, Ttfb], list[Check]]:
    with (
        tempfile.TemporaryDirectory(prefix="relaygate-bench-") as tmp,
        scale_out.postgres_and_redis(redis=redis) as shared,
        contextlib.ExitStack() as children,
    ):
        workdir = Path(tmp)
        env = gateway_env(workdir / "data")
        scaled_env = gateway_env(workdir / "data-scaled") | shared
        upstream_port = processes.free_port()
        upstream = start_fake_upstream(children, workdir, upstream_port)
        key = configure_gateway(env, upstream_port)
        scaled_key = configure_gateway(scaled_env, upstream_port)
        gateway_port, scaled_port = processes.free_port(), processes.free_port()
        gateway = start_gateway(children, workdir, env, gateway_port)
        scaled_process = start_gateway(children, workdir, scaled_env, scaled_port, "--workers", str(scale_out.WORKERS))
        targets = [
            Target("direct", f"http://127.0.0.1:{upstream_port}/v1/chat/completions", "bench", upstream.pid),
            Target("gateway", f"http://127.0.0.1:{gateway_port}/v1/chat/completions", key, gateway.pid),
            Target(
                scaled,
                f"http://127.0.0.1:{scaled_port}/v1/chat/completions",
                scaled_key,
                scaled_process.pid,
                SCALE_OUT_SCENARIOS,
            ),
        ]
        warmups, runs = measure(wrk, targets, seconds)
        print("time to first byte of streams, 1 connection", flush=True)
        ttfbs = {target.via: measure_ttfb(target.url, target.key) for target in targets}
        rss_mb = processes.rss_mb(gateway.pid)
        # SIGTERM makes a gateway flush pending usage records; uvicorn then exits with -15.
        print(f"gateway stopped with exit code {processes.stop(gateway)}", flush=True)
        print(f"scale-out gateway stopped with exit code {processes.stop(scaled_process)}", flush=True)
        billing = read_billing(env)
        scaled_billing = read_billing(scaled_env)
    return runs, ttfbs, evaluate(warmups, runs, ttfbs, rss_mb, billing, scaled_billing, scaled)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="Duration of each wrk run (default 10).")
    parser.add_argument(
        "--no-redis", action="store_true", help="Run the scale-out deployment on PostgreSQL alone (database ledger)."
    )
    args = parser.parse_args()
    load_before = load_average()
    scaled = f"{scale_out.WORKERS} workers, PG alone" if args.no_redis else f"{scale_out.WORKERS} workers, PG + Redis"
    runs, ttfbs, checks = benchmark(ensure_wrk(), args.seconds, scaled, redis=not args.no_redis)
    chat_ratio, stream_ratio, added_p50 = ratios(runs)
    summary = [
        f"Throughput via gateway / direct, chat at 32 connections: {chat_ratio:.2f}",
        f"Throughput via gateway / direct, stream at 32 connections: {stream_ratio:.2f}",
        f"Added p50 latency via gateway, chat at 1 connection: {added_p50:+.2f} ms",
        f"Scale-out ({scaled}) / direct, chat at 32 connections: "
        f"{find(runs, 'chat', scaled, 32).result.requests_per_sec / find(runs, 'chat', 'direct', 32).result.requests_per_sec:.2f}"
        f" ({find(runs, 'chat', scaled, 32).result.requests_per_sec:,.0f} req/s; SQLite gateway "
        f"{find(runs, 'chat', 'gateway', 32).result.requests_per_sec:,.0f} req/s)",
    ]
    summary += [
        f"Time to first byte of a stream, 1 connection, {via}: p50 {t.p50_ms:.2f} ms, p99 {t.p99_ms:.2f} ms"
        + (
            ""
            if via == "direct"
            else f" (added: p50 {t.p50_ms - ttfbs['direct'].p50_ms:+.2f} ms, p99 {t.p99_ms - ttfbs['direct'].p99_ms:+.2f} ms)"
        )
        for via, t in ttfbs.items()
    ]
    table = scenario_table(runs)
    print("\n".join(["", table, "", *summary, "", *[check.line() for check in checks]]))
    flags = " --no-redis" if args.no_redis else ""
    command = f".venv/bin/python bench/run.py --seconds {args.seconds}{flags}  (make bench)"
    prepend_section(RESULTS, results_section(command, load_before, table, summary, checks))
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
