"""Settings are checked when they are read: a bad value names its setting and shows a good one."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from relaygate.cli.main import cli
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


def test_the_cli_reports_a_bad_time_zone(tmp_path: Path) -> None:
    env = {"RELAYGATE_DATA_DIR": str(tmp_path), "RELAYGATE_TIMEZONE": "Europe/Atlantis"}
    result = CliRunner().invoke(cli, ["token", "list"], env=env)
    assert result.exit_code == 1
    assert "RELAYGATE_TIMEZONE must be an IANA time zone name such as Asia/Shanghai" in result.output
