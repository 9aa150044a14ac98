from __future__ import annotations

import pytest

from relaygate.limits.headers import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0ms"), (0.02, "20ms"), (0.9994, "999ms"), (1, "1s"), (1.5, "1.5s"), (59.25, "59.25s"), (60, "1m0s"),
     (360, "6m0s"), (61.5, "1m1.5s"), (3600, "1h0m0s"), (-3, "0ms")],
)  # fmt: skip
def test_durations_in_openai_format(seconds: float, text: str) -> None:
    assert duration(seconds) == text
