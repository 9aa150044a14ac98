"""JSON bodies of the management API pass the nesting-depth guard before the framework parses them."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaygate.api.errors import error_response
from relaygate.json_depth import is_depth_error, json_depth_over_limit, too_deep_message

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class JsonDepthGuard:
    """Reads a write's body (BodyLimit, outside it, bounds its size), refuses one nested too deep
    with 400 `json_too_deep`, and hands the same bytes on to the route."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _too_deep(body):
            await error_response(400, "json_too_deep", too_deep_message())(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _too_deep(body: bytes) -> bool:
    if body.count(b"[") + body.count(b"{") <= 1:
        return False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson stops at 1024 levels itself; any other parse error is the route's to report
        return is_depth_error(exc)
    return json_depth_over_limit(parsed)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
