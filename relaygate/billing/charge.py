"""The charge of a request, in quota units, computed exactly (SPEC section 5)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from relaygate.billing.money import UNITS_PER_USD
from relaygate.billing.prices import Price

UNITS_PER_MILLION_TOKEN_USD = Fraction(UNITS_PER_USD, 1_000_000)


@dataclass(frozen=True)
class Usage:
    """Tokens of one request. `prompt` includes `cached` (as OpenAI reports it)."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0


def charge_for(price: Price, usage: Usage, multiplier: Fraction) -> int:
    """ceil((input x in + cached x cached_in + output x out) x multiplier), in quota units."""
    if price.per_call is not None:
        return math.ceil(price.per_call * UNITS_PER_USD * multiplier)
    cached = min(max(usage.cached, 0), usage.prompt)
    cached_price = price.cached_input if price.cached_input is not None else price.input
    usd_per_million = (usage.prompt - cached) * price.input + cached * cached_price + usage.completion * price.output
    return math.ceil(usd_per_million * UNITS_PER_MILLION_TOKEN_USD * multiplier)
