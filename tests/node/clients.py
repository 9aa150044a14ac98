"""Running the suite's Node scripts: node and the locked packages (`make install` runs `npm ci` here).

With CI=true a missing node or missing packages fail the tests, as a missing browser does; elsewhere they skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
_PACKAGES = ("openai", "ai", "@ai-sdk/openai", "@ai-sdk/anthropic", "@ai-sdk/google", "zod")


def require_node() -> str:
    node = shutil.which("node")
    missing = [name for name in _PACKAGES if not (HERE / "node_modules" / name / "package.json").is_file()]
    if node and not missing:
        return node
    message = (
        "node (20 or later) is not installed"
        if not node
        else f"npm packages missing in tests/node: {', '.join(missing)}"
    )
    message += " (make install runs `npm ci` in tests/node)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " and CI=true")
    pytest.skip(message)


def run_script(script: str, *, base_url: str, key: str, model: str, case: str, **env: str) -> dict[str, Any]:
    """Run tests/node/SCRIPT for one case against the gateway; returns the JSON line it prints."""
    node = require_node()
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "NO_PROXY": "127.0.0.1,localhost",
        "RELAYGATE_BASE_URL": base_url,
        "RELAYGATE_KEY": key,
        "MODEL": model,
        "CASE": case,
        **env,
    }
    done = subprocess.run(
        [node, str(HERE / script)], cwd=HERE, env=child_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{script} {case} exited {done.returncode}: {done.stderr[-2000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} {case} printed nothing; stderr: {done.stderr[-2000:]}"
    return dict(json.loads(lines[-1]))
