"""The charge of a request, in quota units, computed exactly (SPEC section 5)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from relaygate.billing.money import UNITS_PER_USD
from relaygate.billing.prices import Price


class Usage(NamedTuple):
    """Tokens of one request. `prompt` includes `cached` (as OpenAI reports it).

    `calls` counts what a per-call price is charged for: 1 for most requests, the images made for
    an image generation, 0 when a per-call priced answer turns out to be free.

    Immutable; a NamedTuple rather than a frozen dataclass, which takes several times as long to
    build (a request builds one or two).
    """

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    calls: int = 1
    audio_prompt: int = 0  # the audio part of `prompt` (Realtime, audio chat models)
    audio_completion: int = 0  # the audio part of `completion`
    cache_write_5m: int = 0  # the part of `prompt` written to a prompt cache kept 5 minutes (Anthropic)
    cache_write_1h: int = 0  # ... and to one kept an hour


def implausible(*counts: object) -> bool:
    """Reported token counts not to be believed: a negative one, or none above zero (every request has
    a prompt). Such usage is counted locally, as if none had been reported."""
    positive = False
    for count in counts:
        if isinstance(count, int) and not isinstance(count, bool):
            if count < 0:
                return True
            positive = positive or count > 0
    return not positive


def charge_for(price: Price, usage: Usage, multiplier: Fraction) -> int:
    """ceil((input x in + cached x cached_in + output x out) x multiplier), in quota units.

    Audio tokens are charged at the audio prices when the price has them, else as text; prompt-cache
    writes at the write price of their kind.

    A per-call price, when set, replaces the token prices: ceil(per_call x calls x multiplier).

    Exact: the prices are brought to one integer denominator once (`Price.rates`), so the
    per-request work is integer arithmetic and one ceiling division.
    """
    if price.per_call is not None:
        return math.ceil(price.per_call * UNITS_PER_USD * multiplier * max(usage.calls, 0))
    rates = price.rates
    cached = min(max(usage.cached, 0), usage.prompt)
    write_5m = min(max(usage.cache_write_5m, 0), usage.prompt - cached)
    write_1h = min(max(usage.cache_write_1h, 0), usage.prompt - cached - write_5m)
    audio_in = min(max(usage.audio_prompt, 0), usage.prompt - cached - write_5m - write_1h)
    audio_out = min(max(usage.audio_completion, 0), usage.completion)
    numerator = (
        (usage.prompt - cached - write_5m - write_1h - audio_in) * rates.input
        + cached * rates.cached_input
        + write_5m * rates.cache_write_5m
        + write_1h * rates.cache_write_1h
        + audio_in * rates.audio_input
        + (usage.completion - audio_out) * rates.output
        + audio_out * rates.audio_output
    )
    numerator *= multiplier.numerator
    denominator = rates.denominator * multiplier.denominator
    return -(-numerator // denominator)
