"""The fake upstream's Midjourney task API (midjourney-proxy's shapes), over plain HTTP."""

from __future__ import annotations

import httpx
import pytest


def mj(url: str, key: str = "fake") -> httpx.Client:
    return httpx.Client(base_url=url, headers={"mj-api-secret": key})


@pytest.mark.parametrize("kind", ["imagine", "action", "blend", "describe"])
def test_submit_answers_code_1_with_a_task_id_that_fetch_describes(fake_upstream: str, kind: str) -> None:
    with mj(fake_upstream) as client:
        submitted = client.post(f"/mj/submit/{kind}", json={"prompt": "a cat"})
        assert submitted.status_code == 200
        answer = submitted.json()
        assert (answer["code"], answer["description"]) == (1, "Submit success")
        task_id = answer["result"]
        task = client.get(f"/mj/task/{task_id}/fetch").json()
    assert (task["id"], task["action"], task["status"], task["progress"]) == (task_id, kind.upper(), "SUCCESS", "100%")


def test_list_by_condition_answers_known_ids_only(fake_upstream: str) -> None:
    with mj(fake_upstream) as client:
        first = client.post("/mj/submit/imagine", json={"prompt": "one"}).json()["result"]
        second = client.post("/mj/submit/imagine", json={"prompt": "two"}).json()["result"]
        listed = client.post("/mj/task/list-by-condition", json={"ids": [second, "mj-unknown", first]})
    assert [task["id"] for task in listed.json()] == [second, first]
    assert [task["prompt"] for task in listed.json()] == ["two", "one"]


def test_the_reject_flag_answers_code_4_with_status_200(fake_upstream: str) -> None:
    with mj(fake_upstream, "fake;reject") as client:
        answer = client.post("/mj/submit/imagine", json={"prompt": "a cat"})
    assert answer.status_code == 200
    assert answer.json()["code"] == 4
    assert answer.json().get("result") is None


def test_errors_have_the_code_description_shape(fake_upstream: str) -> None:
    with httpx.Client(base_url=fake_upstream) as client:
        missing = client.post("/mj/submit/imagine", json={"prompt": "a cat"})
        unknown = client.get("/mj/task/mj-unknown/fetch", headers={"mj-api-secret": "fake"})
        failing = client.post("/mj/submit/imagine", json={}, headers={"mj-api-secret": "fake;fail=503"})
    assert (missing.status_code, missing.json()["code"]) == (401, 401)
    assert "mj-api-secret" in missing.json()["description"]
    assert (unknown.status_code, unknown.json()) == (404, {"code": 404, "description": "task not found"})
    assert (failing.status_code, failing.json()["code"]) == (503, 503)
