"""The fake upstream's Suno task API (as new-api relays it), over plain HTTP."""

from __future__ import annotations

import httpx
import pytest


def suno(url: str, key: str = "fake") -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("kind", ["music", "lyrics"])
def test_submit_answers_success_with_a_task_id_that_fetch_describes(fake_upstream: str, kind: str) -> None:
    with suno(fake_upstream) as client:
        answer = client.post(f"/suno/submit/{kind}", json={"prompt": "a song"}).json()
        assert (answer["code"], answer["message"]) == ("success", "")
        task_id = answer["data"]
        one = client.get(f"/suno/fetch/{task_id}").json()
        many = client.post("/suno/fetch", json={"ids": [task_id, "suno-unknown"]}).json()
    assert one["code"] == "success"
    task = one["data"]
    assert (task["task_id"], task["action"], task["status"], task["progress"]) == (
        task_id,
        kind.upper(),
        "SUCCESS",
        "100%",
    )
    assert many == {"code": "success", "message": "", "data": [task]}


def test_the_reject_flag_answers_an_error_code_with_status_200(fake_upstream: str) -> None:
    with suno(fake_upstream, "fake;reject") as client:
        answer = client.post("/suno/submit/music", json={"prompt": "a song"})
    assert answer.status_code == 200
    assert (answer.json()["code"], answer.json()["data"]) == ("error", None)


def test_errors_have_the_code_message_data_shape(fake_upstream: str) -> None:
    with httpx.Client(base_url=fake_upstream) as client:
        missing = client.post("/suno/submit/music", json={})
        unknown = client.get("/suno/fetch/suno-unknown", headers={"Authorization": "Bearer fake"})
    assert (missing.status_code, missing.json()["code"], missing.json()["data"]) == (401, "invalid_api_key", None)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "task_not_exist")
