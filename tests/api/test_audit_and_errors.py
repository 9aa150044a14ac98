"""The audit log, the OpenAPI document, and the error shape of every failure under /api."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import error_of
from tests.support.deployment import Deployment


def test_management_actions_are_audited_with_who_what_and_where(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client]
) -> None:
    alice = login_as("alice")
    [token] = alice.post("/api/tokens", json={"name": "t"}).json()["items"]
    alice.post(f"/api/tokens/{token['id']}/disable")
    root.put("/api/prices/gpt-4o", json={"input": "3", "output": "12"})
    httpx.post(gateway.url + "/api/auth/login", json={"username": "alice", "password": "wrong-password"})
    entries = root.get("/api/audit", params={"per_page": 100}).json()["items"]
    actions = [(entry["actor_name"], entry["action"], entry["target"]) for entry in entries]
    assert ("alice", "token.create", f"token:{token['id']}") in actions
    assert ("alice", "token.disable", f"token:{token['id']}") in actions
    assert ("root", "price.set", "price:gpt-4o") in actions
    assert ("alice", "auth.login_failed", "") in actions
    by_api = [entry for entry in entries if not entry["actor_name"].startswith("cli:")]  # the fixture's CLI setup
    assert all(entry["ip"] == "127.0.0.1" for entry in by_api)
    assert entries[0]["created_at"].endswith("Z")
    assert token["key"] not in str(entries)
    only_tokens = root.get("/api/audit", params={"action": "token."}).json()
    assert {entry["action"] for entry in only_tokens["items"]} == {"token.create", "token.disable"}


def test_the_openapi_document_lists_every_route(gateway: Deployment) -> None:
    document = httpx.get(gateway.url + "/api/openapi.json").json()
    assert document["servers"] == [{"url": "/api"}]
    routes = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    expected = {
        ("POST", "/auth/login"), ("POST", "/auth/logout"), ("POST", "/auth/register"), ("GET", "/auth/registration"),
        ("GET", "/me"), ("POST", "/me/password"),
        ("GET", "/access-keys"), ("POST", "/access-keys"), ("DELETE", "/access-keys/{key_id}"),
        ("GET", "/tokens"), ("POST", "/tokens"), ("GET", "/tokens/{token_id}"), ("PATCH", "/tokens/{token_id}"),
        ("DELETE", "/tokens/{token_id}"), ("POST", "/tokens/{token_id}/enable"),
        ("POST", "/tokens/{token_id}/disable"), ("POST", "/tokens/{token_id}/rotate"),
        ("POST", "/tokens/{token_id}/reveal"),
        ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{user_id}"), ("PATCH", "/users/{user_id}"),
        ("DELETE", "/users/{user_id}"), ("POST", "/users/{user_id}/topup"), ("GET", "/books"),
        ("GET", "/channels"), ("POST", "/channels"), ("GET", "/channels/{channel_id}"),
        ("PATCH", "/channels/{channel_id}"), ("DELETE", "/channels/{channel_id}"),
        ("POST", "/channels/{channel_id}/enable"), ("POST", "/channels/{channel_id}/disable"),
        ("POST", "/channels/{channel_id}/test"), ("POST", "/channels/{channel_id}/keys"),
        ("PATCH", "/channels/{channel_id}/keys/{key_id}"), ("DELETE", "/channels/{channel_id}/keys/{key_id}"),
        ("POST", "/channels/{channel_id}/fetch-models"), ("POST", "/users/{user_id}/password"), ("GET", "/pricing"),
        ("GET", "/prices"), ("PUT", "/prices/{model}"), ("DELETE", "/prices/{model}"), ("POST", "/prices/load-defaults"),
        ("GET", "/groups"), ("POST", "/groups"), ("PATCH", "/groups/{name}"), ("DELETE", "/groups/{name}"),
        ("POST", "/redemptions"), ("GET", "/redemptions"), ("POST", "/redeem"),
        ("GET", "/usage"), ("GET", "/usage/summary"), ("GET", "/usage/totals"), ("GET", "/usage.csv"), ("GET", "/audit"),
    }  # fmt: skip
    assert routes == expected
    usage_filters = {parameter["name"] for parameter in document["paths"]["/usage"]["get"]["parameters"]}
    assert {"all_users", "channel_id", "status", "user_id", "token_id", "model", "from", "to"} <= usage_filters
    token_create = document["paths"]["/tokens"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert token_create["$ref"].endswith("/TokenCreate")
    fields = set(document["components"]["schemas"]["TokenCreate"]["properties"])
    assert fields == {
        "name", "count", "expires_at", "quota_limit", "unlimited", "models", "allow_ips", "group", "rpm", "tpm",
        "max_concurrent", "reset",
    }  # fmt: skip


def test_errors_have_one_shape_and_the_right_status(gateway: Deployment, root: httpx.Client) -> None:
    url = gateway.url
    bad_json = root.post("/api/tokens", content=b"{nope", headers={"Content-Type": "application/json"})
    assert error_of(bad_json) == (400, "invalid_json")
    assert error_of(httpx.get(url + "/api/tokens")) == (401, "unauthenticated")
    assert error_of(root.get("/api/tokens/424242")) == (404, "not_found")
    assert error_of(root.get("/api/no-such-thing")) == (404, "not_found")
    assert error_of(root.delete("/api/me"))[0] == 405
    assert error_of(root.post("/api/groups", json={"name": "default"})) == (409, "conflict")
    invalid = root.post("/api/tokens", json={"count": "many", "rpm": 0, "colour": "red"})
    assert error_of(invalid) == (422, "validation_failed")
    assert set(invalid.json()["error"]["fields"]) == {"count", "rpm", "colour"}
    assert error_of(root.get("/api/tokens", params={"page": 0})) == (422, "validation_failed")
    huge = root.post("/api/tokens", json={"name": "x" * (2 * 1024 * 1024)})
    assert error_of(huge) == (413, "request_too_large")
