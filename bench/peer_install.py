"""The peers of `make bench-peers`, installed on first use into a cache directory outside the checkout.

The directory is RELAYGATE_BENCH_PEERS_DIR, by default ~/.cache/relaygate-bench/peers. Each peer gets a
folder named for its pinned version and a stamp once its install has finished: an interrupted install is
done again, and a new pin installs beside the old one. `make test` and `make bench` never come here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# The versions of issue 16's measurement (LiteLLM proxy 63-71 req/s, Portkey gateway 881-930 req/s).
LITELLM_VERSION = "1.106.2"
PORTKEY_VERSION = "1.15.2"
STAMP = ".installed"


def peers_dir() -> Path:
    configured = os.environ.get("RELAYGATE_BENCH_PEERS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "relaygate-bench" / "peers"


def ensure_litellm(root: Path) -> Path:
    """The `litellm` command of a venv holding `litellm[proxy]` at the pinned version, installed with pip if missing."""
    venv = root / f"litellm-{LITELLM_VERSION}"
    if not (venv / STAMP).exists():
        requirement = f"litellm[proxy]=={LITELLM_VERSION}"
        print(f"installing {requirement} into {venv} (once; several minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", requirement], check=True)
        (venv / STAMP).touch()
    return venv / "bin" / "litellm"


def ensure_portkey(root: Path) -> Path:
    """The server script of `@portkey-ai/gateway` at the pinned version, installed with npm if missing."""
    prefix = root / f"portkey-gateway-{PORTKEY_VERSION}"
    if not (prefix / STAMP).exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise RuntimeError("node and npm are needed for the Portkey gateway (apt-get install nodejs npm)")
        package = f"@portkey-ai/gateway@{PORTKEY_VERSION}"
        print(f"installing {package} into {prefix} (once)", flush=True)
        prefix.mkdir(parents=True, exist_ok=True)
        install = [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--save-exact",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]
        subprocess.run([*install, package], check=True)
        (prefix / STAMP).touch()
    return prefix / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
