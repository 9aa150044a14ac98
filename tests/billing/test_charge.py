from __future__ import annotations

from fractions import Fraction

import pytest

from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.money import usd_to_units
from relaygate.billing.prices import Price


def test_charge_is_exact_and_rounds_up_once() -> None:
    price = Price(input=Fraction("0.15"), output=Fraction("0.6"))
    # (1000 x 0.15 + 333 x 0.6) / 1e6 USD = 0.0003498 USD = 174.9 units
    assert charge_for(price, Usage(prompt=1000, completion=333), Fraction(1)) == 175


def test_cached_tokens_use_the_cached_price_and_multiplier_applies_before_rounding() -> None:
    price = Price(input=Fraction(2), cached_input=Fraction(1), output=Fraction(8))
    usage = Usage(prompt=1000, cached=400, completion=100)
    # (600 x 2 + 400 x 1 + 100 x 8) / 1e6 x 500000 = 1200 units, x 1.5
    assert charge_for(price, usage, Fraction(3, 2)) == 1800


def test_per_call_price() -> None:
    assert charge_for(Price(per_call=Fraction("0.04")), Usage(), Fraction(1)) == 20_000


def test_a_billion_tokens_stays_exact() -> None:
    price = Price(input=Fraction("0.1"), output=Fraction("0.3"))
    assert charge_for(price, Usage(prompt=10**9, completion=10**9), Fraction(1)) == 200_000_000


@pytest.mark.parametrize(("usd", "units"), [("1", 500_000), ("0.000002", 1), ("12.5", 6_250_000), ("-1", -500_000)])
def test_usd_to_units(usd: str, units: int) -> None:
    assert usd_to_units(usd) == units


@pytest.mark.parametrize("usd", ["0.000001", "abc", "nan", "inf"])
def test_usd_to_units_refuses_what_is_not_a_whole_unit(usd: str) -> None:
    with pytest.raises(ValueError, match=r"USD|US dollars"):
        usd_to_units(usd)
