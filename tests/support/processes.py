"""`relaygate serve` as real processes, for tests of one or several instances as operators run them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Each server's stdout and stderr, in files: a pipe that nobody reads while the server runs would block
# a server that logs much, and a file can be read for a failure's message while the server still runs.
_output: dict[int, tuple[IO[str], IO[str]]] = {}


def start_server(env: dict[str, str], port: int, *args: str) -> subprocess.Popen[str]:
    """Start `relaygate serve --port PORT ARGS` and wait until it answers /readyz."""
    # append mode: the server writes at the end whatever the test reads meanwhile (they share the offset);
    # the files outlive this call, _release closes them
    out = tempfile.TemporaryFile("a+", encoding="utf-8")  # noqa: SIM115
    err = tempfile.TemporaryFile("a+", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "relaygate", "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=err,
        text=True,
    )
    _output[process.pid] = (out, err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError(f"server did not start: {_release(process)}")


def output_of(process: subprocess.Popen[str]) -> tuple[str, str]:
    """What the server has written so far to stdout and to stderr."""
    out, err = _output[process.pid]
    written = []
    for stream in (out, err):
        stream.seek(0)
        written.append(stream.read())
    return written[0], written[1]


def _release(process: subprocess.Popen[str]) -> tuple[str, str]:
    written = output_of(process)
    for stream in _output.pop(process.pid):
        stream.close()
    return written


def stop_server(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        err = _release(process)[1]
        raise AssertionError(f"server did not stop within 60 s of SIGTERM; its log ends:\n{err[-6000:]}") from None
    out, err = _release(process)
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
    except BaseException as error:
        for port, process in zip(ports, processes, strict=True):  # what each server saw, in the failure
            error.add_note(f"the server on port {port} logged, at the end:\n{output_of(process)[1][-3000:]}")
        raise
    finally:
        for process in processes:
            stop_server(process)
