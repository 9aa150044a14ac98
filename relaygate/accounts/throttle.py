"""Login throttling: too many failed logins for one user name, or from one address, get 429.

Counters live in this process (sliding windows); with several gateway processes each keeps its
own, which bounds a guesser at N times the limit, still far from a useful guessing rate.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from relaygate.errors import TooManyAttempts

PER_USER = 5
PER_IP = 20
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

    def check(self, username: str, ip: str) -> None:
        """Raise 429 with Retry-After when this user name or address has failed too often lately."""
        for scope, subject in (("user", username.lower()), ("ip", ip)):
            failures = self._recent(scope, subject)
            if len(failures) >= self._limits[scope]:
                wait = max(1, math.ceil(failures[0] + self._window - self._clock()))
                raise TooManyAttempts(
                    f"Too many failed logins {'for this account' if scope == 'user' else 'from this address'}: "
                    f"try again in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )

    def failed(self, username: str, ip: str) -> None:
        moment = self._clock()
        for key in (("user", username.lower()), ("ip", ip)):
            self._failures.setdefault(key, deque()).append(moment)

    def succeeded(self, username: str) -> None:
        self._failures.pop(("user", username.lower()), None)

    def _recent(self, scope: str, subject: str) -> deque[float]:
        failures = self._failures.get((scope, subject))
        if failures is None:
            return deque()
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[(scope, subject)]
        return failures
