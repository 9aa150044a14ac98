"""The login throttle's windows, with a hand-driven clock."""

from __future__ import annotations

import pytest

from relaygate.accounts.throttle import LoginThrottle
from relaygate.errors import TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_user_is_let_in_again_when_the_window_has_passed() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=2, per_ip=100, window=60, clock=clock)
    throttle.failed("Alice", "10.0.0.1")
    clock.now += 10
    throttle.failed("alice", "10.0.0.2")
    with pytest.raises(TooManyAttempts) as caught:
        throttle.check("ALICE", "10.0.0.3")
    assert caught.value.headers["Retry-After"] == "50"
    clock.now += 50
    throttle.check("alice", "10.0.0.3")  # the first failure left the window


def test_a_success_clears_the_user_but_not_the_address() -> None:
    throttle = LoginThrottle(per_user=2, per_ip=3, window=60, clock=Clock())
    throttle.failed("alice", "10.0.0.1")
    throttle.failed("alice", "10.0.0.1")
    throttle.succeeded("alice")
    throttle.check("alice", "10.0.0.2")
    throttle.failed("bob", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        throttle.check("carol", "10.0.0.1")
