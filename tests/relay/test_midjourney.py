"""The Midjourney task API through the gateway to the fake upstream's midjourney-proxy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.channels.service import delete_channel
from relaygate.store.schema import tasks
from tests.support.deployment import Deployment
from tests.support.keys import balance, new_key, used

PRICES = {"mj_imagine": "0.05", "mj_action": "0.02", "mj_blend": "0.03", "mj_describe": "0.01"}
UNITS = {model: int(float(usd) * 500_000) for model, usd in PRICES.items()}  # 0.05 USD = 25,000 units
START = 5_000_000  # 10 USD


def add_mj_channel(gw: Deployment, fake_upstream: str, key: str = "fake-mj", base: str = "") -> None:
    gw.cli(
        "channel", "add", "--type", "midjourney", "--base-url", fake_upstream + base, "--key", key,
        "--models", ",".join(PRICES),
    )  # fmt: skip
    for model, usd in PRICES.items():
        gw.cli("price", "set", model, "--per-call", usd)
    gw.runtime_poll()


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    add_mj_channel(gateway, fake_upstream, base="/mj")  # midjourney-proxy base URLs often end in /mj
    return gateway


def mj(gw: Deployment, key: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"mj-api-secret": key})


def submit(client: httpx.Client, kind: str = "imagine", **body: Any) -> httpx.Response:
    return client.post(f"/mj/submit/{kind}", json=body or {"prompt": "a cat in a hat"})


@pytest.mark.parametrize("kind", ["imagine", "action", "blend", "describe"])
def test_each_submit_is_relayed_and_billed_once_at_its_per_call_price(
    gw: Deployment, fake_upstream: str, kind: str
) -> None:
    key, token_id = new_key(gw)
    httpx.delete(fake_upstream + "/_fake/requests")
    with mj(gw, key) as client:
        answer = submit(client, kind)
    assert answer.status_code == 200
    assert (answer.json()["code"], answer.json()["description"]) == (1, "Submit success")
    assert answer.json()["result"].startswith("mj-")
    [seen] = httpx.get(fake_upstream + "/_fake/requests").json()
    assert (seen["path"], seen["mj-api-secret"], seen["body"]) == (
        f"/mj/submit/{kind}",
        "fake-mj",
        {"prompt": "a cat in a hat"},
    )
    assert used(gw, token_id) == UNITS[f"mj_{kind}"]
    assert balance(gw) == START - UNITS[f"mj_{kind}"]
    assert gw.books()["balanced"]


def test_bearer_is_accepted_as_well_as_mj_api_secret(gw: Deployment) -> None:
    key, token_id = new_key(gw)
    answer = httpx.post(gw.url + "/mj/submit/imagine", json={"prompt": "x"}, headers={"Authorization": f"Bearer {key}"})
    assert answer.json()["code"] == 1
    assert used(gw, token_id) == UNITS["mj_imagine"]


def test_a_rejected_submit_is_passed_on_and_refunded(gateway: Deployment, fake_upstream: str) -> None:
    add_mj_channel(gateway, fake_upstream, key="fake-mj;reject")
    key, token_id = new_key(gateway)
    with mj(gateway, key) as client:
        answer = submit(client)
        listed = client.post("/mj/task/list-by-condition", json={"ids": ["mj-1", "mj-2"]})
    assert (answer.status_code, answer.json()["code"]) == (200, 4)
    assert listed.json() == []
    assert used(gateway, token_id) == 0
    assert balance(gateway) == START
    assert gateway.books()["balanced"]


def test_an_upstream_failure_is_an_error_in_the_mj_shape_and_refunded(gateway: Deployment, fake_upstream: str) -> None:
    add_mj_channel(gateway, fake_upstream, key="fake-mj;fail=500")
    key, token_id = new_key(gateway)
    with mj(gateway, key) as client:
        answer = submit(client)
    assert answer.status_code == 500
    assert set(answer.json()) == {"code", "description"}
    assert answer.json()["code"] == 500
    assert used(gateway, token_id) == 0
    assert gateway.books()["balanced"]


def test_errors_come_as_code_and_description(gw: Deployment) -> None:
    restricted, _ = new_key(gw, "--models", "mj_describe")
    with httpx.Client(base_url=gw.url) as client:
        missing = submit(client)
        unknown = client.post("/mj/submit/imagine", json={"prompt": "x"}, headers={"mj-api-secret": "sk-unknown"})
    with mj(gw, restricted) as client:
        not_allowed = submit(client, "imagine")
        allowed = submit(client, "describe")
    assert (missing.status_code, missing.json()["code"]) == (401, 401)
    assert "description" in missing.json()
    assert (unknown.status_code, unknown.json()["code"]) == (401, 401)
    assert (not_allowed.status_code, not_allowed.json()["code"]) == (403, 403)
    assert "mj_imagine" in not_allowed.json()["description"]
    assert allowed.json()["code"] == 1


def test_an_unpriced_task_model_is_refused(gateway: Deployment, fake_upstream: str) -> None:
    gateway.cli(
        "channel", "add", "--type", "midjourney", "--base-url", fake_upstream, "--key", "k", "--models", "mj_blend"
    )
    gateway.runtime_poll()
    key, _ = new_key(gateway)
    with mj(gateway, key) as client:
        answer = submit(client, "blend")
    assert answer.status_code == 503
    assert answer.json()["code"] == 503


def test_only_the_owner_fetches_a_task_and_fetches_are_free(gw: Deployment) -> None:
    alice, alice_token = new_key(gw)
    bob, _ = new_key(gw, user="bob")
    with mj(gw, alice) as client:
        task_id = submit(client).json()["result"]
        own = client.get(f"/mj/task/{task_id}/fetch")
        unknown = client.get("/mj/task/mj-does-not-exist/fetch")
    with mj(gw, bob) as client:
        other = client.get(f"/mj/task/{task_id}/fetch")
    assert own.status_code == 200
    assert (own.json()["id"], own.json()["status"], own.json()["progress"]) == (task_id, "SUCCESS", "100%")
    assert (other.status_code, other.json()["code"]) == (404, 404)
    assert set(other.json()) == {"code", "description"}
    assert (unknown.status_code, unknown.json()["code"]) == (404, 404)
    assert used(gw, alice_token) == UNITS["mj_imagine"]  # the fetches cost nothing
    assert gw.books()["balanced"]


def test_a_task_fetched_with_another_key_of_the_same_user_is_found(gw: Deployment) -> None:
    first, _ = new_key(gw)
    second, _ = new_key(gw)
    with mj(gw, first) as client:
        task_id = submit(client).json()["result"]
    with mj(gw, second) as client:
        assert client.get(f"/mj/task/{task_id}/fetch").json()["id"] == task_id


def test_list_by_condition_returns_only_the_callers_tasks_and_stores_their_state(gw: Deployment) -> None:
    alice, _ = new_key(gw)
    bob, _ = new_key(gw, user="bob")
    with mj(gw, alice) as client:
        mine = [submit(client).json()["result"], submit(client, "describe").json()["result"]]
    with mj(gw, bob) as client:
        theirs = submit(client).json()["result"]
    with mj(gw, alice) as client:
        listed = client.post("/mj/task/list-by-condition", json={"ids": [mine[1], theirs, "mj-unknown", mine[0]]})
        malformed = client.post("/mj/task/list-by-condition", json={"ids": "mj-1"})
    assert listed.status_code == 200
    assert [task["id"] for task in listed.json()] == [mine[1], mine[0]]
    assert [task["action"] for task in listed.json()] == ["DESCRIBE", "IMAGINE"]
    assert (malformed.status_code, malformed.json()["code"]) == (400, 400)

    async def stored(conn: AsyncConnection) -> dict[str, tuple[str, str, Any]]:
        rows = (await conn.execute(select(tasks))).mappings().all()
        return {row["task_id"]: (row["kind"], row["status"], row["data"]) for row in rows}

    rows = gw.db(stored)
    assert rows[mine[0]][:2] == ("imagine", "SUCCESS")
    assert rows[mine[0]][2]["progress"] == "100%"
    assert rows[theirs][:2] == ("imagine", "SUBMITTED")  # bob never fetched it


def test_when_the_channel_is_gone_a_fetch_answers_the_last_stored_state(gw: Deployment) -> None:
    key, _ = new_key(gw)
    with mj(gw, key) as client:
        fetched = submit(client).json()["result"]
        never_fetched = submit(client).json()["result"]
        before = client.get(f"/mj/task/{fetched}/fetch").json()
    [channel_id] = [row["id"] for row in gw.cli("channel", "list") if row["type"] == "midjourney"]
    gw.db(lambda conn: delete_channel(conn, channel_id))
    gw.runtime_poll()
    with mj(gw, key) as client:
        after = client.get(f"/mj/task/{fetched}/fetch")
        unknown_state = client.get(f"/mj/task/{never_fetched}/fetch")
    assert (after.status_code, after.json()) == (200, before)
    assert (unknown_state.status_code, unknown_state.json()["code"]) == (404, 404)


def test_a_token_quota_below_the_price_is_refused_before_the_upstream(gw: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(gw, "--quota-usd", "0.04")  # mj_imagine costs 0.05
    httpx.delete(fake_upstream + "/_fake/requests")
    with mj(gw, key) as client:
        refused = submit(client)
        allowed = submit(client, "describe")  # 0.01
    assert (refused.status_code, refused.json()["code"]) == (429, 429)
    assert "quota" in refused.json()["description"]
    assert allowed.json()["code"] == 1
    assert [seen["path"] for seen in httpx.get(fake_upstream + "/_fake/requests").json()] == ["/mj/submit/describe"]
    assert used(gw, token_id) == UNITS["mj_describe"]


def test_billing_and_ownership_on_each_storage_backend(gateway_on_each_backend: Deployment, fake_upstream: str) -> None:
    gw = gateway_on_each_backend
    add_mj_channel(gw, fake_upstream)
    alice, alice_token = new_key(gw)
    bob, _ = new_key(gw, user="bob")
    with mj(gw, alice) as client:
        task_id = submit(client).json()["result"]
        listed = client.post("/mj/task/list-by-condition", json={"ids": [task_id]})
    with mj(gw, bob) as client:
        other = client.get(f"/mj/task/{task_id}/fetch")
    assert [task["id"] for task in listed.json()] == [task_id]
    assert other.status_code == 404
    assert used(gw, alice_token) == UNITS["mj_imagine"]
    assert gw.books()["balanced"]


def test_an_action_acts_only_on_an_own_task_and_goes_to_the_channel_that_ran_it(
    gw: Deployment, fake_upstream: str
) -> None:
    alice, alice_token = new_key(gw)
    bob, bob_token = new_key(gw, user="bob")
    with mj(gw, alice) as client:
        task_id = submit(client).json()["result"]  # the only channel so far: key fake-mj
    gw.cli(
        "channel", "add", "--type", "midjourney", "--base-url", fake_upstream, "--key", "fake-mj-2",
        "--models", ",".join(PRICES), "--priority", "5",
    )  # fmt: skip
    gw.runtime_poll()
    httpx.delete(fake_upstream + "/_fake/requests")
    with mj(gw, alice) as client:
        acted = submit(client, "action", customId="MJ::JOB::upsample::1", taskId=task_id)
        fresh = submit(client)
    with mj(gw, bob) as client:
        stolen = submit(client, "action", customId="MJ::JOB::upsample::1", taskId=task_id)
    assert acted.json()["code"] == 1
    assert fresh.json()["code"] == 1
    assert [(seen["path"], seen["mj-api-secret"]) for seen in httpx.get(fake_upstream + "/_fake/requests").json()] == [
        ("/mj/submit/action", "fake-mj"),
        ("/mj/submit/imagine", "fake-mj-2"),
    ]
    assert (stolen.status_code, stolen.json()["code"]) == (404, 404)
    assert used(gw, alice_token) == 2 * UNITS["mj_imagine"] + UNITS["mj_action"]
    assert used(gw, bob_token) == 0
