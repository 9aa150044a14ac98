"""A webhook receiver on a real socket: the JSON events a gateway POSTs to it, in arrival order."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.support.servers import AiohttpThread


class WebhookReceiver:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self._server = AiohttpThread(app)
        self.url = ""

    async def _receive(self, request: web.Request) -> web.Response:
        self.events.append(await request.json())
        return web.Response(status=204)

    def start(self) -> str:
        self.url = self._server.start() + "/hook"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def wait_for(self, event: str, timeout: float = 15) -> dict[str, Any]:
        """The first event named `event`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.events:
                if found["event"] == event:
                    return found
            time.sleep(0.02)
        raise AssertionError(f"no {event} event within {timeout} s; got {self.events}")
