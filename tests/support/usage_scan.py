"""The usage analytics computed the slow way: from every usage record in Python, to check the rollups against.

Records created before the fold point count by their UTC day (a day counts when its midnight is in
[start rounded down to its day, end)), as folded usage always has; the rest by their own time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.prices import Price
from relaygate.billing.usage_queries import UsageFilter
from relaygate.billing.usage_record import UsageRecord
from relaygate.store.schema import channels, tokens, usage_records, users
from relaygate.tokens.service import create_tokens
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user

DAY = 86400
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-x")
COSTS = {"gpt-4o-mini": {"input": "0.1", "output": "0.3"}, "claude-x": {"per_call": "0.002"}}


@dataclass
class Accounts:
    users: list[int]
    tokens: list[tuple[int, int]]  # (user id, token id)
    channels: list[int]


async def make_accounts(engine: AsyncEngine) -> Accounts:
    """Three users (two groups), two tokens each (one with a group of its own), two channels (one costed)."""
    async with engine.begin() as conn:
        found = Accounts([], [], [])
        for index, group in enumerate(("default", "vip", "default")):
            user = await create_user(
                conn, NewUser(name=f"user{index}", password="password-123", balance=10**12, group=group)
            )
            found.users.append(user["id"])
            for spec in (TokenSpec(unlimited=True), TokenSpec(unlimited=True, group="vip")):
                [token] = await create_tokens(conn, user["id"], spec)
                found.tokens.append((user["id"], token["id"]))
        for name, costs in (("costed", COSTS), ("plain", None)):
            row = await conn.execute(
                insert(channels).values(
                    name=name,
                    type="openai",
                    base_url="http://127.0.0.1:1",
                    key_encrypted="x",
                    key_hint="x",
                    models=list(MODELS),
                    model_map={},
                    groups=["default"],
                    cost_prices=costs,
                    created_at=1,
                )
            )
            found.channels.append(int(row.inserted_primary_key[0]))
    return found


def random_records(rng: random.Random, accounts: Accounts, count: int, start: int, end: int) -> list[UsageRecord]:
    """Records spread over [start, end): every user, token (or none), channel (or none), model, serving group
    (or none recorded), status and overrun."""
    found = []
    for _ in range(count):
        user_id, token_id = rng.choice(accounts.tokens)
        status = rng.choice((200, 200, 200, 200, 302, 429, 500))
        found.append(
            UsageRecord(
                request_id=f"r{rng.getrandbits(40)}",
                user_id=user_id,
                token_id=token_id if rng.random() > 0.05 else None,
                channel_id=rng.choice([*accounts.channels, None]),
                endpoint="chat.completions",
                model=rng.choice(MODELS),
                upstream_model="m",
                group=rng.choice(("default", "vip", "")),
                prompt_tokens=rng.randrange(0, 3000),
                cached_tokens=rng.randrange(0, 50),
                completion_tokens=rng.randrange(0, 2000),
                quota=rng.randrange(0, 5000) if status < 400 else 0,
                latency_ms=rng.randrange(1, 3000),
                status_code=status,
                stream=rng.random() < 0.5,
                client_ip="127.0.0.1",
                created_at=rng.randrange(start, end),
                overrun=rng.randrange(1, 900) if rng.random() < 0.05 else 0,
                cache_write_5m_tokens=rng.randrange(0, 20),
            )
        )
    return found


@dataclass
class Scan:
    """Every record ever written, and the groups of tokens and users (the serving group falls back to them)."""

    records: list[dict[str, Any]]
    token_groups: dict[int, str | None]
    user_groups: dict[int, str]
    costs: dict[int, dict[str, dict[str, str]]]

    @classmethod
    async def read(cls, conn: AsyncConnection) -> Scan:
        return cls(
            records=[dict(row) for row in (await conn.execute(select(usage_records))).mappings()],
            token_groups={row.id: row.group for row in await conn.execute(select(tokens.c.id, tokens.c.group))},
            user_groups={row.id: row.group for row in await conn.execute(select(users.c.id, users.c.group))},
            costs={
                row.id: row.cost_prices or {}
                for row in await conn.execute(select(channels.c.id, channels.c.cost_prices))
            },
        )

    def summary(self, where: UsageFilter, by: str, zone: ZoneInfo | None = None, fold: int = 0) -> list[dict[str, Any]]:
        parts: dict[tuple[str, Any, str], dict[str, int]] = {}
        for record in self.records:
            moment = self._moment(record, where, fold)
            if moment is None or not self._owned(record, where):
                continue
            part = parts.setdefault((self._bucket(record, by, moment, zone), record["channel_id"], record["model"]), {})
            for name, value in _counts(record).items():
                part[name] = part.get(name, 0) + value
        totals: dict[str, dict[str, Any]] = {}
        for (name, channel_id, model), part in parts.items():
            total = totals.setdefault(name, {"key": name, "cost": None, "margin": None, "_latency": 0} | _zero())
            for field in _zero():
                total[field] += part[field]
            total["_latency"] += part["latency"]
            cost = _cost(self.costs.get(channel_id, {}).get(model), part)
            if cost is not None:
                total["cost"] = (total["cost"] or 0) + cost
                total["margin"] = (total["margin"] or 0) + part["quota"] - cost
        for total in totals.values():
            latency = total.pop("_latency")
            total["mean_latency_ms"] = round(latency / total["requests"], 1) if total["requests"] else 0.0
        return sorted(totals.values(), key=lambda total: total["key"])

    def charges(self, owner: str) -> dict[int, int]:
        found: dict[int, int] = {}
        for record in self.records:
            if record[owner] is not None:
                found[record[owner]] = found.get(record[owner], 0) + record["quota"]
        return found

    @staticmethod
    def _moment(record: dict[str, Any], where: UsageFilter, fold: int) -> int | None:
        """The moment a record counts at (its day's midnight when folded), or None when outside the range."""
        moment = record["created_at"]
        if moment < fold:
            day = moment - moment % DAY
            low = None if where.start is None else where.start - where.start % DAY
            inside = (low is None or day >= low) and (where.end is None or day < where.end)
            return day if inside else None
        inside = (where.start is None or moment >= where.start) and (where.end is None or moment < where.end)
        return moment if inside else None

    @staticmethod
    def _owned(record: dict[str, Any], where: UsageFilter) -> bool:
        return (
            (where.user_id is None or record["user_id"] == where.user_id)
            and (where.token_id is None or record["token_id"] == where.token_id)
            and (not where.model or record["model"] == where.model)
        )

    def _bucket(self, record: dict[str, Any], by: str, moment: int, zone: ZoneInfo | None) -> str:
        if by == "day":
            return datetime.fromtimestamp(moment, zone or UTC).date().isoformat()
        if by == "group":
            token_group = self.token_groups.get(record["token_id"]) if record["token_id"] else None
            return str(record["group"] or token_group or self.user_groups[record["user_id"]])
        value = record[{"model": "model", "user": "user_id", "token": "token_id", "channel": "channel_id"}[by]]
        return "" if value is None else str(value)


def _zero() -> dict[str, int]:
    return dict.fromkeys(("requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "quota"), 0)


def _counts(record: dict[str, Any]) -> dict[str, int]:
    return {
        "requests": 1,
        "errors": int(record["status_code"] >= 400),
        "served": int(record["status_code"] < 300),
        "prompt_tokens": record["prompt_tokens"],
        "cached_tokens": record["cached_tokens"],
        "completion_tokens": record["completion_tokens"],
        "quota": record["quota"],
        "latency": record["latency_ms"],
    }


def _cost(rates: dict[str, str] | None, part: dict[str, int]) -> int | None:
    if not rates:
        return None

    def usd(name: str) -> Fraction | None:
        return None if rates.get(name) is None else Fraction(Decimal(rates[name]))

    price = Price(
        input=usd("input") or Fraction(0),
        cached_input=usd("cached_input"),
        output=usd("output") or Fraction(0),
        per_call=usd("per_call"),
    )
    usage = Usage(
        prompt=part["prompt_tokens"],
        cached=part["cached_tokens"],
        completion=part["completion_tokens"],
        calls=part["served"],
    )
    return charge_for(price, usage, Fraction(1))
