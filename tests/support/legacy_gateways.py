"""Source databases of new-api and one-api, built as their GORM models build them, with real rows.

The columns follow QuantumNous/new-api and songquanpeng/one-api `model/*.go` (User, Token, Channel,
Option, Redemption, Ability, Log) with the SQL types GORM gives each Go type on MySQL/MariaDB,
PostgreSQL and SQLite. Keys and codes are generated per test: no secret is committed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
from sqlalchemy import column, func, insert, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from relaygate.store.schema import (
    channels,
    groups,
    import_map,
    ledger_entries,
    prices,
    redemption_codes,
    tokens,
    usage_records,
    users,
)
from relaygate.users.service import ensure_root
from tests.support.deployment import Deployment

# (column, kind, extra): kind is how GORM types the Go field; extra holds "unique", "index", "pk",
# "not null" and "default:X" as in the gorm tags.
Column = tuple[str, str, str]

_NEW_API: dict[str, list[Column]] = {
    "users": [
        ("id", "pk", ""), ("username", "str", "unique"), ("password", "str", "not null"),
        ("display_name", "str", "index"), ("role", "int32", "default:1"), ("status", "int32", "default:1"),
        ("email", "str", "index"), ("github_id", "str", "index"), ("discord_id", "str", "index"),
        ("oidc_id", "str", "index"), ("wechat_id", "str", "index"), ("telegram_id", "str", "index"),
        ("access_token", "char(32)", "unique"), ("quota", "int32", "default:0"), ("used_quota", "int32", "default:0"),
        ("request_count", "int32", "default:0"), ("group", "varchar(64)", "default:'default'"),
        ("aff_code", "varchar(32)", "unique"), ("aff_count", "int32", "default:0"), ("aff_quota", "int32", "default:0"),
        ("aff_history", "int32", "default:0"), ("inviter_id", "int32", "index"), ("deleted_at", "time", "index"),
        ("linux_do_id", "str", "index"), ("setting", "text", ""), ("remark", "varchar(255)", ""),
        ("stripe_customer", "varchar(64)", "index"), ("created_at", "int", ""), ("last_login_at", "int", "default:0"),
    ],
    "tokens": [
        ("id", "pk", ""), ("user_id", "int", "index"), ("key", "char(48)", "unique"), ("status", "int", "default:1"),
        ("name", "str", "index"), ("created_time", "int", ""), ("accessed_time", "int", ""),
        ("expired_time", "int", "default:-1"), ("remain_quota", "int", "default:0"), ("unlimited_quota", "bool", ""),
        ("model_limits_enabled", "bool", ""), ("model_limits", "text", ""), ("allow_ips", "str", "default:''"),
        ("used_quota", "int", "default:0"), ("group", "str", "default:''"), ("cross_group_retry", "bool", ""),
        ("deleted_at", "time", "index"),
    ],
    "channels": [
        ("id", "pk", ""), ("type", "int", "default:0"), ("key", "str", "not null"), ("openai_organization", "str", ""),
        ("test_model", "str", ""), ("status", "int", "default:1"), ("name", "str", "index"),
        ("weight", "uint", "default:0"), ("created_time", "int", ""), ("test_time", "int", ""),
        ("response_time", "int", ""), ("base_url", "str", "default:''"), ("other", "str", ""),
        ("balance", "float", ""), ("balance_updated_time", "int", ""), ("models", "str", ""),
        ("group", "varchar(64)", "default:'default'"), ("used_quota", "int", "default:0"),
        ("model_mapping", "text", ""), ("status_code_mapping", "varchar(1024)", "default:''"),
        ("priority", "int", "default:0"), ("auto_ban", "int", "default:1"), ("other_info", "str", ""),
        ("tag", "str", "index"), ("setting", "text", ""), ("param_override", "text", ""),
        ("header_override", "text", ""), ("remark", "varchar(255)", ""), ("channel_info", "json", ""),
        ("settings", "str", ""),
    ],
    "options": [("key", "str", "pk"), ("value", "str", "")],
    "redemptions": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char(32)", "unique"), ("status", "int", "default:1"),
        ("name", "str", "index"), ("quota", "int", "default:100"), ("created_time", "int", ""),
        ("redeemed_time", "int", ""), ("used_user_id", "int", ""), ("deleted_at", "time", "index"),
        ("expired_time", "int", ""),
    ],
    "abilities": [
        ("group", "varchar(64)", "pk"), ("model", "varchar(255)", "pk"), ("channel_id", "int", "pk"),
        ("enabled", "bool", ""), ("priority", "int", "default:0"), ("weight", "uint", "default:0"),
        ("tag", "str", "index"),
    ],
    "logs": [
        ("id", "pk", ""), ("user_id", "int", "index"), ("created_at", "int", "index"), ("type", "int", "index"),
        ("content", "str", ""), ("username", "str", "default:''"), ("token_name", "str", "default:''"),
        ("model_name", "str", "default:''"), ("quota", "int", "default:0"), ("prompt_tokens", "int", "default:0"),
        ("completion_tokens", "int", "default:0"), ("use_time", "int", "default:0"), ("is_stream", "bool", ""),
        ("channel_id", "int", "index"), ("token_id", "int", "default:0"), ("group", "str", "index"),
        ("ip", "str", "default:''"), ("other", "str", ""),
    ],
}  # fmt: skip

_ONE_API: dict[str, list[Column]] = {
    "users": [
        ("id", "pk", ""), ("username", "str", "unique"), ("password", "str", "not null"),
        ("display_name", "str", "index"), ("role", "int32", "default:1"), ("status", "int32", "default:1"),
        ("email", "str", "index"), ("github_id", "str", "index"), ("wechat_id", "str", "index"),
        ("lark_id", "str", "index"), ("oidc_id", "str", "index"), ("access_token", "char(32)", "unique"),
        ("quota", "int", "default:0"), ("used_quota", "int", "default:0"), ("request_count", "int32", "default:0"),
        ("group", "varchar(32)", "default:'default'"), ("aff_code", "varchar(32)", "unique"),
        ("inviter_id", "int32", "index"),
    ],
    "tokens": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char(48)", "unique"), ("status", "int", "default:1"),
        ("name", "str", "index"), ("created_time", "int", ""), ("accessed_time", "int", ""),
        ("expired_time", "int", "default:-1"), ("remain_quota", "int", "default:0"),
        ("unlimited_quota", "bool", "default:false"), ("used_quota", "int", "default:0"), ("models", "text", ""),
        ("subnet", "str", "default:''"),
    ],
    "channels": [
        ("id", "pk", ""), ("type", "int", "default:0"), ("key", "text", ""), ("status", "int", "default:1"),
        ("name", "str", "index"), ("weight", "uint", "default:0"), ("created_time", "int", ""),
        ("test_time", "int", ""), ("response_time", "int", ""), ("base_url", "str", "default:''"),
        ("other", "str", ""), ("balance", "float", ""), ("balance_updated_time", "int", ""), ("models", "str", ""),
        ("group", "varchar(32)", "default:'default'"), ("used_quota", "int", "default:0"),
        ("model_mapping", "varchar(1024)", "default:''"), ("priority", "int", "default:0"), ("config", "str", ""),
        ("system_prompt", "text", ""),
    ],
    "options": [("key", "str", "pk"), ("value", "str", "")],
    "redemptions": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char(32)", "unique"), ("status", "int", "default:1"),
        ("name", "str", "index"), ("quota", "int", "default:100"), ("created_time", "int", ""),
        ("redeemed_time", "int", ""),
    ],
    "abilities": [
        ("group", "varchar(32)", "pk"), ("model", "str", "pk"), ("channel_id", "int", "pk"), ("enabled", "bool", ""),
        ("priority", "int", "default:0"),
    ],
    "logs": [
        ("id", "pk", ""), ("user_id", "int", "index"), ("created_at", "int", "index"), ("type", "int", "index"),
        ("content", "str", ""), ("username", "str", "default:''"), ("token_name", "str", "default:''"),
        ("model_name", "str", "default:''"), ("quota", "int", "default:0"), ("prompt_tokens", "int", "default:0"),
        ("completion_tokens", "int", "default:0"), ("channel_id", "int", "index"), ("request_id", "str", "default:''"),
        ("elapsed_time", "int", "default:0"), ("is_stream", "bool", "default:false"),
        ("system_prompt_reset", "bool", "default:false"),
    ],
}  # fmt: skip

SCHEMAS = {"new-api": _NEW_API, "one-api": _ONE_API}

# GORM's column types per dialect (gorm.io/driver/mysql, postgres, sqlite): a Go `int` is 64 bits,
# `gorm:"type:int"` is 32, a string is longtext on MySQL unless it is indexed (then varchar(191)).
_TYPES = {
    "mysql": {"pk": "bigint AUTO_INCREMENT", "int": "bigint", "int32": "int", "uint": "bigint unsigned",
              "bool": "boolean", "text": "longtext", "str": "longtext", "float": "double",
              "time": "datetime(3) NULL", "json": "json"},
    "postgresql": {"pk": "bigserial", "int": "bigint", "int32": "integer", "uint": "bigint", "bool": "boolean",
                   "text": "text", "str": "text", "float": "decimal", "time": "timestamptz", "json": "json"},
    "sqlite": {"pk": "integer", "int": "integer", "int32": "integer", "uint": "integer", "bool": "numeric",
               "text": "text", "str": "text", "float": "real", "time": "datetime", "json": "JSON"},
}  # fmt: skip


def create_statements(kind: str, dialect: str) -> list[str]:
    statements = []
    for name, columns in SCHEMAS[kind].items():
        quote = "`" if dialect == "mysql" else '"'
        keys = [c for c, _, extra in columns if "pk" in extra]
        lines = []
        for col, col_type, extra in columns:
            sql_type = _TYPES[dialect].get(col_type, col_type)
            if dialect == "mysql" and col_type == "str" and ("unique" in extra or "index" in extra or "pk" in extra):
                sql_type = "varchar(191)"
            line = f"{quote}{col}{quote} {sql_type}"
            if col_type == "pk":
                line += " PRIMARY KEY" + (" AUTOINCREMENT" if dialect == "sqlite" else "")
            if "not null" in extra:
                line += " NOT NULL"
            if "default:" in extra:
                line += " DEFAULT " + extra.split("default:", 1)[1]
            if "unique" in extra:
                line += " UNIQUE"
            lines.append(line)
        if keys and not any(t == "pk" for _, t, _ in columns):
            lines.append("PRIMARY KEY (" + ", ".join(f"{quote}{k}{quote}" for k in keys) + ")")
        statements.append(f"CREATE TABLE {quote}{name}{quote} (" + ", ".join(lines) + ")")
    return statements


def new_key() -> str:
    """Their token keys: 48 letters and digits, stored without `sk-`."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))


