"""The charge of a request, in quota units, computed exactly (SPEC section 5)."""

from __future__ import annotations

import functools
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
    """ceil((input x in + cached x cached_in + output x out) x multiplier), in quota units.

    Exact: the prices are brought to one integer denominator once (`integer_rates`), so the
    per-request work is integer arithmetic and one ceiling division.
    """
    if price.per_call is not None:
        return math.ceil(price.per_call * UNITS_PER_USD * multiplier)
    rates = integer_rates(price)
    cached = min(max(usage.cached, 0), usage.prompt)
    numerator = (usage.prompt - cached) * rates.input + cached * rates.cached_input + usage.completion * rates.output
    numerator *= multiplier.numerator
    denominator = rates.denominator * multiplier.denominator
    return -(-numerator // denominator)


@dataclass(frozen=True)
class IntegerRates:
    """Quota units per token, as integers over one common denominator."""

    input: int
    cached_input: int
    output: int
    denominator: int


@functools.lru_cache(maxsize=4096)
def integer_rates(price: Price) -> IntegerRates:
    cached_price = price.cached_input if price.cached_input is not None else price.input
    per_token = [p * UNITS_PER_MILLION_TOKEN_USD for p in (price.input, cached_price, price.output)]
    denominator = math.lcm(*(rate.denominator for rate in per_token))
    numerators = [int(rate * denominator) for rate in per_token]
    return IntegerRates(numerators[0], numerators[1], numerators[2], denominator)
