"""Prices per model and group multipliers: stored as decimal strings, held in memory as Fractions."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.money import UNITS_PER_USD, parse_usd
from relaygate.clock import now
from relaygate.errors import InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import groups, prices

UNITS_PER_MILLION_TOKEN_USD = Fraction(UNITS_PER_USD, 1_000_000)
PRICE_FIELDS = (
    "input",
    "cached_input",
    "output",
    "per_call",
    "audio_input",
    "audio_output",
    "cache_write_5m",
    "cache_write_1h",
)
# Anthropic's published prompt-cache write prices, as multiples of the input price.
CACHE_WRITE_5M_FACTOR = Fraction(5, 4)
CACHE_WRITE_1H_FACTOR = Fraction(2)
MAX_OUTPUT_TOKENS_LIMIT = 10_000_000


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens (input, cached input, output) or USD per call; and the model's output limit."""

    input: Fraction = Fraction(0)
    cached_input: Fraction | None = None
    output: Fraction = Fraction(0)
    per_call: Fraction | None = None
    audio_input: Fraction | None = None  # None: audio tokens cost what text tokens cost
    audio_output: Fraction | None = None
    cache_write_5m: Fraction | None = None  # None: 1.25 x the input price
    cache_write_1h: Fraction | None = None  # None: 2 x the input price
    max_output_tokens: int | None = None  # the most the model writes in one answer (None: not known)

    @functools.cached_property
    def rates(self) -> IntegerRates:
        """Quota units per token, as integers over one common denominator (computed once)."""
        cached_price = self.cached_input if self.cached_input is not None else self.input
        audio_in = self.audio_input if self.audio_input is not None else self.input
        audio_out = self.audio_output if self.audio_output is not None else self.output
        write_5m = self.cache_write_5m if self.cache_write_5m is not None else self.input * CACHE_WRITE_5M_FACTOR
        write_1h = self.cache_write_1h if self.cache_write_1h is not None else self.input * CACHE_WRITE_1H_FACTOR
        prices = (self.input, cached_price, self.output, audio_in, audio_out, write_5m, write_1h)
        per_token = [p * UNITS_PER_MILLION_TOKEN_USD for p in prices]
        denominator = math.lcm(*(rate.denominator for rate in per_token))
        numerators = [int(rate * denominator) for rate in per_token]
        return IntegerRates(
            input=numerators[0],
            cached_input=numerators[1],
            output=numerators[2],
            audio_input=numerators[3],
            audio_output=numerators[4],
            cache_write_5m=numerators[5],
            cache_write_1h=numerators[6],
            denominator=denominator,
        )


@dataclass(frozen=True)
class IntegerRates:
    input: int
    cached_input: int
    output: int
    audio_input: int
    audio_output: int
    cache_write_5m: int
    cache_write_1h: int
    denominator: int

    @functools.cached_property
    def prompt_bound(self) -> int:
        """The dearest rate a prompt token can be charged at when nothing is written to a cache."""
        return max(self.input, self.cached_input, self.audio_input)

    @functools.cached_property
    def prompt_bound_writing(self) -> int:
        """The dearest prompt rate for a request that may write a prompt cache (cache write prices too)."""
        return max(self.prompt_bound, self.cache_write_5m, self.cache_write_1h)

    def prompt_rate(self, writes_cache: bool) -> int:
        return self.prompt_bound_writing if writes_cache else self.prompt_bound

    @functools.cached_property
    def output_bound(self) -> int:
        return max(self.output, self.audio_output)


async def set_price(
    conn: AsyncConnection, model: str, values: dict[str, str | None], max_output_tokens: int | None = None
) -> dict[str, Any]:
    """Create or replace the price of `model`; unknown fields and negative prices are refused."""
    if not model:
        raise InvalidValue("model must not be empty", field="model")
    if max_output_tokens is not None and not 1 <= max_output_tokens <= MAX_OUTPUT_TOKENS_LIMIT:
        raise InvalidValue(
            f"max_output_tokens must be a whole number from 1 to {MAX_OUTPUT_TOKENS_LIMIT}", field="max_output_tokens"
        )
    clean: dict[str, str | None] = {}
    for name in PRICE_FIELDS:
        raw = values.get(name)
        if raw is None or raw == "":
            clean[name] = None
            continue
        amount = parse_usd(raw, field=name)
        if amount < 0:
            raise InvalidValue(f"{name} must not be negative", field=name)
        clean[name] = str(amount)
    if all(value is None for value in clean.values()):
        raise InvalidValue("give at least one price: input, cached-input, output or per-call")
    await conn.execute(delete(prices).where(prices.c.model == model))
    await conn.execute(
        prices.insert().values(model=model, updated_at=now(), max_output_tokens=max_output_tokens, **clean)
    )
    await record_change(conn, "price", model)
    return {"model": model, **clean, "max_output_tokens": max_output_tokens}


async def delete_price(conn: AsyncConnection, model: str) -> None:
    if (await conn.execute(delete(prices).where(prices.c.model == model))).rowcount == 0:
        raise NotFoundError(f"no price for model {model!r}")
    await record_change(conn, "price", model)


async def list_prices(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(prices).order_by(prices.c.model))).mappings().all()
    return [
        {
            "model": row["model"],
            **{name: row[name] for name in PRICE_FIELDS},
            "max_output_tokens": row["max_output_tokens"],
        }
        for row in rows
    ]


async def list_groups(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(groups).order_by(groups.c.sort_order, groups.c.name))).mappings().all()
    return [dict(row) for row in rows]


_ONE = Fraction(1)  # the multiplier of a group without one of its own


class PriceBook:
    """The in-memory price table the relay reads on every request."""

    def __init__(self) -> None:
        self._prices: dict[str, Price] = {}
        self._multipliers: dict[str, Fraction] = {}
        self._selectable: frozenset[str] = frozenset()
        self._auto_order: tuple[str, ...] = ()

    def load(self, price_rows: Iterable[dict[str, Any]], group_rows: Iterable[dict[str, Any]]) -> None:
        groups = list(group_rows)
        self._prices = {row["model"]: _price_from_row(row) for row in price_rows}
        self._multipliers = {row["name"]: Fraction(Decimal(row["multiplier"])) for row in groups}
        self._auto_order = tuple(row["name"] for row in groups if row.get("selectable"))  # rows come in sort order
        self._selectable = frozenset(self._auto_order)

    def selectable_groups(self) -> frozenset[str]:
        """The groups any user may give their tokens, besides their own."""
        return self._selectable

    def auto_order(self) -> tuple[str, ...]:
        """The selectable groups in the operator's order: what a token set to `auto` tries."""
        return self._auto_order

    def price_for(self, model: str) -> Price | None:
        return self._prices.get(model)

    def multiplier(self, group: str) -> Fraction:
        return self._multipliers.get(group, _ONE)


def _fraction(value: str | None) -> Fraction | None:
    return None if value is None else Fraction(Decimal(value))


def _price_from_row(row: dict[str, Any]) -> Price:
    return Price(
        input=_fraction(row["input"]) or Fraction(0),
        cached_input=_fraction(row["cached_input"]),
        output=_fraction(row["output"]) or Fraction(0),
        per_call=_fraction(row["per_call"]),
        audio_input=_fraction(row.get("audio_input")),
        audio_output=_fraction(row.get("audio_output")),
        cache_write_5m=_fraction(row.get("cache_write_5m")),
        cache_write_1h=_fraction(row.get("cache_write_1h")),
        max_output_tokens=row.get("max_output_tokens"),
    )
