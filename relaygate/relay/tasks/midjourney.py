"""The midjourney-proxy task API toward an upstream: `mj-api-secret`, submit answers, task objects.

A submit answers `{"code", "description", "result"}`: code 1 (submitted), 21 (already exists) and
22 (queued) accept the task, whose id is `result`; any other code is a rejection and is not billed.
An action (`{"customId", "taskId"}`) acts on an earlier task, so it must be the caller's and go to
the channel that ran it. Tasks are fetched with `POST /mj/task/list-by-condition {"ids": [...]}`,
which answers a list of task objects (`id`, `action`, `status`, `progress`, `imageUrl`, ...), one
call for many tasks.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.channels.registry import Channel
from relaygate.relay.call import RelayCall
from relaygate.upstream.client import UpstreamRequest, upstream_base

ACCEPTED_CODES = frozenset({1, 21, 22})


class MidjourneyProtocol:
    platform = "midjourney"
    channel_types = frozenset({"midjourney"})

    def submit_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        return UpstreamRequest(url=_base(channel) + call.upstream_path, headers=_headers(channel), body=call.raw)

    def accepted_task_id(self, answer: Any) -> tuple[bool, str | None]:
        if not isinstance(answer, dict):
            return False, None
        code = answer.get("code")
        if isinstance(code, bool) or code not in ACCEPTED_CODES:
            return False, None
        result = answer.get("result")
        return True, str(result) if isinstance(result, str | int) and not isinstance(result, bool) else None

    def origin_task_id(self, call: RelayCall) -> str | None:
        task_id = call.body.get("taskId") if call.upstream_path.endswith("/action") else None
        return task_id if isinstance(task_id, str) and task_id else None

    def fetch_request(self, channel: Channel, task_ids: list[str]) -> UpstreamRequest:
        body = orjson.dumps({"ids": task_ids})
        return UpstreamRequest(url=_base(channel) + "/mj/task/list-by-condition", headers=_headers(channel), body=body)

    def fetched_tasks(self, answer: Any) -> list[dict[str, Any]]:
        return [task for task in answer if isinstance(task, dict)] if isinstance(answer, list) else []

    def task_id(self, task: dict[str, Any]) -> str | None:
        task_id = task.get("id")
        return str(task_id) if isinstance(task_id, str | int) else None

    def task_status(self, task: dict[str, Any]) -> str:
        return str(task.get("status") or "")


def _base(channel: Channel) -> str:
    return upstream_base(channel, ("/mj", "/v1"))  # midjourney-proxy URLs are often given with /mj


def _headers(channel: Channel) -> dict[str, str]:
    return {"mj-api-secret": channel.key, "Content-Type": "application/json"}
