"""`relaygate channel ...`: many keys, enable/disable/delete, fetch-models, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import httpx

from relaygate.fakeupstream.anthropic import ANTHROPIC_MODEL_IDS
from relaygate.fakeupstream.gemini import GEMINI_MODEL_IDS
from tests.support.deployment import Deployment


def test_channel_keys_from_flags_and_a_file_are_stored_and_never_printed(
    sqlite_deployment: Deployment, fake_upstream: str, tmp_path: Path
) -> None:
    gw = sqlite_deployment
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("sk-from-file-secret-3333\n\n  sk-from-file-secret-4444  \nsk-flag-secret-1111\n")
    [channel] = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--models", "gpt-4o-mini",
        "--key", "sk-flag-secret-1111", "--key", "sk-flag-secret-2222", "--keys-file", str(keys_file),
    )  # fmt: skip
    assert [key["hint"] for key in channel["keys"]] == ["sk-...1111", "sk-...2222", "sk-...3333", "sk-...4444"]
    listed = gw.cli("channel", "list")
    assert "secret" not in str(listed)
    assert gw.cli("channel", "disable", str(channel["id"]))[0]["status"] == "disabled"
    enabled = gw.cli("channel", "enable", str(channel["id"]))[0]
    assert (enabled["status"], enabled["disabled_reason"]) == ("enabled", None)
    assert gw.cli("channel", "delete", str(channel["id"])) == [{"id": channel["id"], "deleted": True}]
    assert gw.cli("channel", "list") == []
    assert "--key" in gw.cli_fails("channel", "add", "--type", "openai", "--base-url", fake_upstream, "--models", "m")
    assert "no channel" in gw.cli_fails("channel", "disable", "999")


def test_fetch_models_prints_the_upstream_list_and_what_is_new(
    sqlite_deployment: Deployment, fake_upstream: str
) -> None:
    gw = sqlite_deployment
    [channel] = gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o-mini"
    )  # fmt: skip
    [found] = gw.cli("channel", "fetch-models", str(channel["id"]))
    listed = httpx.get(f"{fake_upstream}/v1/models", headers={"Authorization": "Bearer fake"}).json()["data"]
    assert found["models"] == sorted(model["id"] for model in listed)
    assert found["new"] == [model for model in found["models"] if model != "gpt-4o-mini"]
    for kind, expected in (("anthropic", ANTHROPIC_MODEL_IDS), ("gemini", GEMINI_MODEL_IDS)):
        [other] = gw.cli(
            "channel", "add", "--type", kind, "--base-url", fake_upstream, "--key", "fake", "--models", expected[0]
        )  # fmt: skip
        [listed_there] = gw.cli("channel", "fetch-models", str(other["id"]))  # each asked in its own protocol
        assert (listed_there["models"], listed_there["new"]) == (sorted(expected), sorted(expected[1:]))
    [task] = gw.cli(
        "channel", "add", "--type", "suno", "--base-url", fake_upstream, "--key", "fake", "--models", "suno_music"
    )  # fmt: skip
    assert gw.cli("channel", "fetch-models", str(task["id"]))[0]["new"] == ["suno_lyrics"]
