"""The Suno face of the relay (the task API as new-api relays it).

`POST /suno/submit/music|lyrics` are billed per call under `suno_music`, `suno_lyrics`;
`GET /suno/fetch/{id}` and `POST /suno/fetch {"ids": [...]}` are free and read only the caller's
own tasks, answered as `{"code": "success", "message": "", "data": ...}`. Errors are
`{"code": "<error code>", "message", "data": null}`.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.errors import NotFound
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body, send_bytes
from relaygate.relay.requests import authenticate_request, parse_request_json
from relaygate.relay.routing import RelayRoute
from relaygate.relay.tasks.pipeline import fetch_tasks, requested_ids, submit_route
from relaygate.relay.tasks.suno import ACCEPTED_CODE, SunoProtocol
from relaygate.runtime import Runtime

PROTOCOL = SunoProtocol()
JSON = b"application/json"
FETCH_PREFIX = "/suno/fetch/"
SUBMIT_KINDS = ("music", "lyrics")


async def fetch_one(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    task_id = scope["path"][len(FETCH_PREFIX) :]
    if "/" in task_id:
        raise NotFound(f"There is no route {scope['path']}: fetch a task with GET /suno/fetch/{{id}}.")
    principal = await authenticate_request(rt, scope, Family.SUNO, header_map(scope))
    found = await fetch_tasks(rt, principal, PROTOCOL, [task_id])
    if not found:
        raise NotFound(f"There is no task {task_id!r} of yours: check the id returned when it was submitted.")
    await send_bytes(send, 200, _success(found[0]), JSON, [])


async def fetch_many(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    headers = header_map(scope)
    principal = await authenticate_request(rt, scope, Family.SUNO, headers)
    body = parse_request_json(await read_body(receive, headers, rt.settings.max_body_bytes))
    found = await fetch_tasks(rt, principal, PROTOCOL, requested_ids(body))
    await send_bytes(send, 200, _success(found), JSON, [])


def _success(data: Any) -> bytes:
    return orjson.dumps({"code": ACCEPTED_CODE, "message": "", "data": data})


ROUTES = [
    *(
        RelayRoute("POST", f"/suno/submit/{kind}", Family.SUNO, submit_route(Family.SUNO, "suno", PROTOCOL, kind))
        for kind in SUBMIT_KINDS
    ),
    RelayRoute("POST", "/suno/fetch", Family.SUNO, fetch_many),
    RelayRoute("GET", FETCH_PREFIX, Family.SUNO, fetch_one, prefix=True),
]
