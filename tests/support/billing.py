"""Expected charges, computed independently of the gateway's own code (prices per 1M tokens)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

UNITS_PER_USD = 500_000


def expected_charge(input_price: str, output_price: str, prompt: int, completion: int, multiplier: str = "1") -> int:
    usd = (Fraction(Decimal(input_price)) * prompt + Fraction(Decimal(output_price)) * completion) / 1_000_000
    return math.ceil(usd * UNITS_PER_USD * Fraction(Decimal(multiplier)))


def mini_charge(prompt: int, completion: int) -> int:
    """gpt-4o-mini as the test gateway prices it: 0.15 in, 0.6 out."""
    return expected_charge("0.15", "0.6", prompt, completion)
