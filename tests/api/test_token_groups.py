"""Token groups chosen by users: their own, a selectable one, or `auto`; billed at the serving group's multiplier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import usage_records
from tests.api.conftest import error_of
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

MESSAGES = [{"role": "user", "content": "hello there"}]


def records(gw: Deployment) -> list[dict[str, Any]]:
    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = await conn.execute(select(usage_records).order_by(usage_records.c.id))
        return [dict(row) for row in rows.mappings()]

    gw.flush()
    return gw.db(read)


def lines(gateway: Deployment, root: httpx.Client, upstream: str) -> None:
    """cheap (0.5x) serves only model-a, premium (3x) both; secret is not selectable."""
    for name, multiplier, order, selectable in (
        ("cheap", "0.5", 1, True),
        ("premium", "3", 2, True),
        ("secret", "0.1", 0, False),
    ):
        created = root.post(
            "/api/groups",
            json={"name": name, "multiplier": multiplier, "sort_order": order, "selectable": selectable},
        )
        assert created.status_code == 201, created.text
    assert created.json()["selectable"] is False
    gateway.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake", "--models", "model-a",
                "--group", "cheap")  # fmt: skip
    gateway.cli("channel", "add", "--type", "openai", "--base-url", upstream, "--key", "fake",
                "--models", "model-a,model-b", "--group", "premium")  # fmt: skip
    for model in ("model-a", "model-b"):
        gateway.cli("price", "set", model, "--input", "1", "--output", "2")
    gateway.runtime_poll()


def test_auto_takes_the_first_selectable_group_that_serves_the_model(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client], fake_upstream: str
) -> None:
    lines(gateway, root, fake_upstream)
    alice = login_as("alice")
    created = alice.post("/api/tokens", json={"name": "auto", "group": "auto"})
    assert created.status_code == 201, created.text
    key = created.json()["items"][0]["key"]
    with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model="model-a", messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
        sdk.chat.completions.create(model="model-b", messages=MESSAGES, max_tokens=5)  # type: ignore[arg-type]
        assert {"model-a", "model-b"} <= {model.id for model in sdk.models.list()}
    first, second = records(gateway)
    assert (first["model"], first["group"]) == ("model-a", "cheap")
    assert (second["model"], second["group"]) == ("model-b", "premium")
    assert first["quota"] == expected_charge("1", "2", first["prompt_tokens"], 5, "0.5")
    assert second["quota"] == expected_charge("1", "2", second["prompt_tokens"], 5, "3")
    assert gateway.books()["balanced"]


def test_a_user_may_pick_a_selectable_group_but_not_another(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client], fake_upstream: str
) -> None:
    lines(gateway, root, fake_upstream)
    alice = login_as("alice")
    assert error_of(alice.post("/api/tokens", json={"name": "t", "group": "secret"})) == (403, "forbidden")
    assert error_of(alice.post("/api/tokens", json={"name": "t", "group": "nonexistent"}))[0] == 422
    premium = alice.post("/api/tokens", json={"name": "t", "group": "premium"})
    assert premium.status_code == 201
    token_id = premium.json()["items"][0]["id"]
    assert error_of(alice.patch(f"/api/tokens/{token_id}", json={"group": "secret"})) == (403, "forbidden")
    assert root.post("/api/tokens", json={"name": "t", "group": "secret"}).status_code == 201  # admins may
    assert error_of(root.post("/api/groups", json={"name": "auto"})) == (422, "invalid_value")


def test_the_price_list_shows_the_selectable_groups_at_their_multipliers(
    gateway: Deployment, root: httpx.Client, login_as: Callable[..., httpx.Client], fake_upstream: str
) -> None:
    lines(gateway, root, fake_upstream)
    pricing = login_as("alice").get("/api/pricing").json()
    assert pricing["groups"] == ["default", "cheap", "premium"]  # her own, then the selectable ones in order
    offered = {(item["model"], item["group"]): item["input"] for item in pricing["items"] if "model-" in item["model"]}
    assert offered == {("model-a", "cheap"): "0.5", ("model-a", "premium"): "3", ("model-b", "premium"): "3"}
    assert "secret" not in pricing["groups"]
