"""`RELAYGATE_ALERT_WEBHOOK`: a JSON event POSTed for every automatic change of a channel or key.

An event is `{"event", "channel_id", "channel_name", "key_id", "key_hint", "reason", "at"}` with
`event` one of `key_auto_disabled`, `channel_auto_disabled`, `key_restored`, `channel_restored`
(`key_id` and `key_hint` null for a channel event). Sent in the background, so a slow or failing
webhook never holds up a request; a failure is logged and the event is not retried.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from relaygate.channels.registry import Channel
from relaygate.clock import now

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


def health_event(event: str, channel: Channel, reason: str | None, *, key: bool) -> dict[str, Any]:
    return {
        "event": event,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "key_id": channel.key_id if key else None,
        "key_hint": channel.key_hint if key else None,
        "reason": reason,
        "at": now(),
    }


class AlertWebhook:
    """Posts events to one URL (none: events are only logged)."""

    def __init__(self, url: str):
        self._url = url
        self._sends: set[asyncio.Task[None]] = set()

    def send(self, event: dict[str, Any]) -> None:
        log.warning("channel health: %s", event["event"], extra={"alert": event})
        if not self._url:
            return
        task = asyncio.get_running_loop().create_task(self._post(event))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def drain(self) -> None:
        """Wait for events still being sent (at shutdown)."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    async def _post(self, event: dict[str, Any]) -> None:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session,
                session.post(self._url, json=event) as response,
            ):
                if response.status >= 400:
                    log.warning("the alert webhook answered %d", response.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("the alert webhook could not be reached: %s", type(exc).__name__)
