"""`/v1/dashboard/billing/subscription` and `/usage`: what OpenAI-era clients read as the remaining balance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.keys import new_key

CALL_USD = "0.25"  # one chat call to the per-call model below


@pytest.fixture
def gw(gateway: Deployment) -> Deployment:
    gateway.cli("price", "set", "unpriced-model", "--per-call", CALL_USD)
    gateway.runtime_poll()
    return gateway


def call(gw: Deployment, key: str) -> None:
    body = {"model": "unpriced-model", "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text


def billing(gw: Deployment, key: str, what: str) -> Any:
    gw.flush()
    answer = httpx.get(gw.url + f"/v1/dashboard/billing/{what}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_token_with_a_quota_reports_its_quota_and_its_own_usage(gw: Deployment) -> None:
    key, _ = new_key(gw, "--quota-usd", "2")
    call(gw, key)
    assert billing(gw, key, "subscription") == {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": 2.0,
        "hard_limit_usd": 2.0,
        "system_hard_limit_usd": 2.0,
        "access_until": 0,
    }
    assert billing(gw, key, "usage") == {"object": "list", "total_usage": 25.0}  # cents


def test_an_unlimited_token_reports_the_owners_balance_plus_usage(gw: Deployment) -> None:
    first, _ = new_key(gw, usd="10")
    second, _ = new_key(gw, "--expires", "2099-01-01T00:00:00Z")
    call(gw, first)
    call(gw, second)
    subscription = billing(gw, second, "subscription")
    assert subscription["hard_limit_usd"] == 10.0  # 9.50 left + 0.50 used
    assert subscription["access_until"] == 4070908800
    assert billing(gw, second, "usage")["total_usage"] == 50.0


def test_billing_routes_authenticate_like_the_openai_routes(gw: Deployment) -> None:
    missing = httpx.get(gw.url + "/v1/dashboard/billing/subscription")
    unknown = httpx.get(gw.url + "/v1/dashboard/billing/usage", headers={"Authorization": "Bearer sk-nope"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_api_key")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (401, "invalid_api_key")


def test_the_routes_answer_without_v1_as_well(gw: Deployment) -> None:
    key, _ = new_key(gw, "--quota-usd", "3")
    answer = httpx.get(gw.url + "/dashboard/billing/subscription", headers={"Authorization": f"Bearer {key}"})
    assert answer.json()["hard_limit_usd"] == 3.0
