"""Usage records after real relayed requests: own records only, filters, totals, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import httpx

from tests.api.conftest import error_of
from tests.support.billing import mini_charge
from tests.support.deployment import Deployment


def chat(gw: Deployment, key: str, model: str = "gpt-4o-mini") -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_usage_list_summary_and_csv(
    gateway: Deployment, login_as: Callable[..., httpx.Client], root: httpx.Client
) -> None:
    alice, bob = login_as("alice"), login_as("bob")
    first, second = alice.post("/api/tokens", json={"count": 2}).json()["items"]
    [bobs] = bob.post("/api/tokens", json={}).json()["items"]
    for _ in range(3):
        chat(gateway, first["key"])
    chat(gateway, second["key"], model="gpt-4o")
    chat(gateway, bobs["key"])
    gateway.flush()

    page = alice.get("/api/usage", params={"per_page": 2}).json()
    assert (page["total"], len(page["items"])) == (4, 2)
    newest = page["items"][0]
    assert (newest["model"], newest["token_id"], newest["status_code"]) == ("gpt-4o", second["id"], 200)
    assert newest["channel_id"] is None  # which upstream served is for admins
    assert {item["user_id"] for item in alice.get("/api/usage").json()["items"]} == {newest["user_id"]}
    by_token = alice.get("/api/usage", params={"token_id": first["id"]}).json()
    assert by_token["total"] == 3
    assert by_token["items"][0]["quota"] == mini_charge(7, 5)
    assert alice.get("/api/usage", params={"model": "gpt-4o"}).json()["total"] == 1
    assert (
        alice.get("/api/usage", params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}).json()["total"]
        == 0
    )

    by_model = alice.get("/api/usage/summary", params={"by": "model"}).json()
    assert by_model["by"] == "model"
    rows = {row["key"]: row for row in by_model["items"]}
    assert (rows["gpt-4o-mini"]["requests"], rows["gpt-4o-mini"]["quota"]) == (3, 3 * mini_charge(7, 5))
    assert rows["gpt-4o"]["requests"] == 1
    by_day = alice.get("/api/usage/summary", params={"by": "day"}).json()["items"]
    assert len(by_day) == 1
    assert by_day[0]["requests"] == 4
    assert len(by_day[0]["key"]) == 10  # YYYY-MM-DD
    assert error_of(alice.get("/api/usage/summary", params={"by": "week"}))[0] == 422
    assert alice.get("/api/usage/summary", params={"by": "day", "tz": "Asia/Tokyo"}).json()["items"][0]["requests"] == 4
    assert error_of(alice.get("/api/usage/summary", params={"by": "day", "tz": "Mars/Base"})) == (422, "invalid_value")

    exported = alice.get("/api/usage.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(table) == 4
    assert "channel_id" not in table[0]
    assert table[0]["model"] == "gpt-4o-mini"
    assert table[0]["created_at"].endswith("Z")
    assert sum(int(row["quota"]) for row in table) == gateway.user("alice")["used_quota"]

    assert error_of(alice.get("/api/usage", params={"user_id": bobs["id"] + 1000})) == (403, "forbidden")
    bob_id = bob.get("/api/me").json()["id"]
    as_admin = root.get("/api/usage", params={"user_id": bob_id}).json()
    assert as_admin["total"] == 1
    assert as_admin["items"][0]["channel_id"] is not None


def test_an_admin_filters_the_whole_sites_usage_by_user_channel_and_status(
    gateway: Deployment, login_as: Callable[..., httpx.Client], root: httpx.Client
) -> None:
    channel = root.get("/api/channels").json()["items"][0]
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", channel["base_url"], "--key", "fake;fail=500",
        "--models", "failing-model",
    )  # fmt: skip
    gateway.cli("price", "set", "failing-model", "--input", "1", "--output", "1")
    gateway.runtime_poll()
    alice, bob = login_as("alice"), login_as("bob")
    [alices] = alice.post("/api/tokens", json={}).json()["items"]
    [bobs] = bob.post("/api/tokens", json={}).json()["items"]
    chat(gateway, alices["key"])
    chat(gateway, alices["key"])
    chat(gateway, bobs["key"])
    failed = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "failing-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
        headers={"Authorization": f"Bearer {bobs['key']}"},
    )
    assert failed.status_code == 500
    gateway.flush()
    bob_id = bob.get("/api/me").json()["id"]

    assert root.get("/api/usage").json()["total"] == 0  # without all_users: the admin's own records
    site = root.get("/api/usage", params={"all_users": "true"}).json()
    assert site["total"] == 4
    assert root.get("/api/usage/totals", params={"all_users": "true"}).json()["requests"] == 4
    assert root.get("/api/usage", params={"all_users": "true", "user_id": bob_id}).json()["total"] == 2
    served = root.get("/api/usage", params={"all_users": "true", "channel_id": channel["id"]}).json()
    assert (served["total"], {item["channel_id"] for item in served["items"]}) == (3, {channel["id"]})
    errors = root.get("/api/usage", params={"all_users": "true", "status": "error"}).json()
    assert [(item["model"], item["status_code"]) for item in errors["items"]] == [("failing-model", 500)]
    assert root.get("/api/usage", params={"all_users": "true", "status": "ok"}).json()["total"] == 3
    by_user = root.get("/api/usage/summary", params={"by": "user", "status": "error"}).json()["items"]
    assert [(row["key"], row["requests"]) for row in by_user] == [(str(bob_id), 1)]
    by_model = root.get("/api/usage/summary", params={"by": "model", "channel_id": channel["id"]}).json()["items"]
    assert [(row["key"], row["requests"]) for row in by_model] == [("gpt-4o-mini", 3)]
    exported = root.get("/api/usage.csv", params={"all_users": "true", "status": "error"})
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == 1

    assert error_of(alice.get("/api/usage", params={"all_users": "true"})) == (403, "forbidden")
    assert error_of(alice.get("/api/usage", params={"channel_id": channel["id"]})) == (403, "forbidden")
    assert error_of(root.get("/api/usage", params={"status": "broken"}))[0] == 422
