"""Probes of auto-disabled channels and keys, every `RELAYGATE_CHANNEL_PROBE_INTERVAL` seconds.

Each auto-disabled key is sent one tiny real request (`relay/probe.py`); so is one enabled key of an
auto-disabled channel (an open circuit). A key that passes comes back; a channel comes back when
any of its probes passed. A channel or key an admin disabled is never probed nor brought back.
Every instance probes; the conditional writes of `health_state` make one of them announce a change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.channels import health_state
from relaygate.channels.alerts import AlertWebhook, health_event
from relaygate.channels.crypto import SecretBox
from relaygate.channels.health import KEY_FAILURE_STATUSES
from relaygate.channels.registry import Channel, channel_from_row
from relaygate.periodic import Periodic
from relaygate.settings import Settings

log = logging.getLogger(__name__)

Probe = Callable[[Channel, Settings], Awaitable[dict[str, Any]]]
"""Sends one tiny real request through a channel (the relay's `probe_channel`): status and error."""


class ChannelProber:
    def __init__(self, engine: AsyncEngine, box: SecretBox, settings: Settings, alerts: AlertWebhook, probe: Probe):
        self._engine = engine
        self._probe = probe
        self._box = box
        self._settings = settings
        self._alerts = alerts
        self._loop = Periodic("channel probes", self.probe_once, lambda: settings.channel_probe_interval)

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def probe_once(self) -> None:
        """One round over every unhealthy channel."""
        async with self._engine.connect() as conn:
            rows, keys = await health_state.unhealthy(conn)
        for row in rows:
            await self._probe_channel(row, [key for key in keys if key["channel_id"] == row["id"]])

    async def _probe_channel(self, row: Any, keys: list[Any]) -> None:
        probed = [key for key in keys if key["status"] == "auto_disabled"]
        if row["status"] == "auto_disabled":
            probed = [key for key in keys if key["status"] == "enabled"][:1] + probed
        passed, error = False, None
        for key_row in probed:
            channel = channel_from_row(row, key_row, self._box)
            result = await self._probe(channel, self._settings)
            if not _passed(result["status"]):
                error = result["error"] or f"upstream answered {result['status']}"
                continue
            passed = True
            if key_row["status"] == "auto_disabled":
                async with self._engine.begin() as conn:
                    restored = await health_state.restore_key(conn, row["id"], key_row["id"])
                if restored:
                    self._alerts.send(health_event("key_restored", channel, "a probe passed", key=True))
        async with self._engine.begin() as conn:
            restored = (
                passed and row["status"] == "auto_disabled" and await health_state.restore_channel(conn, row["id"])
            )
            await health_state.note_probe(conn, row["id"], error)
        if restored:
            self._alerts.send(health_event("channel_restored", channel, "a probe passed", key=False))


def _passed(status: int) -> bool:
    """What took a key or channel out (a refusal, no credit or quota, a 5xx, no answer) is gone.

    A 400 or 404 passes: the upstream answered and took the key, though maybe not the probe's chat
    request (an image-only channel, a task API).
    """
    return status < 500 and status not in KEY_FAILURE_STATUSES and status not in (408, 429)
