"""Channel health: what an upstream's answer says about a key or a channel, and what follows.

- A key the upstream refuses (401, 403), that ran out of credit (402) or of quota (a 429 saying
  `insufficient_quota`) is auto-disabled at once, alone; the channel goes with its last key.
- A channel failing `RELAYGATE_CHANNEL_FAILURE_THRESHOLD` times in a row with a 5xx, 408 or no
  answer opens its circuit: it is auto-disabled until a probe passes (`channels/prober.py`).

Counting happens in memory, per instance; only a change of state is written (conditionally, so
one instance makes it) and put on the change feed, which carries it to every instance. The
channel leaves this instance's registry at once, before the write.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.channels import health_state
from relaygate.channels.alerts import AlertWebhook, health_event
from relaygate.channels.registry import Channel, ChannelRegistry

log = logging.getLogger(__name__)

KEY_FAILURE_STATUSES = frozenset({401, 402, 403})
QUOTA_CODES = ("insufficient_quota", "quota_exceeded", "billing_hard_limit_reached")


@dataclass(frozen=True)
class Verdict:
    """What one failed answer says: the key is bad (`key`), or the channel failed once (`server`)."""

    kind: str  # "key" | "server"
    reason: str


def judge(status: int, body: bytes, message: str = "") -> Verdict | None:
    """The verdict on an upstream's error answer (`message`: its error message, for the reason an admin
    reads); None when it says nothing about the channel (a 400, a rate limit)."""
    message = without_credentials(message[:160])
    if status in KEY_FAILURE_STATUSES:
        return Verdict("key", f"upstream answered {status}" + (f": {message}" if message else ""))
    if status == 429 and any(code in body.decode("utf-8", "replace").lower() for code in QUOTA_CODES):
        return Verdict("key", "upstream answered 429: quota exhausted" + (f" ({message})" if message else ""))
    if status == 408 or status >= 500:
        return Verdict("server", f"upstream answered {status}")
    return None


# An upstream's refusal may quote the key it refused (OpenAI: "Incorrect API key provided: sk-proj-ab***yz"):
# anything shaped like a credential is cut from a reason, which admins, logs and webhooks see.
_CREDENTIAL = re.compile(r"\b(?:sk|ak|rk|pk|key)[-_][\w\-*.]+|[\w\-*]{24,}", re.IGNORECASE)


def without_credentials(text: str) -> str:
    return _CREDENTIAL.sub("[redacted]", text)


def unreachable(error: str) -> Verdict:
    return Verdict("server", f"upstream unreachable ({error})")


class HealthMonitor:
    def __init__(self, engine: AsyncEngine, registry: ChannelRegistry, alerts: AlertWebhook, threshold: int):
        self._engine = engine
        self._registry = registry
        self._alerts = alerts
        self._threshold = threshold
        self._failures: dict[int, int] = {}  # channel id: failures in a row
        self._disabled_keys: set[int] = set()  # written already: requests racing on a bad key write once

    def served(self, channel: Channel) -> None:
        """The channel answered: its run of failures is over. No I/O: this is on every request."""
        if self._failures:
            self._failures.pop(channel.id, None)

    def reloaded(self) -> None:
        """The registry was reloaded from the database: what is out now stays out there, a key brought back may fail again."""
        self._disabled_keys.clear()

    def has_keys(self, channel_id: int) -> bool:
        """Whether the channel is still in this instance's registry with a live key."""
        return self._registry.live_keys(channel_id) > 0

    async def failed(self, channel: Channel, verdict: Verdict | None) -> None:
        if verdict is None:
            self.served(channel)  # it answered, even if the caller's request was bad
        elif verdict.kind == "key":
            await self._disable_key(channel, verdict.reason)
        else:
            await self._count_failure(channel, verdict.reason)

    async def _disable_key(self, channel: Channel, reason: str) -> None:
        reason = reason.replace(channel.key, "[redacted]") if channel.key else reason
        if channel.key_id == 0 or channel.key_id in self._disabled_keys:
            return  # a channel built for a one-off test, or a key already taken out
        self._disabled_keys.add(channel.key_id)
        self._registry.drop_key(channel.id, channel.key_id)
        async with self._engine.begin() as conn:
            changed = await health_state.auto_disable_key(conn, channel.id, channel.key_id, reason)
            last = changed and await health_state.enabled_keys_left(conn, channel.id) == 0
            closed = last and await health_state.auto_disable_channel(conn, channel.id, f"no usable key: {reason}")
        if changed:
            log.warning("channel %s: key %s auto-disabled: %s", channel.name, channel.key_hint, reason)
            self._alerts.send(health_event("key_auto_disabled", channel, reason, key=True))
        if closed:
            self._alerts.send(health_event("channel_auto_disabled", channel, f"no usable key: {reason}", key=False))

    async def _count_failure(self, channel: Channel, reason: str) -> None:
        count = self._failures.get(channel.id, 0) + 1
        self._failures[channel.id] = count
        if count < self._threshold:
            return
        self._failures.pop(channel.id, None)
        self._registry.drop_channel(channel.id)
        reason = f"circuit open: {count} failures in a row, the last: {reason}"
        async with self._engine.begin() as conn:
            changed = await health_state.auto_disable_channel(conn, channel.id, reason)
        if changed:
            log.warning("channel %s auto-disabled: %s", channel.name, reason)
            self._alerts.send(health_event("channel_auto_disabled", channel, reason, key=False))
