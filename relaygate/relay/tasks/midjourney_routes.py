"""The Midjourney face of the relay (midjourney-proxy's task API).

`POST /mj/submit/imagine|action|blend|describe` are billed per call under `mj_imagine`, ...;
`GET /mj/task/{id}/fetch` and `POST /mj/task/list-by-condition` are free and read only the
caller's own tasks. Errors are `{"code", "description"}`; the key may come in `mj-api-secret`.
"""

from __future__ import annotations

import orjson

from relaygate.auth.credentials import Family
from relaygate.errors import NotFound
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body, send_bytes
from relaygate.relay.requests import authenticate_request, parse_request_json
from relaygate.relay.routing import RelayRoute
from relaygate.relay.tasks.midjourney import MidjourneyProtocol
from relaygate.relay.tasks.pipeline import fetch_tasks, requested_ids, submit_route
from relaygate.runtime import Runtime

PROTOCOL = MidjourneyProtocol()
JSON = b"application/json"
TASK_PREFIX = "/mj/task/"
FETCH_SUFFIX = "/fetch"
SUBMIT_KINDS = ("imagine", "action", "blend", "describe")


async def fetch_one(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    path: str = scope["path"]
    task_id = path[len(TASK_PREFIX) : -len(FETCH_SUFFIX)] if path.endswith(FETCH_SUFFIX) else ""
    if not task_id or "/" in task_id:
        raise NotFound(f"There is no route {path}: fetch a task with GET /mj/task/{{id}}/fetch.")
    principal = await authenticate_request(rt, scope, Family.MIDJOURNEY, header_map(scope))
    found = await fetch_tasks(rt, principal, PROTOCOL, [task_id])
    if not found:
        raise NotFound(f"There is no task {task_id!r} of yours: check the id returned when it was submitted.")
    await send_bytes(send, 200, orjson.dumps(found[0]), JSON, [])


async def list_by_condition(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    headers = header_map(scope)
    principal = await authenticate_request(rt, scope, Family.MIDJOURNEY, headers)
    body = parse_request_json(await read_body(receive, headers, rt.settings.max_body_bytes))
    found = await fetch_tasks(rt, principal, PROTOCOL, requested_ids(body))
    await send_bytes(send, 200, orjson.dumps(found), JSON, [])


ROUTES = [
    *(
        RelayRoute(
            "POST", f"/mj/submit/{kind}", Family.MIDJOURNEY, submit_route(Family.MIDJOURNEY, "mj", PROTOCOL, kind)
        )
        for kind in SUBMIT_KINDS
    ),
    RelayRoute("POST", "/mj/task/list-by-condition", Family.MIDJOURNEY, list_by_condition),
    RelayRoute("GET", TASK_PREFIX, Family.MIDJOURNEY, fetch_one, prefix=True),
]
