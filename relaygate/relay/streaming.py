"""Relaying a response to the client: whole, or event by event as the upstream sends them."""

from __future__ import annotations

import asyncio
import logging

from relaygate.relay.asgi import Receive, Send
from relaygate.relay.call import StreamTap
from relaygate.relay.http_client import HttpClientError, UpstreamResponse
from relaygate.relay.sse import EventFramer

log = logging.getLogger(__name__)

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def stream_events(
    response: UpstreamResponse,
    tap: StreamTap,
    receive: Receive,
    send: Send,
    headers: list[tuple[bytes, bytes]],
) -> bool:
    """Forward the upstream's events with no buffering; returns False if the client left early.

    A client that disconnects closes the upstream response at once, so the provider stops
    generating and only what was produced is billed.
    """
    client_left = asyncio.Event()
    watcher = asyncio.create_task(_close_on_disconnect(receive, response, client_left))
    framer = EventFramer()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
        async for chunk in response.iter_chunks():
            out = b"".join(tap.forward(event) for event in framer.feed(chunk))
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        rest = framer.rest()
        out = (tap.forward(rest) if rest.strip() else b"") + tap.close()
        if out:
            await send({"type": "http.response.body", "body": out, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (TimeoutError, HttpClientError) as exc:
        if not client_left.is_set():
            log.warning("upstream stream broke off: %s", type(exc).__name__)
            await _end_quietly(send)
    except OSError:
        client_left.set()  # the server could not write to the client: it is gone
    finally:
        watcher.cancel()
        response.close()
    return not client_left.is_set()


async def _close_on_disconnect(receive: Receive, response: UpstreamResponse, client_left: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client_left.set()
            response.close()
            return


async def _end_quietly(send: Send) -> None:
    try:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        return
