"""`GET /v1/realtime?model=...`: an OpenAI Realtime WebSocket session, relayed both ways.

The key comes in the `openai-insecure-api-key.<key>` subprotocol (browsers) or as
`Authorization: Bearer` (servers). Everything that can fail before the session starts (the key,
the model, its price, reaching the upstream) is answered before the handshake completes, as an
HTTP error in the OpenAI shape. The upstream is the channel's base URL over ws:// or wss://, with
the channel's key and `OpenAI-Beta: realtime=v1`. Messages go through one at a time in each
direction, so a slow reader on either side slows the other (back-pressure), and every response is
held for and billed by `RealtimeMeter` before any of it reaches the client; when quota runs out,
the client gets an `error` event and the session is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from relaygate.auth.credentials import Family
from relaygate.channels.health import judge, unreachable
from relaygate.channels.registry import Channel
from relaygate.errors import BadRequest, GatewayError, UpstreamError, UpstreamUnreachable
from relaygate.redact import redact_upstream_text
from relaygate.relay.asgi import Receive, Scope, Send, header_map, query_map
from relaygate.relay.error_bodies import error_body
from relaygate.relay.lifecycle import Admission, admitted
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.relay.pipeline import require_channel
from relaygate.relay.realtime_meter import RealtimeMeter
from relaygate.relay.requests import authenticate_request
from relaygate.runtime import Runtime
from relaygate.upstream.client import upstream_base

log = logging.getLogger(__name__)
T = TypeVar("T")

PATH = "/v1/realtime"
CHANNEL_TYPES = OpenAIAdapter.channel_types
CLIENT_SUBPROTOCOL = "realtime"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # audio appends are large: the same limit as uvicorn's
MAX_RESPONSE_OUTPUT = 4096  # the largest output limit the Realtime API takes for one response
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_UPSTREAM_FAILED = 1011


class _SessionEnd(Exception):
    """Stop relaying: tell the client why (an `error` event), then close."""

    def __init__(self, error: GatewayError):
        super().__init__(error.message)
        self.error = error


async def realtime_session(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    """Serve one WebSocket connection to `/v1/realtime`."""
    if (await receive())["type"] != "websocket.connect":
        return
    try:
        async with contextlib.AsyncExitStack() as stack:
            _, meter, upstream = await _open(rt, scope, request_id, stack)
            offered = scope.get("subprotocols") or []
            accept: dict[str, Any] = {"type": "websocket.accept"}
            if CLIENT_SUBPROTOCOL in offered:
                accept["subprotocol"] = CLIENT_SUBPROTOCOL
            await send(accept)
            try:
                await upstream.send(orjson.dumps(meter.session_limit()).decode())
                await _relay(meter, upstream, receive, send)
            finally:
                await meter.close()  # before the closing handshake, which a busy upstream may take a while to answer
                await upstream.close()
    except _Denied as denied:
        await _deny(scope, send, denied.error)


class _Denied(Exception):
    """The session could not start: refuse the handshake with this error."""

    def __init__(self, error: GatewayError):
        super().__init__(error.message)
        self.error = error


async def _open(
    rt: Runtime, scope: Scope, request_id: str, stack: contextlib.AsyncExitStack
) -> tuple[Admission, RealtimeMeter, ClientConnection]:
    """Admit the session (its permit lasts as long as `stack`) and connect its upstream."""
    try:
        headers = header_map(scope)
        principal = await authenticate_request(rt, scope, Family.REALTIME, headers)
        model = query_map(scope).get("model", "")
        if not model:
            raise BadRequest(
                "The Realtime URL has no model: connect to /v1/realtime?model=MODEL_NAME.", code="missing_model"
            )
        route = lambda serving: require_channel(rt, serving, model, CHANNEL_TYPES)  # noqa: E731
        admission, _ = await stack.enter_async_context(admitted(rt, principal, model, route))
        channel, upstream = await _connect_upstream(rt, admission.principal.group, model)
    except GatewayError as error:
        raise _Denied(error) from error
    bound = min(admission.price.max_output_tokens or rt.settings.default_max_output_tokens, MAX_RESPONSE_OUTPUT)
    meter = RealtimeMeter(admission, channel.upstream_model(model), channel.id, request_id, bound, (channel.key,))
    return admission, meter, upstream


async def _connect_upstream(rt: Runtime, group: str, model: str) -> tuple[Channel, ClientConnection]:
    """The first channel that accepts the session, trying up to `RELAYGATE_RETRIES` others."""
    tried: set[int] = set()
    failure: GatewayError = UpstreamUnreachable("No upstream channel is available for this model; try again later.")
    for _ in range(rt.settings.retries + 1):
        channel = rt.channels.pick(group, model, tried, CHANNEL_TYPES)
        if channel is None:
            break
        tried.add(channel.id)
        try:
            upstream = await connect(
                upstream_url(channel, model),
                additional_headers={"Authorization": f"Bearer {channel.key}", "OpenAI-Beta": "realtime=v1"},
                open_timeout=rt.settings.connect_timeout,
                max_size=MAX_MESSAGE_BYTES,
                user_agent_header=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            log.warning("upstream %s refused a realtime session: %d", channel.name, status)
            await rt.upstream.judged(channel, judge(status, bytes(exc.response.body or b"")), tried)
            failure = UpstreamError(
                502 if status in (401, 403) else status, f"The upstream provider answered {status}."
            )
            continue
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            log.warning("upstream %s unreachable for realtime: %s", channel.name, type(exc).__name__)
            await rt.upstream.judged(channel, unreachable(type(exc).__name__), tried)
            failure = UpstreamUnreachable(
                f"The upstream provider could not be reached ({type(exc).__name__}); try again later."
            )
            continue
        await rt.upstream.judged(channel, None, tried)
        return channel, upstream
    raise failure


def upstream_url(channel: Channel, model: str) -> str:
    base = upstream_base(channel)
    scheme, _, rest = base.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest}{PATH}?model={channel.upstream_model(model)}"


async def _relay(meter: RealtimeMeter, upstream: ClientConnection, receive: Receive, send: Send) -> None:
    """Relay until one side leaves; then tell the client why, unless it was the one that left."""
    to_upstream = asyncio.create_task(_client_to_upstream(meter, upstream, receive))
    to_client = asyncio.create_task(_upstream_to_client(meter, upstream, send))
    done, pending = await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    finished = next(iter(done))
    outcome = finished.exception()
    if isinstance(outcome, _SessionEnd):
        await _end_session(send, outcome.error, CLOSE_NORMAL)
    elif finished is to_upstream and outcome is None:
        return  # the client left
    elif outcome is None or isinstance(outcome, (ConnectionClosed, OSError)):
        code = upstream.close_code
        await _close_client(send, code if code in (CLOSE_NORMAL, CLOSE_POLICY) else CLOSE_UPSTREAM_FAILED, "")
    else:
        raise outcome


async def _client_to_upstream(meter: RealtimeMeter, upstream: ClientConnection, receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            event = _event(text) if "response.create" in text or "session.update" in text else {}
            if event.get("type") == "response.create":
                text = orjson.dumps(await _hold(meter.hold_for_request(event))).decode()
            elif event.get("type") == "session.update":
                text = orjson.dumps(meter.bound_session_update(event)).decode()
            else:
                meter.note_client_event(text)
            await upstream.send(text)
        elif message.get("bytes") is not None:
            await upstream.send(message["bytes"])


async def _upstream_to_client(meter: RealtimeMeter, upstream: ClientConnection, send: Send) -> None:
    async for message in upstream:
        if isinstance(message, str):
            if "response.created" in message or "response.done" in message:
                event = _event(message)
                if event.get("type") == "response.created":
                    await _hold(meter.hold_for_start(event))
                elif event.get("type") == "response.done":
                    await _hold(meter.settle_done(event))
            elif '"error"' in message:  # an upstream's error text may echo its key
                message = redact_upstream_text(message, meter.upstream_secrets)
            await send({"type": "websocket.send", "text": message})
        else:
            await send({"type": "websocket.send", "bytes": bytes(message)})


async def _hold(holding: Awaitable[T]) -> T:
    try:
        return await holding
    except GatewayError as error:
        raise _SessionEnd(error) from error


def _event(text: str) -> dict[str, Any]:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


async def _end_session(send: Send, error: GatewayError, code: int) -> None:
    event = {
        "type": "error",
        "event_id": None,
        "error": {"type": error.kind, "code": error.code, "message": error.message, "param": error.param},
    }
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.send", "text": orjson.dumps(event).decode()})
    await _close_client(send, code, error.code)


async def _close_client(send: Send, code: int, reason: str) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.close", "code": code, "reason": reason})


async def _deny(scope: Scope, send: Send, error: GatewayError) -> None:
    """Refuse the handshake: an HTTP error in the OpenAI shape, or a close with the reason."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = error_body(Family.OPENAI, error)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
        await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    reason = f"{error.code}: {error.message}".encode()[:120].decode("utf-8", "ignore")
    await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": reason})
