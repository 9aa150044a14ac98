"""Relaying a response to the client: whole, or event by event as the upstream sends them.

A stream is metered as it flows (`StreamTap.meter`): one that runs past the output limit its
upstream was given is ended there, as the protocol ends a length-limited answer, and the upstream
response is closed. One the upstream breaks off ends with the protocol's error event, never as a
silently truncated success.
"""

from __future__ import annotations

import logging

from relaygate.errors import UpstreamBrokeOff
from relaygate.redact import redact_upstream_body
from relaygate.relay.asgi import Send
from relaygate.relay.call import StreamTap
from relaygate.relay.client_watch import ClientWatch
from relaygate.relay.sse import EventFramer
from relaygate.upstream.http_client import HttpClientError, UpstreamResponse

log = logging.getLogger(__name__)

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def stream_events(
    response: UpstreamResponse,
    tap: StreamTap,
    watch: ClientWatch,
    send: Send,
    headers: list[tuple[bytes, bytes]],
    secrets: tuple[str, ...] = (),
) -> bool:
    """Forward the upstream's events with no buffering; returns False if the client left early.

    A client that disconnects closes the upstream response at once, so the provider stops
    generating and only what was produced is billed.
    """
    watch.on_leave_after_grace(response.close)
    framer = EventFramer()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
        async for chunk in response.iter_chunks():
            out, cut = _forward(framer.feed(chunk), tap, secrets)
            if cut:
                log.warning("an upstream stream ran past its output limit: ended there")
                await send({"type": "http.response.body", "body": out + tap.cut(), "more_body": False})
                return True
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        rest = framer.rest()
        out, cut = _forward([rest] if rest.strip() else [], tap, secrets)
        await send(
            {"type": "http.response.body", "body": out + (tap.cut() if cut else tap.close()), "more_body": False}
        )
    except (TimeoutError, HttpClientError) as exc:
        if not watch.left:
            log.warning("upstream stream broke off: %s", type(exc).__name__)
            broken = UpstreamBrokeOff(
                f"The upstream provider broke off its answer ({type(exc).__name__}); what was sent so far is "
                "billed: retry the request for a complete answer."
            )
            await _end(send, tap.fail(broken))
    except OSError:
        watch.left = True  # the server could not write to the client: it is gone
    finally:
        # A stream read to its end leaves its connection to the next request; one cut short (a
        # client gone, an output limit reached, a failure) is closed, so the upstream stops.
        response.release()
    return not watch.left


def _forward(events: list[bytes], tap: StreamTap, secrets: tuple[str, ...]) -> tuple[bytes, bool]:
    """What the client gets for these events, and whether the stream is now past its limit.

    An error event of the upstream's own is scrubbed of the channel's key and credential shapes.
    """
    out = []
    for event in events:
        over = tap.meter.feed(event)
        forwarded = tap.forward(event)
        out.append(redact_upstream_body(forwarded, secrets) if b'"error"' in forwarded else forwarded)
        if over:
            return b"".join(out), True
    return b"".join(out), False


async def _end(send: Send, body: bytes) -> None:
    try:
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except OSError:
        return
