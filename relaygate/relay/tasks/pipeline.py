"""The relay path of asynchronous task APIs (Midjourney, Suno): submit billed per call, fetch free.

A submit goes the billed lifecycle's way (authorise, quote, permit, hold, send, answer, settle) but is
charged only when the upstream accepted the task, which its answer's body says (a rejection often comes
with status 200); the accepted task id is stored with its owner and channel first, so a fetch that
follows at once finds it. A fetch reads only the caller's own tasks, from the channel that holds
each, and keeps the upstream's latest answer. Each platform plugs in through a `TaskProtocol`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.channels.registry import Channel
from relaygate.errors import (
    BadRequest,
    ModelNotAvailable,
    NotFound,
    UpstreamError,
    UpstreamUnreachable,
)
from relaygate.redact import redact_upstream_body, redact_upstream_text
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body, send_bytes
from relaygate.relay.call import RelayCall
from relaygate.relay.lifecycle import Hold, admitted, holding
from relaygate.relay.pipeline import require_channel
from relaygate.relay.requests import authenticate_request, parse_request_json
from relaygate.relay.routing import Handler
from relaygate.runtime import Runtime
from relaygate.tasks.service import Task, owned_tasks, record_task, update_task
from relaygate.upstream.client import PickChannel, UpstreamRequest, upstream_message
from relaygate.upstream.http_client import HttpClientError, UpstreamResponse

SUBMITTED = "SUBMITTED"


class TaskProtocol(Protocol):
    """What the task relay needs from one platform's API."""

    platform: str  # the tasks table's name for it: "midjourney", "suno"
    channel_types: frozenset[str]

    def submit_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest: ...

    def accepted_task_id(self, answer: Any) -> tuple[bool, str | None]:
        """Whether a submit answer accepted the task (it is then billed), and its task id."""

    def origin_task_id(self, call: RelayCall) -> str | None:
        """The earlier task a submit acts on (a Midjourney action), which only its own channel knows."""

    def fetch_request(self, channel: Channel, task_ids: list[str]) -> UpstreamRequest: ...

    def fetched_tasks(self, answer: Any) -> list[dict[str, Any]]:
        """The task objects in a fetch answer."""

    def task_id(self, task: dict[str, Any]) -> str | None: ...

    def task_status(self, task: dict[str, Any]) -> str: ...


def submit_route(family: Family, platform: str, protocol: TaskProtocol, kind: str) -> Handler:
    """The route `POST /{platform}/submit/{kind}`, billed per call under the model name `{platform}_{kind}`."""

    async def route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        headers = header_map(scope)
        principal = await authenticate_request(rt, scope, family, headers)
        raw = await read_body(receive, headers, rt.settings.max_body_bytes)
        call = RelayCall(
            family=family,
            endpoint=f"{platform}.{kind}",
            upstream_path=f"/{platform}/submit/{kind}",
            body=parse_request_json(raw),
            raw=raw,
            model=f"{platform}_{kind}",
            stream=False,
            request_id=request_id,
            generates=False,
        )
        await submit_task(rt, principal, call, protocol, kind, send)

    return route


async def submit_task(
    rt: Runtime, principal: Principal, call: RelayCall, protocol: TaskProtocol, kind: str, send: Send
) -> None:
    """Relay one task submission; the charge is the model's per-call price, or 0 when the upstream rejects."""
    route = lambda serving: require_channel(rt, serving, call.model, protocol.channel_types)  # noqa: E731
    async with admitted(rt, principal, call.model, route) as (admission, _):
        origin = await origin_channel(rt, principal, protocol, call)
        async with holding(admission, call, 0, None) as hold:
            await submit(rt, admission.principal, call, protocol, kind, origin, hold, send)


