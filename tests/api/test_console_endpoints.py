"""The two reads the console needs beyond the resources: totals over a time range, and the registration mode."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import error_of
from tests.api.test_usage import chat
from tests.support.billing import mini_charge
from tests.support.deployment import Deployment


def test_usage_totals_sum_the_filtered_records(gateway: Deployment, login_as: Callable[..., httpx.Client]) -> None:
    alice, bob = login_as("alice"), login_as("bob")
    [token] = alice.post("/api/tokens", json={}).json()["items"]
    [bobs] = bob.post("/api/tokens", json={}).json()["items"]
    chat(gateway, token["key"])
    chat(gateway, token["key"])
    chat(gateway, bobs["key"])
    gateway.flush()

    totals = alice.get("/api/usage/totals", params={"from": "2000-01-01T00:00:00Z"}).json()
    assert totals == {"requests": 2, "prompt_tokens": 14, "completion_tokens": 10, "quota": 2 * mini_charge(7, 5)}
    assert totals["quota"] == gateway.user("alice")["used_quota"]
    empty = alice.get("/api/usage/totals", params={"to": "2000-01-01T00:00:00Z"}).json()
    assert empty == {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "quota": 0}
    assert error_of(httpx.get(gateway.url + "/api/usage/totals")) == (401, "unauthenticated")


def test_registration_mode_is_public(gateway: Deployment) -> None:
    response = httpx.get(gateway.url + "/api/auth/registration")
    assert (response.status_code, response.json()) == (200, {"registration": "closed"})
