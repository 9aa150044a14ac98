"""`relaygate access-key ...` and `relaygate price load-defaults`."""

from __future__ import annotations

import httpx

from relaygate.billing.default_prices import default_price_table
from tests.support.deployment import Deployment


def test_access_key_create_list_revoke(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "ada", "--password", "password-123", "--role", "admin")
    [created] = gw.cli("access-key", "create", "--user", "ada", "--name", "ci")
    assert created["key"].startswith("ak-")
    assert created["user"] == "ada"
    listed = gw.cli("access-key", "list")
    assert [(key["id"], key["user"], key["name"]) for key in listed] == [(created["id"], "ada", "ci")]
    assert "key" not in listed[0]
    gw.start()
    try:
        headers = {"Authorization": f"Bearer {created['key']}"}
        assert httpx.get(gw.url + "/api/me", headers=headers).json()["name"] == "ada"
        gw.cli("access-key", "revoke", str(created["id"]))
        assert httpx.get(gw.url + "/api/me", headers=headers).status_code == 401
    finally:
        gw.stop()
    assert gw.cli("access-key", "list", "--user", "ada") == []
    assert "no access key with id" in gw.cli_fails("access-key", "revoke", str(created["id"]))
    assert "no user named 'nobody'" in gw.cli_fails("access-key", "create", "--user", "nobody")


def test_load_defaults_prices_current_models_without_overwriting(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    as_of, table = default_price_table()
    assert as_of
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"} <= set(table)
    gw.cli("price", "set", "gpt-4o", "--input", "9", "--output", "9")
    loaded = gw.cli("price", "load-defaults")
    assert len(loaded) == len(table) - 1
    prices = {price["model"]: price for price in gw.cli("price", "list")}
    assert prices["gpt-4o"]["input"] == "9"
    assert prices["gpt-4o-mini"] == {
        "model": "gpt-4o-mini",
        "input": "0.15",
        "cached_input": "0.075",
        "output": "0.6",
        "per_call": None,
        "audio_input": None,
        "audio_output": None,
        "max_output_tokens": 16384,
        "cache_write_5m": None,
        "cache_write_1h": None,
    }
    assert gw.cli("price", "load-defaults") == []
    assert len(gw.cli("price", "load-defaults", "--replace")) == len(table)
    assert {price["model"]: price for price in gw.cli("price", "list")}["gpt-4o"]["input"] == "2.5"
