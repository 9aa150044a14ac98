"""The operator's CLI: JSON output with the API's field names, errors, and changes reaching a running server."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.support.deployment import Deployment

TOKEN_FIELDS = {
    "id",
    "name",
    "key",
    "hint",
    "status",
    "expires_at",
    "quota_limit",
    "used_quota",
    "models",
    "allow_ips",
    "group",
    "rpm",
    "tpm",
    "max_concurrent",
    "reset",
    "last_reset_at",
    "next_reset_at",
    "revealable",
}
USER_FIELDS = {"id", "name", "role", "group", "status", "balance", "used_quota"}


def test_json_output_uses_the_api_field_names(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    [user] = gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "2.5")
    assert set(user) >= USER_FIELDS
    assert user["balance"] == 1_250_000
    created = gw.cli(
        "token", "create", "--user", "alice", "--name", "batch", "--count", "3", "--quota-usd", "1",
        "--models", "gpt-4o,gpt-4o-mini", "--allow-ip", "10.1.2.3", "--allow-ip", "2001:db8::/48",
        "--expires", "2030-01-01T00:00:00Z",
    )  # fmt: skip
    assert len(created) == 3
    assert len({token["key"] for token in created}) == 3
    for token in created:
        assert set(token) == TOKEN_FIELDS
        assert token["key"].startswith("sk-")
        assert len(token["key"]) == 51
        assert token["key"][3:].isalnum()
        assert token["hint"] == f"sk-{token['key'][3:7]}...{token['key'][-4:]}"
        assert token["quota_limit"] == 500_000
        assert token["allow_ips"] == ["10.1.2.3/32", "2001:db8::/48"]
        assert token["expires_at"] == "2030-01-01T00:00:00Z"
    listed = gw.cli("token", "list", "--user", "alice")
    assert all("key" not in token for token in listed)
    assert {token["quota_limit"] for token in gw.cli("token", "list")} == {500_000}


def test_bad_input_is_refused_with_a_clear_message(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "alice", "--password", "password-123")
    assert "not an IP address or CIDR" in gw.cli_fails("token", "create", "--user", "alice", "--allow-ip", "10.0.0.300")
    assert "no user named 'nobody'" in gw.cli_fails("token", "create", "--user", "nobody")
    assert "already exists" in gw.cli_fails("user", "create", "alice", "--password", "password-123")
    assert "one quota unit" in gw.cli_fails("user", "topup", "alice", "--usd", "0.0000001")
    assert "FROM=TO" in gw.cli_fails(
        "channel", "add", "--type", "openai", "--base-url", "http://x", "--key", "k", "--models", "m", "--map", "bad"
    )
    assert "no token with id 99" in gw.cli_fails("token", "disable", "99")


def test_topup_and_list(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    [after] = gw.cli("user", "topup", "alice", "--usd", "0.5")
    assert after["balance"] == 750_000
    assert gw.books()["balanced"]


def test_a_revoke_from_another_process_reaches_the_running_server_within_a_second(gateway: Deployment) -> None:
    gateway.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    token = gateway.cli("token", "create", "--user", "alice")[0]
    headers = {"Authorization": f"Bearer {token['key']}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    subprocess.run(
        [sys.executable, "-m", "relaygate", "token", "revoke", str(token["id"])],
        env={**os.environ, **gateway.env},
        check=True,
        capture_output=True,
    )
    revoked_at = time.monotonic()
    while True:
        response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
        if response.status_code == 401:
            break
        assert time.monotonic() - revoked_at < 1.0, "the revoke did not reach the server within 1 s"
        time.sleep(0.02)
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_channel_test_reports_status_and_latency(sqlite_deployment: Deployment, fake_upstream: str) -> None:
    gw = sqlite_deployment
    ok = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o"
    )[0]
    [result] = gw.cli("channel", "test", str(ok["id"]))
    assert (result["ok"], result["status"], result["model"]) == (True, 200, "gpt-4o")
    assert result["latency_ms"] > 0
    bad = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "k;fail=503", "--models", "m"
    )[0]
    output = gw.cli_fails("channel", "test", str(bad["id"]), "--json")
    assert '"status": 503' in output
    assert "k;fail=503" not in output


def test_a_channel_added_while_the_server_runs_serves_within_a_second(gateway: Deployment, fake_upstream: str) -> None:
    gateway.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    token = gateway.cli("token", "create", "--user", "alice")[0]
    headers = {"Authorization": f"Bearer {token['key']}"}
    body = {"model": "new-model", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
    assert response.json()["error"]["code"] == "model_not_found"
    gateway.cli("price", "set", "new-model", "--input", "1", "--output", "1")
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "new-model"
    )
    added_at = time.monotonic()
    while (response := httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)).status_code != 200:
        assert time.monotonic() - added_at < 1.0, response.text
        time.sleep(0.02)


def test_price_set_takes_audio_prices(sqlite_deployment: Deployment) -> None:
    [price] = sqlite_deployment.cli(
        "price", "set", "gpt-realtime", "--input", "4", "--output", "16", "--audio-input", "32", "--audio-output", "64"
    )
    assert (price["audio_input"], price["audio_output"]) == ("32", "64")
    assert sqlite_deployment.cli("price", "list")[0]["audio_output"] == "64"
