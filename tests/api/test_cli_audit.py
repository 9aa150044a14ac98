"""The audit log holds the CLI's changes too: the CLI acts as the local operator (`cli:<OS user>`, from `local`)."""

from __future__ import annotations

import getpass

import httpx

from tests.api.conftest import PASSWORD, session_client
from tests.support.deployment import Deployment


def test_cli_changes_are_in_the_audit_log_without_secrets(gateway: Deployment, root: httpx.Client) -> None:
    gw = gateway
    [channel] = gw.cli("channel", "list")
    gw.cli("user", "create", "alice", "--password", PASSWORD, "--balance-usd", "1")
    gw.cli("user", "topup", "alice", "--usd", "0.5")
    [token] = gw.cli("token", "create", "--user", "alice", "--name", "ci")
    gw.cli("token", "disable", str(token["id"]))
    gw.cli("token", "rotate", str(token["id"]))
    gw.cli("channel", "update", str(channel["id"]), "--priority", "2", "--key", "sk-upstream-secret-2")
    gw.cli("channel", "disable", str(channel["id"]))
    gw.cli("price", "delete", "gpt-4o")
    gw.cli("user", "passwd", "alice", "--password", "another-password")
    gw.cli("user", "delete", "alice")

    response = root.get("/api/audit", params={"per_page": 100})
    entries = [entry for entry in response.json()["items"] if entry["actor_name"].startswith("cli")]
    assert [entry["action"] for entry in reversed(entries)] == [
        "channel.create",  # the gateway fixture's channel
        "price.set",
        "price.set",
        "price.set",
        "user.create",
        "user.topup",
        "token.create",
        "token.disable",
        "token.rotate",
        "channel.update",
        "channel.disable",
        "price.delete",
        "user.password",
        "user.delete",
    ]
    assert {(entry["actor_name"], entry["actor_id"], entry["ip"]) for entry in entries} == {
        (f"cli:{getpass.getuser()}", None, "local")
    }
    by_action = {entry["action"]: entry for entry in entries}
    assert by_action["token.rotate"]["target"] == f"token:{token['id']}"
    assert by_action["channel.update"]["detail"] == {"fields": ["keys", "priority"]}
    for secret in (PASSWORD, "another-password", "sk-upstream-secret-2", token["key"]):
        assert secret not in response.text


def test_a_key_created_by_the_cli_is_sealed_for_its_owner(gateway: Deployment, clients: list[httpx.Client]) -> None:
    gateway.cli("user", "create", "alice", "--password", PASSWORD)
    [token] = gateway.cli("token", "create", "--user", "alice")
    assert token["revealable"] is True
    alice = session_client(gateway, "alice", PASSWORD)
    clients.append(alice)
    assert alice.post(f"/api/tokens/{token['id']}/reveal").json()["key"] == token["key"]
    assert alice.post(f"/api/tokens/{token['id']}/reveal").status_code == 410
