"""The Suno task API (as new-api relays it) toward an upstream: Bearer key, submit answers, task objects.

A submit answers `{"code", "message", "data"}`: code `"success"` accepts the task, whose id is
`data`; any other code is a rejection and is not billed. Tasks are fetched with
`POST /suno/fetch {"ids": [...]}`, answered as `{"code": "success", "data": [task, ...]}` where a
task has `task_id`, `action`, `status`, `progress`, `fail_reason` and its result in `data`.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.channels.registry import Channel
from relaygate.relay.call import RelayCall
from relaygate.upstream.client import UpstreamRequest, upstream_base

ACCEPTED_CODE = "success"


class SunoProtocol:
    platform = "suno"
    channel_types = frozenset({"suno"})

    def submit_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        return UpstreamRequest(
            url=upstream_base(channel) + call.upstream_path, headers=_headers(channel), body=call.raw
        )

    def accepted_task_id(self, answer: Any) -> tuple[bool, str | None]:
        if not isinstance(answer, dict) or answer.get("code") != ACCEPTED_CODE:
            return False, None
        task_id = answer.get("data")
        return True, task_id if isinstance(task_id, str) and task_id else None

    def origin_task_id(self, call: RelayCall) -> str | None:
        return None  # music and lyrics start afresh

    def fetch_request(self, channel: Channel, task_ids: list[str]) -> UpstreamRequest:
        body = orjson.dumps({"ids": task_ids})
        return UpstreamRequest(url=upstream_base(channel) + "/suno/fetch", headers=_headers(channel), body=body)

    def fetched_tasks(self, answer: Any) -> list[dict[str, Any]]:
        tasks = answer.get("data") if isinstance(answer, dict) else None
        return [task for task in tasks if isinstance(task, dict)] if isinstance(tasks, list) else []

    def task_id(self, task: dict[str, Any]) -> str | None:
        task_id = task.get("task_id")
        return task_id if isinstance(task_id, str) else None

    def task_status(self, task: dict[str, Any]) -> str:
        return str(task.get("status") or "")


def _headers(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.key}", "Content-Type": "application/json"}
