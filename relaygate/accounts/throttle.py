"""Login throttling: too many failed logins for one user name from one address, or from one
address over all names, get 429.

The per-name limit is per (name, address): five wrong passwords from an attacker's address lock
out that address, never the owner logging in from elsewhere. An attempt counts as failed from the
moment it begins until its password proves right, so concurrent attempts cannot overrun a limit
while their password checks (slow, on purpose) are still running.

Counters live in this process (sliding windows); with several gateway processes each keeps its
own, which bounds a guesser at N times the limit, still far from a useful guessing rate.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from relaygate.errors import TooManyAttempts

PER_USER = 5  # per user name and address
PER_IP = 20  # per address, over all user names
WINDOW_SECONDS = 900


class LoginThrottle:
    def __init__(
        self,
        per_user: int = PER_USER,
        per_ip: int = PER_IP,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._limits = {"user": per_user, "ip": per_ip}
        self._window = window
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def begin(self, username: str, ip: str) -> None:
        """Raise 429 with Retry-After when this name from this address, or this address, failed too
        often lately; otherwise count this attempt as a failure until `succeeded` says otherwise."""
        keys = _keys(username, ip)
        for scope, key in zip(("user", "ip"), keys, strict=True):
            failures = self._recent(key)
            if len(failures) >= self._limits[scope]:
                wait = max(1, math.ceil(failures[0] + self._window - self._clock()))
                raise TooManyAttempts(
                    f"Too many failed logins {'for this account' if scope == 'user' else 'from this address'}: "
                    f"try again in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )
        moment = self._clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(moment)

    def succeeded(self, username: str, ip: str) -> None:
        """The password was right: the name's failures from this address are forgiven, and this
        attempt no longer counts against the address."""
        user_key, ip_key = _keys(username, ip)
        self._failures.pop(user_key, None)
        failures = self._failures.get(ip_key)
        if failures:
            failures.pop()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures


def _keys(username: str, ip: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("user", f"{username.lower()}\n{ip}"), ("ip", ip)
