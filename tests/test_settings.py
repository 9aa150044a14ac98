"""Settings are checked when they are read: a bad value names its setting and shows a good one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from relaygate.settings import load_settings


def test_the_operator_time_zone_is_an_iana_name(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, timezone="Asia/Shanghai")
    assert settings.zone == ZoneInfo("Asia/Shanghai")
    assert load_settings(data_dir=tmp_path).zone == ZoneInfo("UTC")


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "CEST", "+08:00", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_at_load(tmp_path: Path, bad: str) -> None:
    with pytest.raises(
        ValidationError, match=r"RELAYGATE_TIMEZONE must be an IANA time zone name such as Asia/Shanghai"
    ):
        load_settings(data_dir=tmp_path, timezone=bad)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["token", "list"],
            {"RELAYGATE_TIMEZONE": "Europe/Atlantis"},
            "invalid setting timezone (RELAYGATE_TIMEZONE): Value error, RELAYGATE_TIMEZONE must be an IANA time "
            "zone name such as Asia/Shanghai",
        ),
        (
            ["serve", "--workers", "0"],
            {},
            "Error: invalid setting workers (RELAYGATE_WORKERS): Input should be greater than or equal to 1",
        ),
    ],
)
def test_the_cli_names_a_bad_setting_without_a_traceback(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relaygate", *args],
        env={**os.environ, "RELAYGATE_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_relaygate_toml_in_the_working_directory_is_read_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every terminal started in the directory finds the server's settings without exporting them."""
    (tmp_path / "relaygate.toml").write_text('data_dir = "gateway-data"\nport = 9191\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAYGATE_")}

    def relaygate(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "relaygate", *args]
        return subprocess.run(command, cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True, timeout=60)

    created = relaygate("user", "create", "tess", "--password", "tess-password", "--json")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "gateway-data" / "relaygate.db").is_file()
    assert "tess" in relaygate("user", "list").stdout
    monkeypatch.chdir(tmp_path)
    for name in ("RELAYGATE_CONFIG", "RELAYGATE_PORT", "RELAYGATE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().port == 9191  # the server's settings: the same file
    moved = relaygate("user", "list", RELAYGATE_DATA_DIR=str(tmp_path / "elsewhere"))  # the env var wins
    assert "tess" not in moved.stdout
