"""Admin analytics: usage totals over every user per user, token, channel, model, group or day,
with errors, mean latency, and the upstream cost and margin from a channel's cost prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import error_of
from tests.support.billing import expected_charge, mini_charge
from tests.support.deployment import Deployment


def chat(gw: Deployment, key: str, model: str = "gpt-4o-mini") -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ).status_code


def buckets(client: httpx.Client, by: str, **params: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/api/usage/summary", params={"by": by, **params})
    assert response.status_code == 200, response.text
    return {row["key"]: row for row in response.json()["items"]}


def test_admin_totals_over_every_user_with_errors_latency_cost_and_margin(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    channel = root.get("/api/channels").json()["items"][0]
    costs = {"gpt-4o-mini": {"input": "0.1", "output": "0.3"}}
    assert root.patch(f"/api/channels/{channel['id']}", json={"cost_prices": costs}).status_code == 200
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", channel["base_url"], "--key", "fake;fail=500",
        "--models", "failing-model",
    )  # fmt: skip
    gateway.cli("price", "set", "failing-model", "--input", "1", "--output", "1")
    gateway.runtime_poll()
    alice, bob = login_as("alice"), login_as("bob")
    [alices] = alice.post("/api/tokens", json={}).json()["items"]
    [bobs] = bob.post("/api/tokens", json={}).json()["items"]
    for _ in range(3):
        assert chat(gateway, alices["key"]) == 200
    assert chat(gateway, bobs["key"]) == 200
    assert chat(gateway, bobs["key"], "failing-model") == 500  # the upstream fails it: an error, not charged
    gateway.flush()
    alice_id, bob_id = alice.get("/api/me").json()["id"], bob.get("/api/me").json()["id"]

    by_user = buckets(root, "user")
    assert (by_user[str(alice_id)]["requests"], by_user[str(alice_id)]["errors"]) == (3, 0)
    assert (by_user[str(bob_id)]["requests"], by_user[str(bob_id)]["errors"]) == (2, 1)
    assert by_user[str(alice_id)]["quota"] == 3 * mini_charge(7, 5)
    assert (by_user[str(alice_id)]["prompt_tokens"], by_user[str(alice_id)]["completion_tokens"]) == (21, 15)
    assert by_user[str(alice_id)]["mean_latency_ms"] > 0

    channels = buckets(root, "channel")
    by_channel = channels[str(channel["id"])]
    cost = expected_charge("0.1", "0.3", 4 * 7, 4 * 5)  # the four served requests at the channel's cost prices
    assert (by_channel["requests"], by_channel["quota"], by_channel["cost"]) == (4, 4 * mini_charge(7, 5), cost)
    assert by_channel["margin"] == 4 * mini_charge(7, 5) - cost
    failing = next(row for key, row in channels.items() if key != str(channel["id"]))
    assert (failing["requests"], failing["errors"], failing["quota"], failing["cost"]) == (1, 1, 0, None)

    assert set(buckets(root, "token")) == {str(alices["id"]), str(bobs["id"])}
    assert buckets(root, "group")["default"]["requests"] == 5
    assert buckets(root, "model")["gpt-4o-mini"]["requests"] == 4
    assert sum(row["requests"] for row in buckets(root, "day").values()) == 5
    assert set(buckets(root, "user", user_id=bob_id)) == {str(bob_id)}

    own = buckets(alice, "model")  # a user: own records, and no cost
    assert (own["gpt-4o-mini"]["requests"], own["gpt-4o-mini"]["cost"]) == (3, None)
    assert error_of(alice.get("/api/usage/summary", params={"by": "user"})) == (403, "forbidden")
    bad = root.patch(f"/api/channels/{channel['id']}", json={"cost_prices": {"m": {"input": "cheap"}}})
    assert error_of(bad) == (422, "invalid_value")
