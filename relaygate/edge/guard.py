"""The limits of the HTTP edge, and the per-process state that enforces the connection budget.

A connection is *waiting* from the moment it is accepted (or its last response ended) until its
next request's headers are complete: that is all a slowloris client ever is. When the process
holds its budget of connections, the longest-waiting one is closed to make room, so slow clients
can never take the file descriptors that real requests need.
"""

from __future__ import annotations

import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("relaygate.edge")

REPORT_INTERVAL_S = 10.0  # closed connections are summed into one log line per interval, not one each
_FD_RESERVE_MIN = 128  # descriptors kept for the database, Redis, upstream connections and files


class Sheddable(Protocol):
    def shed(self) -> None: ...


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int  # request line and headers together; 431 beyond
    header_timeout: float  # seconds from a request's first byte (or the accept) to its last header byte
    linger_timeout: float  # how long an unread request body is drained after an early answer (413)
    max_connections: int  # 0: derived from the process's open-file limit


def connection_budget(configured: int) -> int:
    """`configured`, or what the open-file limit leaves after a reserve for everything else."""
    if configured > 0:
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65536
    return max(16, soft - max(_FD_RESERVE_MIN, soft // 4))


@dataclass
class EdgeGuard:
    """Shared by every connection of one process (a copy per worker: it is pickled without state)."""

    limits: EdgeLimits
    waiting: dict[Sheddable, None] = field(default_factory=dict)  # insertion order = longest waiting first
    closed: Counter[str] = field(default_factory=Counter)
    _budget: int = 0
    _reported_at: float = 0.0

    @property
    def budget(self) -> int:
        if not self._budget:
            self._budget = connection_budget(self.limits.max_connections)
        return self._budget

    def make_room(self, open_connections: int) -> None:
        """Close the longest-waiting connections while the process is over its budget."""
        while open_connections > self.budget and self.waiting:
            oldest = next(iter(self.waiting))
            self.waiting.pop(oldest)
            oldest.shed()
            open_connections -= 1

    def count_closed(self, reason: str) -> None:
        self.closed[reason] += 1
        now = time.monotonic()
        if now - self._reported_at >= REPORT_INTERVAL_S:
            self._reported_at = now
            summary = ", ".join(f"{count} {why}" for why, count in sorted(self.closed.items()))
            log.warning("closed client connections at the HTTP edge: %s", summary, extra=dict(self.closed))
            self.closed.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"limits": self.limits}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["limits"])  # type: ignore[misc]
