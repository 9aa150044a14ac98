"""The fake upstream over HTTP: an aiohttp app that speaks every protocol deterministically.

Routes: OpenAI (`openai`, `openai_responses`, `openai_media`, `openai_realtime`), Anthropic (`anthropic`),
Gemini (`gemini`), the Midjourney and Suno task APIs (`midjourney`, `suno`), and for tests
`GET /_fake/requests` (the last `REQUEST_LOG_SIZE` requests) and `DELETE /_fake/requests` (clears
them). What each answer contains is decided in `behaviour`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import orjson
from aiohttp import web

from relaygate.fakeupstream.admission import JSON_HEADERS, FakeUpstream
from relaygate.fakeupstream.anthropic import add_anthropic_routes
from relaygate.fakeupstream.gemini import add_gemini_routes
from relaygate.fakeupstream.midjourney import add_midjourney_routes
from relaygate.fakeupstream.openai import add_openai_routes
from relaygate.fakeupstream.openai_media import add_media_routes
from relaygate.fakeupstream.openai_realtime import add_realtime_routes
from relaygate.fakeupstream.openai_responses import add_responses_routes
from relaygate.fakeupstream.suno import add_suno_routes

MAX_BODY_BYTES = 64 * 1024 * 1024
# How long a stop waits for answers in flight (aiohttp's default is 60 s: a slow answer, say a
# `delay-ms` one, or a handler still finishing when the signal lands, held the process that long).
STOP_GRACE_S = 1.0


def create_fake_upstream_app(latency_ms: int = 0) -> web.Application:
    """A fresh fake upstream that waits `latency_ms` before every protocol answer."""
    upstream = FakeUpstream(latency_ms)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_openai_routes(app, upstream)
    add_responses_routes(app, upstream)
    add_media_routes(app, upstream)
    add_realtime_routes(app, upstream)
    add_anthropic_routes(app, upstream)
    add_gemini_routes(app, upstream)
    add_midjourney_routes(app, upstream)
    add_suno_routes(app, upstream)

    async def list_requests(request: web.Request) -> web.StreamResponse:
        return web.Response(body=orjson.dumps(list(upstream.request_log)), headers=JSON_HEADERS)

    async def clear_requests(request: web.Request) -> web.StreamResponse:
        upstream.request_log.clear()
        return web.Response(status=204)

    app.router.add_get("/_fake/requests", list_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    return app


def run_fake_upstream(host: str, port: int, latency_ms: int) -> None:
    """Serve a fake upstream until SIGINT or SIGTERM, on uvloop when it is installed.

    Prints `fake-upstream listening on http://HOST:PORT` once listening, with the bound port when
    `port` is 0.
    """
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
        runner.run(_serve(create_fake_upstream_app(latency_ms), host, port))


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # optional, and only the blocking runner wants it
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(app: web.Application, host: str, port: int) -> None:
    # Both stop signals end the wait below, installed before the address is announced: whoever
    # reads the address may signal at once. SIGINT is not left to asyncio.Runner, whose way is to
    # cancel this task mid-cleanup.
    stopped = asyncio.Event()
    with contextlib.suppress(ValueError, NotImplementedError):  # not the main thread, or Windows
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(stop_signal, stopped.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_GRACE_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"fake-upstream listening on http://{host}:{runner.addresses[0][1]}", flush=True)
        await stopped.wait()
    finally:
        await runner.cleanup()
