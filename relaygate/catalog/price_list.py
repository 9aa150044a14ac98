"""The price list a customer sees (`GET /api/pricing`), and the served models nobody can buy yet.

A model is listed for a group when a live channel serves it to that group and it has a price:
exactly what a request of that group can be served. Prices are USD per 1M tokens (or per call)
after the group's multiplier, as exact decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from relaygate.billing.prices import PRICE_FIELDS, Price, PriceBook
from relaygate.channels.registry import ChannelRegistry

ANONYMOUS_GROUP = "default"


def reachable_groups(own_group: str, selectable: Iterable[str] = ()) -> list[str]:
    """The groups whose channels a caller of `own_group` may use: their own, then the selectable
    ones in the operator's order (what a token set to `auto` tries)."""
    return [own_group, *(group for group in selectable if group != own_group)]


def price_list(channels: ChannelRegistry, prices: PriceBook, groups: Iterable[str]) -> list[dict[str, Any]]:
    """One entry per (group, model) a request can be served for, sorted by model then group order."""
    items: list[dict[str, Any]] = []
    for order, group in enumerate(groups):
        multiplier = prices.multiplier(group)
        for model in channels.models_for(group):
            price = prices.price_for(model)
            if price is not None:
                items.append(
                    {"model": model, "group": group, "multiplier": decimal_text(multiplier), "_order": order}
                    | priced(price, multiplier)
                )
    items.sort(key=lambda item: (item["model"], item.pop("_order")))
    return items


def priced(price: Price, multiplier: Fraction) -> dict[str, str | None]:
    """Each of the price's kinds times the multiplier; None where the price leaves a kind unset."""
    found: dict[str, str | None] = {}
    for kind in PRICE_FIELDS:
        value: Fraction | None = getattr(price, kind)
        found[kind] = None if value is None else decimal_text(value * multiplier)
    if price.per_call is not None and not (price.input or price.output):
        found["input"] = found["output"] = None  # a per-call model has no token prices
    return found


def unpriced_models(prices: PriceBook, models: Iterable[str]) -> list[str]:
    """The models among `models` that have no price (requests for them get 503 model_not_priced)."""
    return sorted({model for model in models if prices.price_for(model) is None})


def decimal_text(value: Fraction) -> str:
    """A fraction of decimal prices as its exact decimal text (their denominators divide a power of ten)."""
    with localcontext() as context:
        context.prec = 60
        text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
    return text