def go_bcrypt(password: str) -> str:
    """A hash as Go's x/crypto/bcrypt writes it (`$2a$`); cost 4 keeps the tests quick."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()


@dataclass
class Source:
    kind: str
    dsn: str
    keys: dict[str, str] = field(default_factory=dict)  # token name -> their key
    codes: dict[str, str] = field(default_factory=dict)  # code name -> code
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


PASSWORDS = {"root": "their-root-password", "alice": "alice-old-password", "bob": "bob-old-password"}


def sample_rows(kind: str, upstream: str) -> Source:
    """A small, realistic install: three live users, a disabled and a deleted one, tokens of every
    sort, channels of served and unserved types, prices in their options, codes used and unused."""
    now = int(time.time())
    source = Source(kind, "")
    newapi = kind == "new-api"
    k = source.keys = {
        name: new_key() for name in ("prod", "unlimited", "expired", "disabled", "office", "nearly", "gone")
    }
    c = source.codes = {name: new_key()[:32] for name in ("fresh", "used", "late")}
    deleted_user = {"deleted_at": datetime(2025, 1, 2, 3, 4, 5)} if newapi else {"status": 3}

    def user(uid: int, name: str, **values: Any) -> dict[str, Any]:
        row = {"id": uid, "username": name, "password": go_bcrypt(PASSWORDS.get(name, "some-password")),
               "display_name": name.title(), "role": 1, "status": 1, "quota": 0, "used_quota": 0,
               "request_count": 0, "group": "default", "aff_code": f"af{uid:02d}", "email": f"{name}@example.com"}  # fmt: skip
        return row | values

    users = [
        user(1, "root", role=100, quota=500_000_000, used_quota=0),
        user(2, "alice", group="vip", quota=1_000_000, used_quota=250_000, request_count=42),
        user(3, "bob", role=10, quota=2_000_000, used_quota=1_000, request_count=3),
        user(4, "carol", status=2, quota=5_000),
        user(5, "dave", quota=7_000, **deleted_user),
    ]

    def token(tid: int, uid: int, name: str, **values: Any) -> dict[str, Any]:
        row = {"id": tid, "user_id": uid, "key": k[name], "status": 1, "name": name, "created_time": now - 86400,
               "accessed_time": now - 3600, "expired_time": -1, "remain_quota": 0, "unlimited_quota": False,
               "used_quota": 0}  # fmt: skip
        if newapi:
            limits = values.pop("models", "")
            row |= {"model_limits_enabled": bool(limits), "model_limits": limits, "group": values.pop("group", "")}
            row["allow_ips"] = values.pop("ips", "")
        else:
            row["models"] = values.pop("models", "")
            values.pop("group", None)
            row["subnet"] = values.pop("ips", "").replace("\n", ",")
        return row | values

    tokens = [
        token(1, 2, "prod", remain_quota=600_000, used_quota=150_000, models="gpt-4o-mini,gpt-4o"),
        token(2, 2, "unlimited", unlimited_quota=True, used_quota=50_000),
        token(3, 2, "expired", remain_quota=100_000, expired_time=now - 60, status=3),
        token(4, 2, "disabled", remain_quota=100_000, status=2),
        token(5, 3, "office", remain_quota=400_000, used_quota=1_000, ips="10.0.0.0/8\n192.168.1.5"),
        token(6, 3, "nearly", remain_quota=1, used_quota=0),
    ]
    if newapi:
        tokens.append(token(7, 2, "gone", remain_quota=5, used_quota=0, deleted_at=datetime(2025, 2, 3, 4, 5, 6)))

    def channel(cid: int, type_: int, name: str, **values: Any) -> dict[str, Any]:
        row = {"id": cid, "type": type_, "key": "upstream-key", "status": 1, "name": name, "weight": 0,
               "created_time": now - 86400, "base_url": "", "models": "gpt-4o-mini", "group": "default",
               "priority": 0, "model_mapping": "", "balance": 0.0, "used_quota": 12345}  # fmt: skip
        info = values.pop("channel_info", None)
        if newapi:
            row["channel_info"] = json.dumps(info or {"is_multi_key": False, "multi_key_size": 0})
        return row | values

    keys_text = "upstream-key-1\nupstream-key-2\nupstream-key-3"
    channels = [
        channel(1, 1, "fake openai", base_url=upstream, models="gpt-4o-mini,gpt-4o", group="default,vip",
                model_mapping='{"gpt-4o": "gpt-4o-mini"}', priority=5),
        channel(2, 1, "pool", base_url=upstream, key=keys_text if newapi else "upstream-key-pool", priority=0,
                channel_info={"is_multi_key": True, "multi_key_size": 3, "multi_key_mode": "random"}),
        channel(3, 15, "wenxin", models="ERNIE-4.0-8K", key="ak|sk"),
        channel(4, 3, "azure east", base_url="https://east.example.openai.azure.com", models="gpt-4o",
                other="2024-02-01", status=2),
        channel(5, 14, "claude", models="claude-3-5-sonnet-20241022", status=3),
    ]  # fmt: skip
    ratios = {
        "ModelRatio": {"gpt-4o-mini": 0.075, "gpt-4o": 1.25, "claude-3-5-sonnet-20241022": 1.5},
        "CompletionRatio": {"gpt-4o-mini": 4, "gpt-4o": 4, "claude-3-5-sonnet-20241022": 5},
        "ModelPrice": {"dall-e-3": 0.04},
        "GroupRatio": {"default": 1, "vip": 0.8},
    }
    if newapi:
        ratios["CacheRatio"] = {"gpt-4o-mini": 0.5}
    options = [{"key": name, "value": json.dumps(value)} for name, value in ratios.items()]
    options.append({"key": "QuotaPerUnit", "value": "500000"})

    def code(rid: int, name: str, **values: Any) -> dict[str, Any]:
        row = {"id": rid, "user_id": 1, "key": c[name], "status": 1, "name": name, "quota": 100_000,
               "created_time": now - 86400, "redeemed_time": 0}  # fmt: skip
        if newapi:
            row |= {"used_user_id": 0, "expired_time": values.pop("expired_time", 0)}
        else:
            values.pop("expired_time", None)
        return row | values

    redemptions = [
        code(1, "fresh", quota=300_000),
        code(2, "used", status=3, redeemed_time=now - 100, **({"used_user_id": 2} if newapi else {})),
    ]
    if newapi:
        redemptions.append(code(3, "late", expired_time=now - 10))

    def log(lid: int, token_id: int, token_name: str, quota: int, **values: Any) -> dict[str, Any]:
        row = {"id": lid, "user_id": 2, "created_at": now - 7200 + lid, "type": 2, "content": "", "username": "alice",
               "token_name": token_name, "model_name": "gpt-4o-mini", "quota": quota, "prompt_tokens": 1000,
               "completion_tokens": 200, "channel_id": 1, "is_stream": False}  # fmt: skip
        row |= (
            {"token_id": token_id, "use_time": 2, "ip": "203.0.113.7", "group": "vip"}
            if newapi
            else {"elapsed_time": 1500, "request_id": f"req-{lid}"}
        )
        return row | values

    logs = [log(1, 1, "prod", 120), log(2, 1, "prod", 80), log(3, 0, "", 0, type=1, content="top-up"),
            log(4, 2, "unlimited", 40)]  # fmt: skip
    abilities = [
        {"group": g, "model": m, "channel_id": 1, "enabled": True, "priority": 5} for g in ("default", "vip")
        for m in ("gpt-4o-mini", "gpt-4o")
    ]  # fmt: skip
    source.rows = {"users": users, "tokens": tokens, "channels": channels, "options": options,
                   "redemptions": redemptions, "abilities": abilities, "logs": logs}  # fmt: skip
    return source


ROOT_PASSWORD = "root-password-for-tests"


def fresh_gateway(tmp_path: Path, database_url: str = "") -> Deployment:
    """A migrated relaygate with its own root, as `relaygate serve` leaves it on first start."""
    gw = Deployment(tmp_path / "data", database_url)
    gw.cli("user", "list")  # migrates
    gw.db(lambda conn: ensure_root(conn, ROOT_PASSWORD))
    return gw


def counts(gw: Deployment) -> dict[str, int]:
    async def count(conn: AsyncConnection) -> dict[str, int]:
        found = {}
        for kept in (
            users,
            tokens,
            channels,
            groups,
            prices,
            redemption_codes,
            usage_records,
            ledger_entries,
            import_map,
        ):
            found[kept.name] = (await conn.execute(select(func.count()).select_from(kept))).scalar_one()
        return found

    return gw.db(count)


def build_source(kind: str, dsn: str, upstream: str) -> Source:
    """Create their tables in the (empty) database at `dsn` and fill them with `sample_rows`."""
    source = sample_rows(kind, upstream)
    source.dsn = dsn
    asyncio.run(_fill(source))
    return source


async def _fill(source: Source) -> None:
    url = make_url(source.dsn)
    dialect = url.get_backend_name()
    driver = {"mysql": "mysql+aiomysql", "postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}[dialect]
    engine = create_async_engine(url.set(drivername=driver))
    try:
        async with engine.begin() as conn:
            for statement in create_statements(source.kind, dialect):
                await conn.exec_driver_sql(statement)
            for name, rows in source.rows.items():
                names = [col for col, _, _ in SCHEMAS[source.kind][name]]
                target = table(name, *(column(col) for col in names))
                for row in rows:
                    unknown = set(row) - set(names)
                    assert not unknown, f"{name} has no columns {unknown}"
                    if dialect == "postgresql":  # timestamptz wants an aware time
                        row = {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for k, v in row.items()}
                    await conn.execute(insert(target).values(**row))
            if dialect == "postgresql":  # explicit ids: move the sequences past them, as a live install has
                for name, columns in SCHEMAS[source.kind].items():
                    if any(t == "pk" for _, t, _ in columns):
                        sql = f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                        sql += f'(SELECT COALESCE(MAX(id), 0) + 1 FROM "{name}"), false)'  # noqa: S608 - our names
                        await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()
