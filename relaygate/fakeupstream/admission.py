"""What every protocol of the fake upstream shares: admitting a request, and writing answers.

A request is admitted in the same steps whatever its protocol: it is logged, its key is found
where that protocol's clients put it, the key's flags are applied (delays, failures), and the
JSON body is parsed. A `Dialect` says where the key is and how errors look.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import hdrs, web

from relaygate.fakeupstream.behaviour import (
    FakeUpstreamError,
    UpstreamBehaviour,
    invalid_request,
    parse_behaviour,
    without_limits,
)

JSONObject = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Answer = Callable[[web.Request, JSONObject, UpstreamBehaviour], Awaitable[web.StreamResponse]]

REQUEST_LOG_SIZE = 1000
JSON_HEADERS: dict[str, str] = {hdrs.CONTENT_TYPE: "application/json"}
SSE_HEADERS: dict[str, str] = {hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8", hdrs.CACHE_CONTROL: "no-cache"}


@dataclass(frozen=True)
class Dialect:
    """How one protocol carries its key and renders its errors."""

    key_of: Callable[[web.Request], str | None]
    missing_key: FakeUpstreamError  # answered when `key_of` finds nothing
    render_error: Callable[[FakeUpstreamError], web.Response]
    logged_headers: tuple[str, ...] = ()  # logged besides Authorization, so tests see what was sent
    model_in_body: bool = True
    check: Callable[[web.Request], None] | None = None  # protocol-specific header rules, after the key


class FakeUpstream:
    """The state of one fake upstream app: its request log, `fail-first` counters and reply ids."""

    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms
        self.request_log: deque[JSONObject] = deque(maxlen=REQUEST_LOG_SIZE)
        self._failures_by_key: dict[str, int] = {}
        self.switches: dict[str, FakeUpstreamError] = {}  # `switch=NAME` keys fail so while set
        self._reply_ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._reply_ids)}"

    def endpoint(self, answer: Answer, dialect: Dialect, *, with_body: bool = True) -> Handler:
        """A route handler that admits the request (log, auth, flags) before `answer` runs."""

        async def admit_then_answer(request: web.Request) -> web.StreamResponse:
            try:
                body, behaviour = await self._admit(request, dialect, with_body=with_body)
                return await answer(request, body, behaviour)
            except FakeUpstreamError as error:
                return dialect.render_error(error)

        return admit_then_answer

    async def _admit(
        self, request: web.Request, dialect: Dialect, *, with_body: bool
    ) -> tuple[JSONObject, UpstreamBehaviour]:
        body = parse_json(await request.read()) if with_body else None
        entry: JSONObject = {"method": request.method, "path": request.path}
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        entry["client_port"] = peer[1] if isinstance(peer, tuple) else None  # which connection it came on
        if request.query_string:
            entry["query"] = request.query_string
        for name in (hdrs.AUTHORIZATION, *dialect.logged_headers):
            entry[name.lower()] = request.headers.get(name)
        self.request_log.append(entry | {"body": body})
        key = dialect.key_of(request)
        if key is None:
            raise dialect.missing_key
        if dialect.check is not None:
            dialect.check(request)
        behaviour = parse_behaviour(key)
        delay_ms = self.latency_ms + behaviour.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        self._fail_if_configured(key, behaviour)
        if not with_body:
            return {}, behaviour
        if not isinstance(body, dict):
            raise invalid_request("We could not parse the JSON body of your request.", code="invalid_json")
        if dialect.model_in_body and (not isinstance(body.get("model"), str) or not body["model"]):
            raise invalid_request("you must provide a model parameter", param="model", code="missing_model")
        return (without_limits(body) if behaviour.ignore_limit else body), behaviour

    def set_switch(self, name: str, status: int | None, code: str | None = None) -> None:
        """Make the keys with `switch=NAME` fail with `status` (None: answer normally again)."""
        if status is None:
            self.switches.pop(name, None)
        else:
            failure = configured_failure(status)
            kind = "insufficient_quota" if code == "insufficient_quota" else failure.kind
            self.switches[name] = FakeUpstreamError(status, failure.message, code=code or failure.code, kind=kind)

    def _fail_if_configured(self, key: str, behaviour: UpstreamBehaviour) -> None:
        if behaviour.switch is not None and (switched := self.switches.get(behaviour.switch)) is not None:
            raise switched
        if behaviour.fail_status is not None:
            raise configured_failure(behaviour.fail_status, key if behaviour.echo_key else None)
        if behaviour.fail_first:
            failures = self._failures_by_key.get(key, 0)
            if failures < behaviour.fail_first:
                self._failures_by_key[key] = failures + 1
                raise configured_failure(500)


ECHOED_ORGANISATION = "org-FakeUpstream0rg1d2345"


def configured_failure(status: int, echoed_key: str | None = None) -> FakeUpstreamError:
    """The error a `fail=NNN` or `fail-first=N` flag answers with (`echo-key`: as OpenAI's, with the key)."""
    message = f"fake-upstream answers {status} as its API key asks"
    if echoed_key is not None:
        message += f". Incorrect API key provided: {echoed_key} (organization {ECHOED_ORGANISATION})"
    if status == 429:
        return FakeUpstreamError(status, message, code="rate_limit_exceeded", kind="requests")
    return FakeUpstreamError(status, message, code="fake_failure")


def error_headers(error: FakeUpstreamError) -> dict[str, str]:
    """JSON, and `Retry-After: 1` on a 429."""
    return (JSON_HEADERS | {str(hdrs.RETRY_AFTER): "1"}) if error.status == 429 else JSON_HEADERS


def json_answer(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), headers=headers or JSON_HEADERS)


async def stream_events(request: web.Request, events: list[bytes], behaviour: UpstreamBehaviour) -> web.StreamResponse:
    """Send the events at once, or `chunk-delay-ms` apart; a client that leaves just ends it."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        if behaviour.break_after is not None:
            await response.write(b"".join(events[: behaviour.break_after]))
            await response.drain()
            assert request.transport is not None
            request.transport.abort()  # a reset mid-stream: no terminator, no final chunk
            return response
        if behaviour.chunk_delay_ms:
            for index, event in enumerate(events):
                if index:
                    await asyncio.sleep(behaviour.chunk_delay_ms / 1000)
                await response.write(event)
        else:
            await response.write(b"".join(events))
        await response.write_eof()
    return response


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
