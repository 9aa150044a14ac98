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


def test_audio_tokens_use_the_audio_prices_when_set_and_the_text_prices_otherwise() -> None:
    usage = Usage(prompt=1000, cached=100, audio_prompt=300, completion=200, audio_completion=150)
    text_only = Price(input=Fraction(4), cached_input=Fraction(1), output=Fraction(16))
    # (600 x 4 + 100 x 1 + 300 x 4 + 200 x 16) / 1e6 USD x 500000 = 3450 units
    assert charge_for(text_only, usage, Fraction(1)) == 3450
    with_audio = Price(
        input=Fraction(4),
        cached_input=Fraction(1),
        output=Fraction(16),
        audio_input=Fraction(32),
        audio_output=Fraction(64),
    )
    # (600 x 4 + 100 x 1 + 300 x 32 + 50 x 16 + 150 x 64) / 2 = 11250 units
    assert charge_for(with_audio, usage, Fraction(1)) == 11250


def test_realtime_and_chat_usage_report_their_audio_tokens() -> None:
    from relaygate.relay.openai.usage import usage_from

    realtime = {
        "usage": {
            "input_tokens": 120, "output_tokens": 80,
            "input_token_details": {"cached_tokens": 20, "text_tokens": 40, "audio_tokens": 80},
            "output_token_details": {"text_tokens": 30, "audio_tokens": 50},
        }
    }  # fmt: skip
    assert usage_from(realtime) == Usage(prompt=120, completion=80, cached=20, audio_prompt=80, audio_completion=50)
    chat = {
        "usage": {
            "prompt_tokens": 10, "completion_tokens": 7,
            "prompt_tokens_details": {"audio_tokens": 4}, "completion_tokens_details": {"audio_tokens": 5},
        }
    }  # fmt: skip
    assert usage_from(chat) == Usage(prompt=10, completion=7, audio_prompt=4, audio_completion=5)
