"""Quota units: the integer money of the gateway. 1 USD = 500,000 units; no float touches a balance."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from relaygate.errors import InvalidValue

UNITS_PER_USD = 500_000


def parse_usd(text: str | int | float | Decimal, *, field: str = "usd") -> Decimal:
    """A USD amount from user input, as an exact Decimal (floats go through their shortest repr)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation as exc:
        raise InvalidValue(f"{field} must be a number of US dollars such as 12.5, got {text!r}", field=field) from exc
    if not value.is_finite():
        raise InvalidValue(f"{field} must be a finite number of US dollars, got {text!r}", field=field)
    return value


def usd_to_units(usd: str | int | float | Decimal, *, field: str = "usd") -> int:
    """Exact conversion; refuses amounts finer than one unit (0.000002 USD) rather than rounding money."""
    units = parse_usd(usd, field=field) * UNITS_PER_USD
    if units != units.to_integral_value():
        raise InvalidValue(f"{field} must be a multiple of 0.000002 USD (one quota unit), got {usd}", field=field)
    return int(units)


def units_to_usd(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_USD
