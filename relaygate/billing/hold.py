"""The most a request may be charged, and the output a given amount pays for (SPEC section 5).

A hold prices every prompt token at the dearest prompt rate and every output token at the dearest
output rate, so for any real usage within the bounds (prompt <= its bound, output <= the limit the
upstream was given) `charge_for(usage) <= hold_for(...)`: no request is ever charged more than it
held. `affordable_output` inverts that: the largest output limit whose hold fits a budget.
"""

from __future__ import annotations

import math
from fractions import Fraction

from relaygate.billing.money import UNITS_PER_USD
from relaygate.billing.prices import Price


def hold_for(
    price: Price, multiplier: Fraction, prompt: int, output: int, calls: int = 1, *, writes_cache: bool = False
) -> int:
    """Quota units that cover any usage of at most `prompt` prompt and `output` output tokens.

    `writes_cache`: the request may write a prompt cache (it marks `cache_control`), so its prompt
    tokens are held at the cache write prices where those are dearer.
    """
    if price.per_call is not None:
        return math.ceil(price.per_call * UNITS_PER_USD * multiplier * max(calls, 0))
    rates = price.rates
    numerator = (prompt * rates.prompt_rate(writes_cache) + output * rates.output_bound) * multiplier.numerator
    return -(-numerator // (rates.denominator * multiplier.denominator))


def affordable_output(
    price: Price, multiplier: Fraction, prompt: int, budget: int, *, writes_cache: bool = False
) -> int | None:
    """The most output tokens whose hold, with `prompt`, fits `budget`; None when output costs nothing.

    Negative when not even the prompt fits.
    """
    if price.per_call is not None:
        return None
    rates = price.rates
    per_output = rates.output_bound * multiplier.numerator
    if per_output == 0:
        return None
    # hold_for(prompt, n) <= budget  <=>  (prompt * pb + n * ob) * m_num <= budget * den * m_den
    prompt_rate = rates.prompt_rate(writes_cache)
    room = budget * rates.denominator * multiplier.denominator - prompt * prompt_rate * multiplier.numerator
    return room // per_output
