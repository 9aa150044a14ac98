"""`relaygate serve` as real processes, for tests of one or several instances as operators run them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
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


def start_server(env: dict[str, str], port: int, *args: str, command: Sequence[str] = ()) -> subprocess.Popen[str]:
    """Start `relaygate serve --port PORT ARGS` and wait until it answers /readyz.

    `command`: what runs instead of `python -m relaygate` (a test's launcher that takes the same arguments)."""
    process = launch_server(env, port, *args, command=command)
    wait_until_ready(process, port)
    return process


def launch_server(env: dict[str, str], port: int, *args: str, command: Sequence[str] = ()) -> subprocess.Popen[str]:
    """Start `relaygate serve --port PORT ARGS` without waiting for it (see wait_until_ready)."""
    # append mode: the server writes at the end whatever the test reads meanwhile (they share the offset);
    # the files outlive this call, _release closes them
    out = tempfile.TemporaryFile("a+", encoding="utf-8")  # noqa: SIM115
    err = tempfile.TemporaryFile("a+", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [*(command or (sys.executable, "-m", "relaygate")), "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=err,
        text=True,
    )
    _output[process.pid] = (out, err)
    return process


def wait_until_ready(process: subprocess.Popen[str], port: int) -> None:
    """Wait until the server launched on `port` answers /readyz; kill it if it does not within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break  # it died: no use waiting out the deadline
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
    return _stopped(process)


def _stopped(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for a server sent SIGTERM to end its graceful shutdown; its stdout and stderr."""
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
    """`count` gateway processes on one configuration; yields their base URLs, stops them cleanly.

    They start at once and stop at once, as a deployment's instances do (each start pays seconds of imports,
    and the first on a new Redis waits out the quota counters' warm-up): the database is migrated already."""
    ports = [free_port() for _ in range(count)]
    processes: list[subprocess.Popen[str]] = []
    try:
        processes.extend(launch_server(env, port, *args) for port in ports)
        for port, process in zip(ports, processes, strict=True):
            wait_until_ready(process, port)
    except BaseException:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.pid in _output:
                _release(process)
        raise
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    except BaseException as error:
        for port, process in zip(ports, processes, strict=True):  # what each server saw, in the failure
            error.add_note(f"the server on port {port} logged, at the end:\n{output_of(process)[1][-3000:]}")
        raise
    finally:
        for process in processes:  # all told at once (once: a second SIGTERM forces uvicorn's exit)
            process.send_signal(signal.SIGTERM)
        failures = []
        for process in processes:
            try:
                _stopped(process)
            except AssertionError as failure:
                failures.append(failure)
        if failures:
            raise failures[0]
