"""Prices and groups from their options: ModelRatio, CompletionRatio, ModelPrice, CacheRatio, GroupRatio.

Their model ratio 1 is USD 0.002 per 1K input tokens, i.e. USD 2 per 1M: relaygate's input price is
ratio x 2, output = input x completion ratio, cached input = input x cache ratio; ModelPrice is USD
per call and wins over the ratio there, so it does here. GroupRatio becomes the groups' multipliers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.groups import create_group, update_group
from relaygate.billing.prices import PRICE_FIELDS, set_price
from relaygate.errors import ConflictError, InvalidValue
from relaygate.importer.context import ImportContext
from relaygate.store.schema import groups, prices

USD_PER_MILLION_AT_RATIO_1 = Decimal(2)


async def import_groups(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("groups")
    ratios = ctx.json_option("GroupRatio", "groups")
    for name, ratio in ctx.progress.each("groups", sorted(ratios.items())):
        if ctx.map.get("group", name) is not None:
            part.already += 1
            continue
        multiplier = _decimal(ratio)
        if multiplier is None or multiplier < 0:
            part.skip(name, f"its ratio {ratio!r} is not a number of at least 0")
            continue
        existing = (await conn.execute(select(groups.c.multiplier).where(groups.c.name == name))).scalar()
        try:
            if existing is None:
                await create_group(conn, name, _text(multiplier), f"imported from {ctx.kind}")
            elif Decimal(existing) != multiplier:
                await update_group(conn, name, {"multiplier": _text(multiplier)})
                part.notes.append(f"group {name!r}: multiplier {existing} replaced by {ctx.kind}'s {_text(multiplier)}")
        except (InvalidValue, ConflictError) as exc:
            part.skip(name, str(exc))
            continue
        await ctx.map.remember(conn, "group", name, name)
        part.imported += 1


async def ensure_group(conn: AsyncConnection, ctx: ImportContext, name: str, used_by: str) -> bool:
    """A group that users, tokens or channels name but GroupRatio does not: created with multiplier 1.
    False when the name cannot be a relaygate group."""
    if name in ctx.known_groups:
        return True
    if (await conn.execute(select(groups.c.name).where(groups.c.name == name))).first() is not None:
        ctx.known_groups.add(name)
        return True
    try:
        await create_group(conn, name, "1", f"imported from {ctx.kind}")
    except InvalidValue:
        return False
    ctx.known_groups.add(name)
    ctx.part("groups").notes.append(f"group {name!r} (of {used_by}) had no GroupRatio: created with multiplier 1")
    return True


async def import_prices(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("prices")
    model_ratio = ctx.json_option("ModelRatio", "prices")
    completion_ratio = ctx.json_option("CompletionRatio", "prices")
    model_price = ctx.json_option("ModelPrice", "prices")
    cache_ratio = ctx.json_option("CacheRatio", "prices")
    no_completion = []
    for model in ctx.progress.each("prices", sorted(set(model_ratio) | set(model_price))):
        if ctx.map.get("price", model) is not None:
            part.already += 1
            continue
        values: dict[str, str | None] = {}
        if model in model_price:
            per_call = _decimal(model_price[model])
            if per_call is None or per_call < 0:
                part.skip(model, f"its ModelPrice {model_price[model]!r} is not a number of at least 0")
                continue
            values["per_call"] = _text(per_call)
        else:
            ratio = _decimal(model_ratio[model])
            if ratio is None or ratio < 0:
                part.skip(model, f"its ModelRatio {model_ratio[model]!r} is not a number of at least 0")
                continue
            input_price = ratio * USD_PER_MILLION_AT_RATIO_1
            completion = _decimal(completion_ratio.get(model))
            if completion is None:
                no_completion.append(model)
                completion = Decimal(1)
            values["input"] = _text(input_price)
            values["output"] = _text(input_price * completion)
            cache = _decimal(cache_ratio.get(model))
            if cache is not None:
                values["cached_input"] = _text(input_price * cache)
        before = (await conn.execute(select(prices).where(prices.c.model == model))).mappings().first()
        await set_price(conn, model, values)
        if before is not None and any(before[name] != values.get(name) for name in PRICE_FIELDS):
            part.notes.append(f"{model}: relaygate's price replaced by {ctx.kind}'s")
        await ctx.map.remember(conn, "price", model, model)
        part.imported += 1
    if no_completion:
        part.notes.append(
            f"{len(no_completion)} models have no CompletionRatio in the options ({', '.join(no_completion[:5])}"
            f"{', ...' if len(no_completion) > 5 else ''}): {ctx.kind} used its built-in ratio there, relaygate "
            "prices their output as their input: check them with `relaygate price set`"
        )


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text if text != "-0" else "0"
