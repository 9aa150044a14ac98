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
) -> int:
    """ceil of the USD cost in units; `prompt` includes `cached`, charged at `cached_price`."""
    price_in, price_out = Fraction(Decimal(input_price)), Fraction(Decimal(output_price))
    price_cached = Fraction(Decimal(cached_price)) if cached_price is not None else price_in
    usd = (price_in * (prompt - cached) + price_cached * cached + price_out * completion) / 1_000_000
    return math.ceil(usd * UNITS_PER_USD * Fraction(Decimal(multiplier)))


def claude_charge(prompt: int, completion: int, cached: int = 0) -> int:
    """claude-* test models: 3 in, 0.3 cached in, 15 out (USD per 1M tokens)."""
    return expected_charge("3", "15", prompt, completion, cached=cached, cached_price="0.3")


def gemini_charge(prompt: int, completion: int, cached: int = 0) -> int:
    """gemini-* test models: 0.3 in, 0.075 cached in, 2.5 out (USD per 1M tokens)."""
    return expected_charge("0.3", "2.5", prompt, completion, cached=cached, cached_price="0.075")


def mini_charge(prompt: int, completion: int) -> int:
    """gpt-4o-mini as the test gateway prices it: 0.15 in, 0.6 out."""
    return expected_charge("0.15", "0.6", prompt, completion)
