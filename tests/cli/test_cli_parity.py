"""The CLI does what the API does: channel update, user delete, price delete; help on every command;
limits and USD in the tables; an expiry in the past refused; a warning for models no channel serves."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from relaygate.cli.main import cli
from relaygate.users.service import ensure_root
from tests.support.deployment import Deployment

FAKE = "http://127.0.0.1:9"


def human(gw: Deployment, *args: str) -> click.testing.Result:
    """`relaygate ARGS` as a person types it (no --json): stdout and stderr apart."""
    result = CliRunner().invoke(cli, list(args), env=gw.env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def add_channel(gw: Deployment, models: str = "gpt-4o-mini") -> int:
    [channel] = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", FAKE, "--key", "sk-upstream-1", "--models", models
    )
    return int(channel["id"])


def test_channel_update_changes_only_what_is_given(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    channel_id = add_channel(gw)
    [before] = gw.cli("channel", "list")
    [after] = gw.cli(
        "channel", "update", str(channel_id), "--models", "gpt-4o, gpt-4o-mini", "--priority", "5",
        "--name", "main", "--map", "gpt-4o=gpt-4o-2024-08-06", "--key", "sk-upstream-2",
    )  # fmt: skip
    assert after["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert (after["priority"], after["name"], after["model_map"]) == (5, "main", {"gpt-4o": "gpt-4o-2024-08-06"})
    assert (after["base_url"], after["weight"], after["groups"]) == (
        before["base_url"],
        before["weight"],
        before["groups"],
    )
    assert [key["hint"] for key in after["keys"]] != [key["hint"] for key in before["keys"]]
    [cleared] = gw.cli("channel", "update", str(channel_id), "--clear-map")
    assert cleared["model_map"] == {}
    assert cleared["priority"] == 5
    assert "nothing to change" in gw.cli_fails("channel", "update", str(channel_id))
    assert "no channel with id 99" in gw.cli_fails("channel", "update", "99", "--priority", "1")
    assert "http(s) URL" in gw.cli_fails("channel", "update", str(channel_id), "--base-url", "ftp://x")


def test_channel_chat_completions_only_is_set_and_cleared(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    assert gw.cli("channel", "list") == []
    [added] = gw.cli("channel", "add", "--type", "openai", "--base-url", FAKE, "--key", "sk-upstream-1",
                     "--models", "m", "--chat-completions-only")  # fmt: skip
    assert added["chat_completions_only"] is True
    add_channel(gw)
    assert gw.cli("channel", "list")[1]["chat_completions_only"] is False
    [cleared] = gw.cli("channel", "update", str(added["id"]), "--no-chat-completions-only")
    assert cleared["chat_completions_only"] is False
    [set_again] = gw.cli("channel", "update", str(added["id"]), "--chat-completions-only")
    assert (set_again["chat_completions_only"], set_again["models"]) == (True, ["m"])
    refused = gw.cli_fails("channel", "add", "--type", "anthropic", "--base-url", FAKE, "--key", "k",
                           "--models", "c", "--chat-completions-only")  # fmt: skip
    assert "chat_completions_only is for azure and openai channels" in refused
    assert "CHAT_COMPLETIONS_ONLY" in human(gw, "channel", "list").output


def test_channel_enable_disable_delete(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    channel_id = add_channel(gw)
    assert gw.cli("channel", "disable", str(channel_id))[0]["status"] == "disabled"
    assert gw.cli("channel", "enable", str(channel_id))[0]["status"] == "enabled"
    assert gw.cli("channel", "delete", str(channel_id)) == [{"id": channel_id, "deleted": True}]
    assert gw.cli("channel", "list") == []


def test_user_delete_stops_their_tokens_and_keeps_root(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "list")  # migrates
    gw.db(lambda conn: ensure_root(conn, "root-password-for-tests"))  # as `relaygate serve` does on first start
    gw.cli("user", "create", "alice", "--password", "password-123")
    gw.cli("token", "create", "--user", "alice")
    [deleted] = gw.cli("user", "delete", "alice")
    assert (deleted["name"], deleted["status"]) == ("alice", "deleted")
    assert "alice" not in {user["name"] for user in gw.cli("user", "list")}
    assert gw.cli("token", "list") == []
    assert [user["name"] for user in gw.cli("user", "list")] == ["root"]
    assert "no user named 'alice'" in gw.cli_fails("user", "delete", "alice")
    assert "root cannot be deleted" in gw.cli_fails("user", "delete", "root")


def test_price_delete(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("price", "set", "gpt-4o-mini", "--input", "0.15", "--output", "0.6")
    assert gw.cli("price", "delete", "gpt-4o-mini") == [{"model": "gpt-4o-mini", "deleted": True}]
    assert gw.cli("price", "list") == []
    assert "no price for model 'gpt-4o-mini'" in gw.cli_fails("price", "delete", "gpt-4o-mini")


def _commands(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


@pytest.mark.parametrize(
    ("path", "command"), _commands(cli, ("relaygate",)), ids=lambda p: " ".join(p) if isinstance(p, tuple) else ""
)
def test_every_command_and_option_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help, f"{' '.join(path)} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


def test_token_list_shows_limits_and_amounts_in_usd_beside_quota_units(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "2.5")
    gw.cli(
        "token",
        "create",
        "--user",
        "alice",
        "--quota-usd",
        "1",
        "--rpm",
        "60",
        "--tpm",
        "9000",
        "--max-concurrent",
        "3",
        "--reset",
        "daily",
    )
    header, row = human(gw, "token", "list").stdout.splitlines()
    assert header.split() == [
        "ID", "NAME", "HINT", "STATUS", "EXPIRES_AT", "QUOTA_LIMIT", "USED_QUOTA", "MODELS", "ALLOW_IPS", "GROUP",
        "RPM", "TPM", "MAX_CONCURRENT", "RESET",
    ]  # fmt: skip
    assert "500000 ($1.00)" in row
    assert "0 ($0.00)" in row
    assert row.split()[-4:] == ["60", "9000", "3", "daily"]
    users = human(gw, "user", "list").stdout
    assert "1250000 ($2.50)" in users
    assert gw.cli("token", "list")[0]["quota_limit"] == 500_000  # JSON keeps the API's integers


def test_an_expiry_in_the_past_is_refused(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "alice", "--password", "password-123")
    output = gw.cli_fails("token", "create", "--user", "alice", "--expires", "2020-01-01T00:00:00Z")
    assert "--expires" in output
    assert "is in the past" in output
    assert "omit it for no expiry" in output
    assert gw.cli("token", "list") == []


def test_creating_a_token_warns_about_models_no_channel_serves(sqlite_deployment: Deployment) -> None:
    gw = sqlite_deployment
    gw.cli("user", "create", "alice", "--password", "password-123")
    channel_id = add_channel(gw, "gpt-4o-mini,gpt-4o")
    served = human(gw, "token", "create", "--user", "alice", "--models", "gpt-4o-mini,gpt-4o")
    assert served.stderr == ""
    unserved = human(gw, "token", "create", "--user", "alice", "--models", "gpt-4o,gpt-5-typo")
    assert "Warning: no channel serves gpt-5-typo" in unserved.stderr
    assert "gpt-5-typo" not in unserved.stdout
    assert "sk-" in unserved.stdout
    gw.cli("channel", "disable", str(channel_id))
    disabled = human(gw, "token", "create", "--user", "alice", "--models", "gpt-4o")
    assert "no channel serves gpt-4o" in disabled.stderr
