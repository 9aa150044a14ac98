"""Real servers on real sockets, each in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from aiohttp import web


class _PromptServer(uvicorn.Server):
    """uvicorn.Server whose main loop ends as soon as `request_exit()` is called: uvicorn's own notices
    `should_exit` at its next 0.1 s tick, which a suite stopping a gateway in most of its tests waited out
    each time. Its ticks run as ever until then (the Date header, the request limits)."""

    async def main_loop(self) -> None:
        self._exit_requested = asyncio.Event()
        ticking = asyncio.ensure_future(super().main_loop())
        asked = asyncio.ensure_future(self._exit_requested.wait())
        try:
            await asyncio.wait({ticking, asked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ticking, asked):
                task.cancel()
            await asyncio.gather(ticking, asked, return_exceptions=True)
        if not ticking.cancelled():
            ticking.result()  # what ended uvicorn's own loop, raised as it would be

    def request_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        self.should_exit = True
        if hasattr(self, "_exit_requested"):
            loop.call_soon_threadsafe(self._exit_requested.set)


class UvicornThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1 and a free port until `stop()`."""

    def __init__(self, app: Any):
        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            loop="asyncio",
            lifespan="on",
            ws="websockets-sansio",
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
        self.server = _PromptServer(self.config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self.loop.close()

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's own event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.request_exit(self.loop)
        self.thread.join(timeout=30)


class AiohttpThread:
    """Runs an aiohttp application on 127.0.0.1 and a free port until `stop()`."""

    def __init__(self, app: web.Application):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app, access_log=None)

    def start(self) -> str:
        self.thread.start()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

        async def serve() -> None:
            await self.runner.setup()
            await web.SockSite(self.runner, sock).start()

        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(timeout=10)
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
