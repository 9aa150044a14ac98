"""Account rate limits set by an admin through the API and the CLI, and a running server following them."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.api.conftest import PASSWORD, error_of
from tests.relay.test_auth_failures import CHAT
from tests.support.deployment import Deployment


def chat(gw: Deployment, key: str) -> None:
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(**CHAT)


def test_limits_are_validated_and_returned(gateway: Deployment, root: httpx.Client) -> None:
    created = root.post("/api/users", json={"name": "dora", "password": PASSWORD, "rpm": 10, "max_concurrent": 2})
    assert created.status_code == 201, created.text
    dora = created.json()
    assert (dora["rpm"], dora["tpm"], dora["max_concurrent"]) == (10, None, 2)
    for invalid in ({"rpm": 0}, {"tpm": -5}, {"max_concurrent": "many"}):
        assert error_of(root.patch(f"/api/users/{dora['id']}", json=invalid)) == (422, "validation_failed")
    patched = root.patch(f"/api/users/{dora['id']}", json={"rpm": None, "tpm": 5000})
    assert (patched.json()["rpm"], patched.json()["tpm"], patched.json()["max_concurrent"]) == (None, 5000, 2)
    assert root.patch(f"/api/users/{dora['id']}", json={"group": "default"}).json()["tpm"] == 5000  # kept


def test_limit_set_through_the_api_reaches_the_running_server(gateway: Deployment, root: httpx.Client) -> None:
    user = root.post("/api/users", json={"name": "erin", "password": PASSWORD, "balance_usd": "5"}).json()
    key = gateway.cli("token", "create", "--user", "erin")[0]["key"]
    for _ in range(3):
        chat(gateway, key)  # no limit yet (and nothing counted: counting starts with a limit)
    assert root.patch(f"/api/users/{user['id']}", json={"rpm": 2}).status_code == 200
    gateway.runtime_poll()
    chat(gateway, key)
    chat(gateway, key)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(gateway, key)
    assert "your account is limited to 2 requests per minute" in caught.value.message
    assert root.patch(f"/api/users/{user['id']}", json={"rpm": None}).status_code == 200
    gateway.runtime_poll()
    chat(gateway, key)


def test_cli_sets_and_removes_account_limits(gateway: Deployment) -> None:
    created = gateway.cli("user", "create", "fred", "--password", PASSWORD, "--rpm", "30", "--tpm", "9000")[0]
    assert (created["rpm"], created["tpm"], created["max_concurrent"]) == (30, 9000, None)
    changed = gateway.cli("user", "limits", "fred", "--rpm", "none", "--max-concurrent", "3")[0]
    assert (changed["rpm"], changed["tpm"], changed["max_concurrent"]) == (None, 9000, 3)
    assert "at least 1" in gateway.cli_fails("user", "limits", "fred", "--tpm", "0")
    assert "whole number" in gateway.cli_fails("user", "create", "gina", "--rpm", "lots")
