"""The Midjourney task API of the fake upstream, as midjourney-proxy speaks it.

The key comes in `mj-api-secret`. `POST /mj/submit/imagine|action|blend|describe` answers
`{"code": 1, "description": "Submit success", "result": "<task id>"}` (task ids `mj-1`, `mj-2`,
...), or under the `reject` flag `{"code": 4, ...}` with status 200, as midjourney-proxy refuses
a task. A submitted task is at once finished: `GET /mj/task/{id}/fetch` and
`POST /mj/task/list-by-condition {"ids": [...]}` describe it with status `SUCCESS` and progress
`100%`; unknown ids are left out of the list and get 404 from fetch. Errors are
`{"code": <status>, "description": <message>}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from relaygate.fakeupstream.admission import Dialect, FakeUpstream, JSONObject, error_headers, json_answer
from relaygate.fakeupstream.behaviour import FakeUpstreamError, UpstreamBehaviour, invalid_request

SUBMIT_KINDS = ("imagine", "action", "blend", "describe")
ACCEPTED = 1
REJECTED = 4  # midjourney-proxy's "validation error" code
FINISHED_AT = 1_700_000_000_000  # milliseconds, as midjourney-proxy reports times; fixed to stay deterministic


def error_response(error: FakeUpstreamError) -> web.Response:
    return json_answer({"code": error.status, "description": error.message}, error.status, error_headers(error))


MIDJOURNEY = Dialect(
    key_of=lambda request: request.headers.get("mj-api-secret") or None,
    missing_key=FakeUpstreamError(401, "mj-api-secret header is required"),
    render_error=error_response,
    logged_headers=("mj-api-secret",),
    model_in_body=False,
)


class MidjourneyAnswers:
    """Submitted tasks live here, by id, so that fetches can describe them."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self._upstream = upstream
        self.tasks: dict[str, JSONObject] = {}

    def submit(self, kind: str) -> Any:
        async def answer(request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
            if behaviour.reject:
                return json_answer({"code": REJECTED, "description": "fake-upstream rejects the task as its key asks"})
            task_id = self._upstream.next_id("mj")
            self.tasks[task_id] = finished_task(task_id, kind, body)
            return json_answer({"code": ACCEPTED, "description": "Submit success", "result": task_id})

        return answer

    async def fetch(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            raise FakeUpstreamError(404, "task not found")
        return json_answer(task)

    async def list_by_condition(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.Response:
        ids = body.get("ids")
        if not isinstance(ids, list):
            raise invalid_request("ids must be a list of task ids", param="ids")
        return json_answer([self.tasks[task_id] for task_id in ids if task_id in self.tasks])


def finished_task(task_id: str, kind: str, request: JSONObject) -> JSONObject:
    """A task as midjourney-proxy describes a finished one."""
    prompt = request.get("prompt") if isinstance(request.get("prompt"), str) else ""
    return {
        "id": task_id,
        "action": kind.upper(),
        "prompt": prompt,
        "promptEn": prompt,
        "description": "Submit success",
        "state": request.get("state") or "",
        "submitTime": FINISHED_AT,
        "startTime": FINISHED_AT,
        "finishTime": FINISHED_AT,
        "imageUrl": f"https://fake-upstream.invalid/mj/{task_id}.png",
        "status": "SUCCESS",
        "progress": "100%",
        "failReason": "",
        "properties": {},
        "buttons": [],
    }


def add_midjourney_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = MidjourneyAnswers(upstream)
    for kind in SUBMIT_KINDS:
        app.router.add_post(f"/mj/submit/{kind}", upstream.endpoint(answers.submit(kind), MIDJOURNEY))
    app.router.add_get("/mj/task/{task_id}/fetch", upstream.endpoint(answers.fetch, MIDJOURNEY, with_body=False))
    app.router.add_post("/mj/task/list-by-condition", upstream.endpoint(answers.list_by_condition, MIDJOURNEY))
