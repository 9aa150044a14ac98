"""What a key's first use costs the gateway, in process: CPU, database checkouts, new connections.

No HTTP and no upstream: the gateway's own key check (`authenticate` on an `AccessCache`) and a quota
hold on the ledger the deployment would run (`build_ledger`), for KEYS keys each new to the cache,
CONCURRENCY at a time, then again for the same keys once they are cached. The difference is the cost
of the first use; `make bench-tokens` (bench/token_growth.py) measures the same through a real gateway.

    .venv/bin/python bench/first_use.py --backends sqlite,postgres,postgres+redis
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scale_out
from sqlalchemy import event
from token_growth import insert_tokens, make_keys

from relaygate.auth.access import AccessCache
from relaygate.auth.check import authenticate
from relaygate.billing.ledgers import build_ledger, ledger_kind
from relaygate.settings import Settings
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.redis import connect_redis

HOLD = 10  # quota units held per request (the bulk users have plenty)


@dataclass
class Pass:
    """One pass over the keys: this process's CPU, and the pool's checkouts and new connections."""

    requests: int
    cpu_s: float
    checkouts: int
    connects: int

    def per_request(self) -> tuple[float, float, float]:
        n = max(self.requests, 1)
        return self.cpu_s * 1e6 / n, self.checkouts / n, self.connects / n


class PoolCounts:
    def __init__(self, engine: Any):
        self.checkouts = 0
        self.connects = 0
        event.listen(engine.sync_engine, "checkout", self._checkout)
        event.listen(engine.sync_engine, "connect", self._connect)

    def _checkout(self, *_: Any) -> None:
        self.checkouts += 1

    def _connect(self, *_: Any) -> None:
        self.connects += 1


async def timed_pass(
    keys: list[str], concurrency: int, use: Callable[[str], Awaitable[None]], counts: PoolCounts
) -> Pass:
    checkouts, connects = counts.checkouts, counts.connects
    started = time.process_time()
    for start in range(0, len(keys), concurrency):
        await asyncio.gather(*(use(key) for key in keys[start : start + concurrency]))
    return Pass(len(keys), time.process_time() - started, counts.checkouts - checkouts, counts.connects - connects)


async def measure(settings: Settings, tokens: int, keys_used: int, concurrency: int) -> tuple[Pass, Pass]:
    engine = create_engine(settings.sqlalchemy_url, settings.pool)
    redis = connect_redis(settings)
    ledger = build_ledger(settings, engine, redis)
    try:
        await upgrade_to_head(engine)
        keys = make_keys(tokens)
        await insert_tokens(settings.sqlalchemy_url, keys, min(1_000, tokens))
        await ledger.start()
        access = AccessCache(engine)
        counts = PoolCounts(engine)

        async def use(key: str) -> None:
            principal = await authenticate(access, key, None)
            await ledger.reserve(principal.token.id, principal.user.id, principal.token.quota_limit, HOLD)

        await timed_pass(keys[-concurrency:], concurrency, use, counts)  # warm: the pool, the statement caches
        sample = keys[:keys_used]
        first = await timed_pass(sample, concurrency, use, counts)
        cached = await timed_pass(sample, concurrency, use, counts)
        return first, cached
    finally:
        await ledger.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def run(backend: str, tokens: int, keys_used: int, concurrency: int) -> str:
    with tempfile.TemporaryDirectory(prefix="relaygate-bench-first-use-") as tmp, contextlib.ExitStack() as stack:
        env = (
            stack.enter_context(scale_out.postgres_and_redis(redis=backend == "postgres+redis"))
            if backend != "sqlite"
            else {}
        )
        settings = Settings(
            data_dir=Path(tmp),
            database_url=env.get("RELAYGATE_DATABASE_URL", ""),
            redis_url=env.get("RELAYGATE_REDIS_URL", ""),
            redis_prefix=env.get("RELAYGATE_REDIS_PREFIX", "relaygate:"),
            flush_interval=3600,
        )
        first, cached = asyncio.run(measure(settings, tokens, keys_used, concurrency))
    (cpu_first, checkouts_first, connects_first), (cpu_cached, checkouts_cached, _) = (
        first.per_request(),
        cached.per_request(),
    )
    return (
        f"{backend} ({ledger_kind(settings)} ledger), {tokens:,} tokens: a key's first use costs "
        f"{cpu_first - cpu_cached:,.0f} us of CPU over a cached one ({cpu_first:,.0f} against {cpu_cached:,.0f}), "
        f"{checkouts_first - checkouts_cached:.2f} more database checkouts, {connects_first:.2f} new connections"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends", default="sqlite,postgres,postgres+redis", help="any of sqlite, postgres, postgres+redis"
    )
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens in the database")
    parser.add_argument("--keys", type=int, default=2_000, help="keys used for the first time, then again")
    parser.add_argument("--concurrency", type=int, default=32, help="first uses at once (wrk's connections)")
    args = parser.parse_args()
    lines = [
        run(backend, args.tokens, min(args.keys, args.tokens - args.concurrency), args.concurrency)
        for backend in args.backends.split(",")
        if backend
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
