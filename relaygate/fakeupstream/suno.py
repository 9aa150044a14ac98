"""The Suno task API of the fake upstream, as new-api relays it.

The key comes as `Authorization: Bearer`. `POST /suno/submit/music|lyrics` answers
`{"code": "success", "message": "", "data": "<task id>"}` (task ids `suno-1`, ...), or under the
`reject` flag `{"code": "error", ...}` with status 200. A submitted task is at once finished:
`POST /suno/fetch {"ids": [...]}` answers `{"code": "success", "data": [task, ...]}` (unknown ids
left out) and `GET /suno/fetch/{id}` `{"code": "success", "data": task}` (unknown: 404). Errors are
`{"code": "<error code>", "message": <message>, "data": null}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web

from relaygate.fakeupstream.admission import Dialect, FakeUpstream, JSONObject, error_headers, json_answer
from relaygate.fakeupstream.behaviour import FakeUpstreamError, UpstreamBehaviour, invalid_request, parse_bearer

SUBMIT_KINDS = ("music", "lyrics")
FINISHED_AT = 1_700_000_000  # seconds; fixed to stay deterministic


def error_response(error: FakeUpstreamError) -> web.Response:
    payload = {"code": error.code or "fake_failure", "message": error.message, "data": None}
    return json_answer(payload, error.status, error_headers(error))


SUNO = Dialect(
    key_of=lambda request: parse_bearer(request.headers.get(hdrs.AUTHORIZATION)),
    missing_key=FakeUpstreamError(401, "Authorization: Bearer <key> is required", code="invalid_api_key"),
    render_error=error_response,
    model_in_body=False,
)


class SunoAnswers:
    """Submitted tasks live here, by id, so that fetches can describe them."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self._upstream = upstream
        self.tasks: dict[str, JSONObject] = {}

    def submit(self, kind: str) -> Any:
        async def answer(request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
            if behaviour.reject:
                return json_answer(
                    {"code": "error", "message": "fake-upstream rejects the task as its key asks", "data": None}
                )
            task_id = self._upstream.next_id("suno")
            self.tasks[task_id] = finished_task(task_id, kind, body)
            return json_answer(success(task_id))

        return answer

    async def fetch_one(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            raise FakeUpstreamError(404, "task not found", code="task_not_exist")
        return json_answer(success(task))

    async def fetch_many(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
        ids = body.get("ids")
        if not isinstance(ids, list):
            raise invalid_request("ids must be a list of task ids", param="ids")
        return json_answer(success([self.tasks[task_id] for task_id in ids if task_id in self.tasks]))


def success(data: Any) -> JSONObject:
    return {"code": "success", "message": "", "data": data}


def finished_task(task_id: str, kind: str, request: JSONObject) -> JSONObject:
    """A task as new-api describes a finished Suno task."""
    prompt = request.get("prompt") if isinstance(request.get("prompt"), str) else ""
    result: Any = (
        {"id": f"{task_id}-lyrics", "status": "complete", "title": "fake song", "text": prompt}
        if kind == "lyrics"
        else [{"id": f"{task_id}-clip", "audio_url": f"https://fake-upstream.invalid/suno/{task_id}.mp3"}]
    )
    return {
        "task_id": task_id,
        "action": kind.upper(),
        "status": "SUCCESS",
        "fail_reason": "",
        "submit_time": FINISHED_AT,
        "start_time": FINISHED_AT,
        "finish_time": FINISHED_AT,
        "progress": "100%",
        "data": result,
    }


def add_suno_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = SunoAnswers(upstream)
    for kind in SUBMIT_KINDS:
        app.router.add_post(f"/suno/submit/{kind}", upstream.endpoint(answers.submit(kind), SUNO))
    app.router.add_post("/suno/fetch", upstream.endpoint(answers.fetch_many, SUNO))
    app.router.add_get("/suno/fetch/{task_id}", upstream.endpoint(answers.fetch_one, SUNO, with_body=False))
