"""The relay hot path, top to bottom: authorise, choose the protocol, quote, reserve, pick and send, answer, settle.

Authentication happens before (in the route, which knows where its protocol puts the key); this
module is the same for every protocol, which plugs in through an `Adapter`.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import orjson

from relaygate.auth.check import Principal, authorise_model
from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.estimate import estimate_prompt_tokens, requested_output_tokens
from relaygate.billing.ledger import Reservation
from relaygate.billing.prices import Price
from relaygate.clock import now
from relaygate.errors import GatewayError, ModelNotAvailable, ModelNotPriced, UpstreamUnreachable
from relaygate.relay.asgi import Receive, Send, send_bytes
from relaygate.relay.call import Adapter, RelayCall
from relaygate.relay.convert.adapter import choose_adapter
from relaygate.relay.http_client import HttpClientError, UpstreamResponse
from relaygate.relay.streaming import stream_events
from relaygate.runtime import Runtime

FREE = Price()  # what a free call (token counting) is charged: it still writes a usage record


async def relay(
    rt: Runtime, principal: Principal, call: RelayCall, adapter: Adapter, receive: Receive, send: Send
) -> None:
    authorise_model(principal, call.model)
    adapter = choose_adapter(rt.channels, principal.group, call, adapter)
    price, multiplier = quote(rt, principal, call.model)
    if call.free:
        price = FREE
    permit = await rt.limiter.acquire(principal.token, principal.user)
    try:
        reservation = await reserve(rt, principal, call, price, multiplier)
    except GatewayError:
        await rt.limiter.release(permit, 0)
        raise
    usage, status, channel_id, upstream_model = Usage(), 502, None, call.model
    try:
        channel, response = await rt.upstream.send(
            lambda tried: rt.channels.pick(principal.group, call.model, tried, adapter.channel_types),
            lambda chosen: adapter.build_request(chosen, call),
        )
        channel_id, upstream_model, status = channel.id, channel.upstream_model(call.model), response.status
        headers = permit.headers()  # x-request-id is added for every response by the app
        if call.stream and status == 200:
            await stream_events(response, tap := adapter.stream_tap(call), receive, send, headers)
            usage = tap.usage()
        else:
            body, usage = await read_whole(response, call, adapter)
            body = adapter.client_body(call, status, body, usage)
            content_type = response.headers.get("content-type", "application/json").encode("latin-1")
            await send_bytes(send, status, body, content_type, headers)
    except GatewayError as exc:
        status = exc.status
        raise
    finally:
        charge = charge_for(price, usage, multiplier) if 200 <= status < 300 else 0
        record = usage_record(principal, call, usage, status, channel_id, upstream_model)
        rt.metrics.observe(call.endpoint, call.model, status, charge, record["latency_ms"])
        try:
            await rt.ledger.settle(reservation, charge, record)
        finally:  # settled first: a Redis round trip for the limiter must never stand between a request and its bill
            await rt.limiter.release(permit, usage.prompt + usage.completion)


def require_channel(rt: Runtime, principal: Principal, model: str, types: frozenset[str]) -> None:
    """For routes that never convert between protocols: a channel of `types` must serve the model."""
    if not rt.channels.serves(principal.group, model, types):
        raise ModelNotAvailable(
            f"No {'/'.join(sorted(types))} channel serves the model {model!r} for the group {principal.group!r}: "
            "check the model name, or ask the operator to add a channel for it."
        )


def quote(rt: Runtime, principal: Principal, model: str) -> tuple[Price, Fraction]:
    price = rt.prices.price_for(model)
    if price is None:
        raise ModelNotPriced(
            f"The model {model!r} has no price yet, so it cannot be served: ask the operator to set one."
        )
    return price, rt.prices.multiplier(principal.group)


async def reserve(
    rt: Runtime, principal: Principal, call: RelayCall, price: Price, multiplier: Fraction
) -> Reservation:
    estimate = call.estimate or Usage(
        prompt=estimate_prompt_tokens(call.body),
        completion=requested_output_tokens(call.body, rt.settings.default_max_output_tokens) if call.generates else 0,
    )
    amount = charge_for(price, estimate, multiplier)
    return await rt.ledger.reserve(principal.token.id, principal.user.id, principal.token.quota_limit, amount)


async def read_whole(response: UpstreamResponse, call: RelayCall, adapter: Adapter) -> tuple[bytes, Usage]:
    """The upstream's whole answer and its usage (none for an error answer)."""
    try:
        body = await response.read()
    except (TimeoutError, HttpClientError) as exc:
        raise UpstreamUnreachable(
            f"The upstream provider broke off its answer ({type(exc).__name__}); try again."
        ) from exc
    finally:
        response.release()
    if not 200 <= response.status < 300:
        return body, Usage()
    return body, adapter.response_usage(call, _json_or_none(body))


def usage_record(
    principal: Principal,
    call: RelayCall,
    usage: Usage,
    status: int,
    channel_id: int | None,
    upstream_model: str,
) -> dict[str, Any]:
    return {
        "request_id": call.request_id,
        "user_id": principal.user.id,
        "token_id": principal.token.id,
        "channel_id": channel_id,
        "endpoint": call.endpoint,
        "model": call.model,
        "upstream_model": upstream_model,
        "prompt_tokens": usage.prompt,
        "cached_tokens": usage.cached,
        "completion_tokens": usage.completion,
        "latency_ms": int((time.perf_counter() - call.started) * 1000),
        "status_code": status,
        "stream": call.stream,
        "client_ip": principal.client_ip,
        "created_at": now(),
    }


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
