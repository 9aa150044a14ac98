"""Channels through the API: CRUD, a real test request, the key never coming back, the relay following."""

from __future__ import annotations

import httpx

from tests.api.conftest import error_of
from tests.support.deployment import Deployment

SECRET = "fake;delay-ms=20"


def new_channel(
    root: httpx.Client, fake_upstream: str, key: str = SECRET, models: list[str] | None = None
) -> dict[str, object]:
    body = {
        "type": "openai",
        "base_url": fake_upstream,
        "key": key,
        "name": "fake",
        "models": models or ["gpt-4o-mini"],
    }
    response = root.post("/api/channels", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_channel_crud_never_returns_the_key(gateway: Deployment, root: httpx.Client, fake_upstream: str) -> None:
    channel = new_channel(root, fake_upstream, key="sk-upstream-secret-value-1234")
    assert channel["key_hint"] == "sk-...1234"
    assert "key" not in channel
    patched = root.patch(
        f"/api/channels/{channel['id']}",
        json={"name": "renamed", "priority": 5, "weight": 3, "model_map": {"a": "b"}, "key": "sk-new-secret-9876"},
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["priority"], patched.json()["key_hint"]) == (
        "renamed",
        5,
        "sk-...9876",
    )
    for response in (root.get("/api/channels"), root.get(f"/api/channels/{channel['id']}"), patched):
        assert "secret-value" not in response.text
        assert "sk-new-secret" not in response.text
    assert root.get("/api/channels").json()["total"] == 2  # the fixture's channel and this one
    assert root.post(f"/api/channels/{channel['id']}/disable").json()["status"] == "disabled"
    assert root.post(f"/api/channels/{channel['id']}/enable").json()["status"] == "enabled"
    bad = root.post("/api/channels", json={"type": "openai", "base_url": "ftp://x", "key": "k", "models": ["m"]})
    assert error_of(bad) == (422, "invalid_value")
    assert "base_url" in bad.json()["error"]["fields"]
    assert (
        error_of(
            root.post("/api/channels", json={"type": "nope", "base_url": fake_upstream, "key": "k", "models": ["m"]})
        )[0]
        == 422
    )
    assert root.delete(f"/api/channels/{channel['id']}").status_code == 204
    assert error_of(root.get(f"/api/channels/{channel['id']}")) == (404, "not_found")


def test_channel_test_reports_status_and_latency(root: httpx.Client, fake_upstream: str) -> None:
    good = new_channel(root, fake_upstream)
    result = root.post(f"/api/channels/{good['id']}/test", json={})
    assert result.status_code == 200
    assert result.json()["ok"] is True
    assert result.json()["status"] == 200
    assert result.json()["latency_ms"] >= 20
    assert result.json()["model"] == "gpt-4o-mini"
    failing = new_channel(root, fake_upstream, key="fake;fail=500")
    result = root.post(f"/api/channels/{failing['id']}/test").json()
    assert (result["ok"], result["status"]) == (False, 500)
    assert error_of(root.post("/api/channels/9999/test")) == (404, "not_found")


def test_a_new_channel_serves_the_relay_and_a_disabled_one_stops(
    gateway: Deployment, root: httpx.Client, fake_upstream: str
) -> None:
    gateway.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    key = gateway.cli("token", "create", "--user", "alice")[0]["key"]
    root.put("/api/prices/brand-new-model", json={"input": "1", "output": "2"})
    channel = new_channel(root, fake_upstream, models=["brand-new-model"])
    chat = {"model": "brand-new-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    headers = {"Authorization": f"Bearer {key}"}
    gateway.runtime_poll()
    assert httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers=headers).status_code == 200
    root.post(f"/api/channels/{channel['id']}/disable")
    gateway.runtime_poll()
    response = httpx.post(gateway.url + "/v1/chat/completions", json=chat, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (503, "model_not_available")


def test_a_channel_holds_many_write_only_keys_each_with_its_hint_and_status(
    gateway: Deployment, root: httpx.Client, fake_upstream: str
) -> None:
    body = {
        "type": "openai",
        "base_url": fake_upstream,
        "keys": ["sk-first-secret-aaaa1111", "sk-second-secret-bbbb2222"],
        "models": ["gpt-4o-mini"],
    }
    created = root.post("/api/channels", json=body)
    assert created.status_code == 201, created.text
    channel = created.json()
    assert [(key["hint"], key["status"]) for key in channel["keys"]] == [
        ("sk-...1111", "enabled"),
        ("sk-...2222", "enabled"),
    ]
    first, second = (key["id"] for key in channel["keys"])
    added = root.post(
        f"/api/channels/{channel['id']}/keys", json={"keys": ["sk-third-secret-cccc3333\nsk-first-secret-aaaa1111\n"]}
    )  # one key a line, as new-api stores them; a key the channel has already is not added twice
    assert [key["hint"] for key in added.json()["keys"]] == ["sk-...1111", "sk-...2222", "sk-...3333"]
    disabled = root.patch(f"/api/channels/{channel['id']}/keys/{first}", json={"status": "disabled"}).json()
    assert (disabled["keys"][0]["status"], disabled["keys"][0]["disabled_reason"]) == (
        "disabled",
        "disabled by an administrator",
    )
    removed = root.delete(f"/api/channels/{channel['id']}/keys/{second}").json()
    assert [key["hint"] for key in removed["keys"]] == ["sk-...1111", "sk-...3333"]
    assert error_of(root.delete(f"/api/channels/{channel['id']}/keys/{second}")) == (404, "not_found")
    for response in (created, added, root.get("/api/channels"), root.get(f"/api/channels/{channel['id']}")):
        assert "secret" not in response.text
    no_key = root.post("/api/channels", json=body | {"keys": []})
    assert error_of(no_key) == (422, "invalid_value")


def test_fetch_models_reads_the_upstream_list_and_unpriced_models_are_flagged(
    root: httpx.Client, fake_upstream: str
) -> None:
    channel = new_channel(root, fake_upstream, models=["gpt-4o-mini", "not-priced-yet"])
    assert channel["unpriced_models"] == ["not-priced-yet"]
    assert "not-priced-yet" in root.get("/api/prices").json()["unpriced_models"]
    fetched = root.post(f"/api/channels/{channel['id']}/fetch-models")
    assert fetched.status_code == 200, fetched.text
    listed = httpx.get(f"{fake_upstream}/v1/models", headers={"Authorization": "Bearer fake"}).json()["data"]
    assert fetched.json()["models"] == sorted(model["id"] for model in listed)
    assert "gpt-4o-mini" not in fetched.json()["new"]
    assert fetched.json()["new"]
    refused = new_channel(root, fake_upstream, key="fake;fail=401")
    assert error_of(root.post(f"/api/channels/{refused['id']}/fetch-models"))[0] == 502


def test_chat_completions_only_is_created_read_patched_and_documented(root: httpx.Client, fake_upstream: str) -> None:
    body = {"type": "openai", "base_url": fake_upstream, "key": "k", "models": ["m"], "chat_completions_only": True}
    created = root.post("/api/channels", json=body)
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    assert root.get(f"/api/channels/{channel_id}").json()["chat_completions_only"] is True
    assert new_channel(root, fake_upstream)["chat_completions_only"] is False
    patched = root.patch(f"/api/channels/{channel_id}", json={"chat_completions_only": False})
    assert patched.json()["chat_completions_only"] is False
    assert root.patch(f"/api/channels/{channel_id}", json={"priority": 2}).json()["chat_completions_only"] is False
    refused = root.post("/api/channels", json=body | {"type": "gemini"})
    assert error_of(refused) == (422, "invalid_value")
    assert "chat_completions_only" in refused.json()["error"]["fields"]
    schemas = root.get("/api/openapi.json").json()["components"]["schemas"]
    for name in ("ChannelCreate", "ChannelPatch", "ChannelOut"):
        assert "/v1/responses" in schemas[name]["properties"]["chat_completions_only"]["description"]
