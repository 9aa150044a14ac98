"""The relay hot path, top to bottom: choose the protocol, admit, hold, pick and send, answer, settle.

Authentication happens before (in the route, which knows where its protocol puts the key); this
module is the same for every protocol, which plugs in through an `Adapter`. The money rules
(authorise, quote, permit, hold, settle, release) are `relay.lifecycle`'s.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.check import Principal
from relaygate.billing.charge import Usage
from relaygate.billing.estimate import prompt_token_bound, requested_output_tokens
from relaygate.billing.prices import Price
from relaygate.errors import UpstreamUnreachable
from relaygate.redact import redact_upstream_body
from relaygate.relay.asgi import Receive, Send, send_bytes
from relaygate.relay.call import Adapter, RelayCall
from relaygate.relay.client_watch import ClientWatch
from relaygate.relay.convert.adapter import choose_adapter
from relaygate.relay.convert.whole_answer import answer_as_stream, is_whole_answer
from relaygate.relay.lifecycle import Hold, admitted, holding
from relaygate.relay.streaming import stream_events
from relaygate.relay.unserved import unserved, usable_groups
from relaygate.runtime import Runtime
from relaygate.settings import Settings
from relaygate.upstream.http_client import HttpClientError, UpstreamResponse

CAPPED_HEADER = b"x-relaygate-output-capped"


async def relay(
    rt: Runtime, principal: Principal, call: RelayCall, adapter: Adapter, receive: Receive, send: Send
) -> None:
    route = lambda serving: choose_adapter(  # noqa: E731
        rt.channels, serving.group, call, adapter, usable_groups(rt, serving)
    )
    watch = ClientWatch(receive)
    async with admitted(rt, principal, call.model, route, free=call.free) as (admission, adapter):
        prompt, output, calls = exchange_bounds(call, admission.price, rt.settings)
        async with holding(admission, call, prompt, output, calls) as hold:
            call.output_limit = hold.output_limit
            try:
                await exchange(rt, admission.principal, call, adapter, hold, watch, send)
            finally:
                watch.stop()


async def exchange(
    rt: Runtime,
    principal: Principal,
    call: RelayCall,
    adapter: Adapter,
    hold: Hold,
    watch: ClientWatch,
    send: Send,
) -> None:
    """Send the call upstream and relay the answer; `hold` learns the channel, status and usage."""
    with watch.guarding():  # a client that leaves before the upstream answers cancels the wait
        channel, response = await rt.upstream.send(
            lambda tried: rt.channels.pick(principal.group, call.model, tried, adapter.channel_types),
            lambda chosen: adapter.build_request(chosen, call),
        )
    hold.served_by(channel.id, channel.upstream_model(call.model), response.status)
    headers = hold.admission.permit.headers()  # x-request-id is added for every response by the app
    if hold.capped and call.output_limit is not None:
        headers.append((CAPPED_HEADER, str(call.output_limit).encode()))
    if call.stream and response.status == 200 and is_whole_answer(response.headers.get("content-type", "")):
        body, hold.usage = await read_whole(response, call, adapter)
        events = answer_as_stream(call, adapter, body, hold.usage)
        if events is None:
            await send_bytes(send, 200, body, b"application/json", headers)
        else:
            await send_bytes(send, 200, events, b"text/event-stream", headers)
        return
    secrets = (channel.key,)
    if call.stream and response.status == 200:
        await stream_events(response, tap := adapter.stream_tap(call), watch, send, headers, secrets)
        hold.usage = tap.usage()
        return
    body, hold.usage = await read_whole(response, call, adapter)
    body = adapter.client_body(call, response.status, body, hold.usage)
    if not 200 <= response.status < 300:
        body = redact_upstream_body(body, secrets)  # an upstream's error text may echo its key
    content_type = response.headers.get("content-type", "application/json").encode("latin-1")
    await send_bytes(send, response.status, body, content_type, headers)


def exchange_bounds(call: RelayCall, price: Price, settings: Settings) -> tuple[int, int | None, int]:
    """(prompt token bound, output limit wanted, calls) of the hold a call needs.

    The output limit is the client's, else the protocol's default, else the model's maximum, else
    RELAYGATE_DEFAULT_MAX_OUTPUT_TOKENS, and never above the model's maximum. None for a call that
    generates nothing to limit; a route's own estimate (media) is held as it is.
    """
    if call.estimate is not None:
        return call.estimate.prompt, call.estimate.completion, call.estimate.calls
    prompt = prompt_token_bound(call.body)
    if not call.generates:
        return prompt, None, 1
    wanted = requested_output_tokens(call.body)
    if wanted is None:
        wanted = call.default_output or price.max_output_tokens or settings.default_max_output_tokens
    if price.max_output_tokens is not None:
        wanted = min(wanted, price.max_output_tokens)
    return prompt, wanted, 1


def require_channel(rt: Runtime, principal: Principal, model: str, types: frozenset[str]) -> None:
    """For routes that never convert between protocols: a channel of `types` must serve the model."""
    if not rt.channels.serves(principal.group, model, types):
        raise unserved(rt.channels, principal.group, usable_groups(rt, principal), model, types)


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


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
