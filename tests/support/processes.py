"""`relaygate serve` as real processes, for tests of one or several instances as operators run them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, *args: str) -> subprocess.Popen[str]:
    """Start `relaygate serve --port PORT ARGS` and wait until it answers /readyz."""
    process = subprocess.Popen(
        [sys.executable, "-m", "relaygate", "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not start: {process.communicate()}")


def stop_server(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()  # reaps the process and closes its pipes
        raise AssertionError(f"server did not stop within 60 s of SIGTERM; its log ends:\n{err[-6000:]}") from None
    # uvicorn re-raises the signal after its graceful shutdown, as a service manager expects.
    assert process.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    return out, err


@contextmanager
def instances(env: dict[str, str], count: int, *args: str) -> Iterator[list[str]]:
    """`count` gateway processes on one configuration; yields their base URLs, stops them cleanly."""
    ports = [free_port() for _ in range(count)]
    processes = [start_server(env, port, *args) for port in ports]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            stop_server(process)
