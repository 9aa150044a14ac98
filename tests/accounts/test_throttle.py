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


def test_a_name_is_let_in_again_from_that_address_when_the_window_has_passed() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=2, per_ip=100, window=60, clock=clock)
    throttle.begin("Alice", "10.0.0.1")
    clock.now += 10
    throttle.begin("alice", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as caught:
        throttle.begin("ALICE", "10.0.0.1")
    assert caught.value.headers["Retry-After"] == "50"
    clock.now += 50
    throttle.begin("alice", "10.0.0.1")  # the first failure left the window


def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere() -> None:
    throttle = LoginThrottle(per_user=2, per_ip=100, window=60, clock=Clock())
    for _ in range(2):
        throttle.begin("alice", "203.0.113.9")  # the attacker's wrong guesses
    with pytest.raises(TooManyAttempts):
        throttle.begin("alice", "203.0.113.9")
    throttle.begin("alice", "10.0.0.1")  # the owner, from home
    throttle.succeeded("alice", "10.0.0.1")


def test_attempts_count_as_failed_while_their_passwords_are_checked() -> None:
    # Concurrent logins all begin before any password check ends: the limit must hold anyway.
    throttle = LoginThrottle(per_user=5, per_ip=100, window=60, clock=Clock())
    admitted = 0
    for _ in range(100):
        try:
            throttle.begin("alice", "203.0.113.9")
        except TooManyAttempts:
            continue
        admitted += 1
    assert admitted == 5


def test_a_success_clears_the_name_from_that_address_but_not_the_address() -> None:
    throttle = LoginThrottle(per_user=2, per_ip=3, window=60, clock=Clock())
    throttle.begin("alice", "10.0.0.1")
    throttle.begin("alice", "10.0.0.1")
    throttle.succeeded("alice", "10.0.0.1")
    throttle.begin("alice", "10.0.0.1")
    throttle.begin("bob", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        throttle.begin("carol", "10.0.0.1")
