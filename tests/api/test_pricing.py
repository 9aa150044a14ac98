"""`GET /api/pricing`: exactly the models a user can call, at that user's prices."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import openai

from tests.api.conftest import ROOT_PASSWORD, error_of, session_client, with_root
from tests.support.deployment import Deployment


def test_the_price_list_holds_what_the_user_can_call_at_the_users_prices(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client], fake_upstream: str
) -> None:
    # The fixture's channel serves gpt-4o-mini, gpt-4o, text-embedding-3-small and unpriced-model to `default`.
    assert root.post("/api/groups", json={"name": "vip", "multiplier": "0.8"}).status_code == 201
    root.post(
        "/api/channels",
        json={"type": "openai", "base_url": fake_upstream, "key": "fake", "models": ["vip-only"], "groups": ["vip"]},
    )
    root.put("/api/prices/vip-only", json={"per_call": "0.01"})
    alice = login_as("alice")
    root.patch(f"/api/users/{alice.get('/api/me').json()['id']}", json={"group": "vip"})
    gateway.runtime_poll()

    vip = alice.get("/api/pricing").json()
    assert vip["groups"] == ["vip"]
    assert vip["items"] == [
        {
            "model": "vip-only",
            "group": "vip",
            "multiplier": "0.8",
            "input": None,
            "cached_input": None,
            "output": None,
            "per_call": "0.008",
            "audio_input": None,
            "audio_output": None,
        }
    ]
    default = root.get("/api/pricing").json()
    assert [item["model"] for item in default["items"]] == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    mini = next(item for item in default["items"] if item["model"] == "gpt-4o-mini")
    assert (mini["input"], mini["cached_input"], mini["output"]) == ("0.15", "0.075", "0.6")

    # What is listed can be called, and what can be called is listed: ask the relay for each.
    key = gateway.cli("token", "create", "--user", "alice")[0]["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0) as client:
        served = sorted(model.id for model in client.models.list())
        assert served == ["vip-only"]
    assert error_of(httpx.get(gateway.url + "/api/pricing")) == (401, "unauthenticated")


def test_public_pricing_answers_anonymous_callers_with_the_default_group(tmp_path: Path, fake_upstream: str) -> None:
    gw = with_root(Deployment(tmp_path / "data", public_pricing="true"))
    gw.cli("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "m1,m2")
    gw.cli("price", "set", "m1", "--input", "1", "--output", "2")
    gw.start()
    try:
        anonymous = httpx.get(gw.url + "/api/pricing")
        assert anonymous.status_code == 200
        assert [(item["model"], item["input"]) for item in anonymous.json()["items"]] == [("m1", "1")]
        with closing(session_client(gw, "root", ROOT_PASSWORD)) as root:
            assert root.get("/api/pricing").json()["groups"] == ["default"]
    finally:
        gw.stop()
