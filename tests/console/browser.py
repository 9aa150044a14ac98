"""Headless Chromium from the Debian package, driven by Playwright (never `playwright install`).

With CI=true a missing browser fails the tests, as an unreachable PostgreSQL does; elsewhere it skips them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

CHROMIUM = Path(os.environ.get("RELAYGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

T = TypeVar("T")


def require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium is not installed at {CHROMIUM} (make install runs: apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " and CI=true")
    pytest.skip(message)


def off_the_browser_loop(work: Callable[[], T]) -> T:
    """Run `work` in another thread: Playwright's sync API keeps an event loop running in this one,
    so helpers that call asyncio.run (the CLI, direct database access) cannot run here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result(timeout=60)