async def submit(
    rt: Runtime,
    principal: Principal,
    call: RelayCall,
    protocol: TaskProtocol,
    kind: str,
    origin: Channel | None,
    hold: Hold,
    send: Send,
) -> None:
    """Send the submission; `hold` is charged the per-call price only if the upstream accepted the task."""
    channel, response = await rt.upstream.send(
        only(origin)
        if origin is not None
        else lambda tried: rt.channels.pick(principal.group, call.model, tried, protocol.channel_types),
        lambda chosen: protocol.submit_request(chosen, call),
    )
    hold.served_by(channel.id, call.model, response.status)
    body = await read_answer(response)
    accepted, task_id = (
        protocol.accepted_task_id(_json_or_none(body)) if 200 <= response.status < 300 else (False, None)
    )
    if accepted and task_id:
        owner = Task(
            protocol.platform, task_id, kind, principal.user.id, principal.token.id, channel.id, SUBMITTED, None
        )
        await record_task(rt.engine, owner)
    hold.usage = Usage() if accepted else Usage(calls=0)
    content_type = response.headers.get("content-type", "application/json").encode("latin-1")
    if not accepted:  # a rejection's text may echo the channel's key
        body = redact_upstream_body(body, (channel.key,))
    await send_bytes(send, response.status, body, content_type, hold.admission.permit.headers())


async def origin_channel(rt: Runtime, principal: Principal, protocol: TaskProtocol, call: RelayCall) -> Channel | None:
    """The channel holding the caller's task that this submit acts on; None when it acts on none."""
    origin_id = protocol.origin_task_id(call)
    if origin_id is None:
        return None
    owned = await owned_tasks(rt.engine, protocol.platform, principal.user.id, [origin_id])
    if not owned:
        raise NotFound(f"There is no task {origin_id!r} of yours to act on: check the taskId.")
    channel = next((channel for channel in rt.channels.all() if channel.id == owned[0].channel_id), None)
    if channel is None:
        raise ModelNotAvailable(
            f"The channel that ran task {origin_id!r} is no longer available, so the task cannot be acted on."
        )
    return channel


async def fetch_tasks(
    rt: Runtime, principal: Principal, protocol: TaskProtocol, task_ids: Iterable[str]
) -> list[dict[str, Any]]:
    """The caller's tasks among `task_ids`, as their upstreams describe them now; others are left out.

    A task whose channel is gone (deleted or disabled) is answered from its last stored state.
    """
    owned = await owned_tasks(rt.engine, protocol.platform, principal.user.id, task_ids)
    channels = {channel.id: channel for channel in rt.channels.all()}
    latest: dict[str, dict[str, Any]] = {task.task_id: task.data for task in owned if isinstance(task.data, dict)}
    by_channel: dict[int, list[str]] = {}
    for task in owned:
        if task.channel_id in channels:
            by_channel.setdefault(task.channel_id, []).append(task.task_id)
    for channel_id, ids in by_channel.items():
        for found in await _fetch_from(rt, channels[channel_id], protocol, ids):
            found_id = protocol.task_id(found)
            if found_id in ids:
                latest[found_id] = found
                await update_task(rt.engine, protocol.platform, found_id, protocol.task_status(found), found)
    return [latest[task.task_id] for task in owned if task.task_id in latest]


async def _fetch_from(rt: Runtime, channel: Channel, protocol: TaskProtocol, ids: list[str]) -> list[dict[str, Any]]:
    _, response = await rt.upstream.send(only(channel), lambda chosen: protocol.fetch_request(chosen, ids))
    body = await read_answer(response)
    if not 200 <= response.status < 300:
        raise UpstreamError(
            response.status,
            redact_upstream_text(upstream_message(body), (channel.key,))
            or f"The upstream provider answered {response.status}.",
        )
    return protocol.fetched_tasks(_json_or_none(body))


def only(channel: Channel) -> PickChannel:
    """A channel choice with no alternative: the one channel that knows the task."""
    return lambda tried: None if channel.id in tried else channel


def requested_ids(body: dict[str, Any]) -> list[str]:
    """The `ids` of a fetch-many request: a list of task id strings."""
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(task_id, str) for task_id in ids):
        raise BadRequest(
            'The request needs "ids": a list of task id strings, for example {"ids": ["1712345678901234"]}.',
            code="invalid_ids",
            param="ids",
        )
    return ids


async def read_answer(response: UpstreamResponse) -> bytes:
    try:
        return await response.read()
    except (TimeoutError, HttpClientError) as exc:
        raise UpstreamUnreachable(
            f"The upstream provider broke off its answer ({type(exc).__name__}); try again."
        ) from exc
    finally:
        response.release()


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
