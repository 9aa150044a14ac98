"""Loading N usage records fast for the data-growth scenario, generated inside the database by one
INSERT ... SELECT (SQLite: a recursive CTE; PostgreSQL: generate_series), into the schema before the
rollups (revision 0014), so that `relaygate migrate` then backfills them as it would on an upgrade.

The spread: TOKENS tokens, two per user (one user in ten in the `vip` group), used with a skew (the
product of two uniform picks: a few heavy tokens, a long tail); each token mostly one model of six and
sometimes the next, each model on one of three channels; DAYS days of records in time order; 2% 429
and 1% 500 answers, 30% with cached input, half streamed. Balances, used quota and one credit per
user are set from the records, so the books balance.
"""

# ruff: noqa: S608 - the statements are built from this module's constants and integers, never from input

from __future__ import annotations

import time
from collections.abc import Callable

TOKENS = 2000
DAYS = 30
CREDIT = 10**12
MODELS = ("gpt-4o-mini", "gpt-4o", "o3-mini", "claude-sonnet-4", "gemini-2.5-flash", "text-embedding-3-small")
# usage_records of revision 0014, in this order
COLUMNS = (
    'request_id, user_id, token_id, channel_id, endpoint, model, upstream_model, "group", prompt_tokens, '
    "cached_tokens, cache_write_5m_tokens, cache_write_1h_tokens, completion_tokens, quota, overrun, latency_ms, "
    "status_code, stream, client_ip, created_at"
)


def _model_case() -> str:
    return "CASE m " + " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(MODELS)) + " END"


def _records_select(source: str, n: int, start: int, *, postgres: bool) -> str:
    """The columns of record i from `source` (i, t: token index, r: a random non-negative integer)."""
    stream = "(r / 29) % 2 = 1" if postgres else "(r / 29) % 2"
    span = DAYS * 86400
    status = "CASE WHEN r % 100 < 2 THEN 429 WHEN r % 100 < 3 THEN 500 ELSE 200 END"
    prompt = "(10 + (r / 7) % 4000)"
    completion = "(1 + (r / 13) % 1000)"
    return f"""
SELECT 'bench-' || i, t / 2 + 1, t + 1, m % 3 + 1, 'chat.completions', {_model_case()}, {_model_case()},
  CASE WHEN (t / 2 + 1) % 10 = 0 THEN 'vip' ELSE 'default' END, {prompt},
  CASE WHEN (r / 23) % 100 < 30 THEN {prompt} / 2 ELSE 0 END, 0, 0, {completion},
  CASE WHEN {status} = 200 THEN ({prompt} * 75 + {completion} * 300) / 1000 + 1 ELSE 0 END, 0,
  50 + (r / 17) % 3000, {status}, {stream}, '10.0.0.1', {start} + i * {span} / {max(n, 1)} + (r / 19) % 60
FROM (SELECT i, t, r, (t + CASE WHEN (r / 31) % 3 = 0 THEN 1 ELSE 0 END) % 6 AS m FROM {source}) AS picked"""


def _accounts(now: int, *, postgres: bool) -> list[str]:
    series, tokens = _series(TOKENS // 2, postgres=postgres), _series(TOKENS, postgres=postgres)
    true = "true" if postgres else "1"
    empty = "'[]'::json" if postgres else "'[]'"
    return [
        'INSERT INTO users (id, name, password_hash, role, "group", status, balance, used_quota, request_count, '
        f"ledger_seq, held, created_at) SELECT i, 'user' || i, 'x', 'user', CASE WHEN i % 10 = 0 THEN 'vip' "
        f"ELSE 'default' END, 'enabled', {CREDIT}, 0, 0, 0, 0, {now} FROM {series}",
        "INSERT INTO tokens (id, user_id, name, key_hash, hint, status, unlimited, quota_limit, used_quota, models, "
        "allow_ips, quota_cleared, held, ledger_seq, created_at) SELECT i, (i - 1) / 2 + 1, 'bench', 'bench-' || i, "
        f"'sk-bench', 'enabled', {true}, 0, 0, {empty}, {empty}, 0, 0, 0, {now} FROM {tokens}",
        f"INSERT INTO ledger_entries (user_id, kind, amount, reason, created_at) SELECT id, 'initial', {CREDIT}, "
        f"'bench', {now} FROM users",
    ]


def _series(count: int, *, postgres: bool) -> str:
    """1 to `count` as column `i` of `s`."""
    if postgres:
        return f"generate_series(1, {count}) AS s(i)"
    return f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) SELECT i FROM s) AS s"


def _balances() -> list[str]:
    charged = "(SELECT user_id AS owner, SUM(quota) AS q, COUNT(*) AS c FROM usage_records GROUP BY user_id)"
    used = "(SELECT token_id AS owner, SUM(quota) AS q FROM usage_records GROUP BY token_id)"
    return [
        f"UPDATE users SET used_quota = s.q, balance = {CREDIT} - s.q, request_count = s.c FROM {charged} AS s "
        "WHERE users.id = s.owner",
        f"UPDATE tokens SET used_quota = s.q FROM {used} AS s WHERE tokens.id = s.owner",
    ]


def load_statements(n: int, now: int, *, postgres: bool) -> list[str]:
    """The statements that fill a database at revision 0014 with the accounts and `n` records ending at `now`."""
    start = now - DAYS * 86400
    # One random number per record, drawn where it is stored (SQLite would draw again at each use of a
    # column computed from random() in a subquery); the token and everything else are derived from it.
    token = f"((r % {TOKENS}) * ((r / {TOKENS}) % {TOKENS})) / {TOKENS}"
    if postgres:
        source = (
            f"(SELECT i, {token} AS t, r FROM (SELECT i, floor(random() * 4611686018427387903)::bigint AS r "
            f"FROM generate_series(0::bigint, {n - 1}) AS i) AS numbers) AS drawn"
        )
        records = f"INSERT INTO usage_records ({COLUMNS}) {_records_select(source, n, start, postgres=True)}"
    else:
        source = f"(SELECT i, {token} AS t, r FROM seq) AS drawn"
        records = (
            "WITH RECURSIVE seq(i, r) AS (SELECT 0, abs(random() / 2) UNION ALL "
            f"SELECT i + 1, abs(random() / 2) FROM seq WHERE i < {n - 1}) "
            f"INSERT INTO usage_records ({COLUMNS}) {_records_select(source, n, start, postgres=False)}"
        )
    # explicit ids leave PostgreSQL's sequences behind: move them past the rows
    sequences = [
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        for table in ("users", "tokens")
    ]
    # The records' indexes are built after the load: in one sorted pass, not one random insert per record.
    indexes = {
        "ix_usage_records_user_created": "user_id, created_at",
        "ix_usage_records_token_created": "token_id, created_at",
    }
    drop = [f"DROP INDEX {name}" for name in indexes]
    create = [f"CREATE INDEX {name} ON usage_records ({columns})" for name, columns in indexes.items()]
    return [
        *_accounts(now, postgres=postgres),
        *([*drop, records, *create] if n else []),
        *_balances(),
        *(sequences if postgres else []),
    ]


def timed(label: str, action: Callable[[], object]) -> float:
    """Seconds `action()` took, printed."""
    began = time.monotonic()
    action()
    took = time.monotonic() - began
    print(f"{label}: {took:.1f} s", flush=True)
    return took
