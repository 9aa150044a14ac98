"""Expected charges, computed independently of the gateway's own code (prices per 1M tokens)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

UNITS_PER_USD = 500_000


def expected_charge(
    input_price: str,
    output_price: str,
    prompt: int,
    completion: int,
    multiplier: str = "1",
    *,
    cached: int = 0,
    cached_price: str | None = None,
    written_5m: int = 0,
    written_1h: int = 0,
    write_5m_price: str | None = None,
    write_1h_price: str | None = None,
) -> int:
    """ceil of the USD cost in units; `prompt` includes `cached`, charged at `cached_price`, and the
    prompt-cache writes, charged at their prices (Anthropic's 1.25 x and 2 x the input price unless given)."""
    price_in, price_out = Fraction(Decimal(input_price)), Fraction(Decimal(output_price))
    price_cached = Fraction(Decimal(cached_price)) if cached_price is not None else price_in
    price_5m = Fraction(Decimal(write_5m_price)) if write_5m_price is not None else price_in * Fraction("1.25")
    price_1h = Fraction(Decimal(write_1h_price)) if write_1h_price is not None else price_in * 2
    plain = prompt - cached - written_5m - written_1h
    usd = (
        price_in * plain
        + price_cached * cached
        + price_5m * written_5m
        + price_1h * written_1h
        + price_out * completion
    ) / 1_000_000
    return math.ceil(usd * UNITS_PER_USD * Fraction(Decimal(multiplier)))


def claude_charge(prompt: int, completion: int, cached: int = 0, written_5m: int = 0, written_1h: int = 0) -> int:
    """claude-* test models: 3 in, 0.3 cached in, 15 out (USD per 1M tokens); cache writes 3.75 and 6."""
    return expected_charge(
        "3", "15", prompt, completion, cached=cached, cached_price="0.3", written_5m=written_5m, written_1h=written_1h
    )


def gemini_charge(prompt: int, completion: int, cached: int = 0) -> int:
    """gemini-* test models: 0.3 in, 0.075 cached in, 2.5 out (USD per 1M tokens)."""
    return expected_charge("0.3", "2.5", prompt, completion, cached=cached, cached_price="0.075")


def mini_charge(prompt: int, completion: int) -> int:
    """gpt-4o-mini as the test gateway prices it: 0.15 in, 0.6 out."""
    return expected_charge("0.15", "0.6", prompt, completion)
