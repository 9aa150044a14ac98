"""The operator's verbs start without the server: `relaygate user list` loaded the app, FastAPI, uvicorn
and the relay's HTTP client, 1.2 s of every command's 3 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER_MODULES = ("relaygate.app", "relaygate.relay.probe", "relaygate.relay.model_discovery", "uvicorn", "fastapi")

PROGRAM = """
import sys
from click.testing import CliRunner
from relaygate.cli.main import cli
result = CliRunner().invoke(cli, ["user", "list", "--json"], catch_exceptions=False)
assert result.exit_code == 0, result.output
print(",".join(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_a_verb_loads_neither_the_server_nor_the_relay(tmp_path: Path) -> None:
    env = {"RELAYGATE_DATA_DIR": str(tmp_path / "data"), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, *SERVER_MODULES], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
