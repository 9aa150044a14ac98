"""`make run` installs only what serving needs; the dev tools and the browser come with `make test`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str) -> str:
    """The commands `make TARGET` would run from scratch (-n: run nothing; -B: as if nothing were installed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Under `make test` the outer make's MAKEFLAGS/MAKELEVEL reach this one: without them it plans alone.
    env = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    command = ["make", "--no-print-directory", "-n", "-B", target]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def test_make_run_installs_the_package_without_dev_tools_or_browser() -> None:
    plan = planned("run")
    assert "pip install --quiet -e .\n" in plan
    assert "[dev]" not in plan
    assert "chromium" not in plan
    assert plan.rstrip().endswith("relaygate serve")


@pytest.mark.parametrize("target", ["test", "lint", "typecheck", "pytest"])
def test_the_checks_install_the_dev_extras_and_the_browser(target: str) -> None:
    plan = planned(target)
    assert "pip install --quiet -e '.[dev]'" in plan
    assert "chromium" in plan


@pytest.mark.parametrize("target", ["test", "bench"])
def test_only_make_bench_peers_installs_the_peer_gateways(target: str) -> None:
    assert "bench/peers.py" not in planned(target)
    assert planned("bench-peers").rstrip().endswith("bench/peers.py")
