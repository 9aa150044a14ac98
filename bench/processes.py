"""The benchmark's child processes: free ports, pinning, starting, waiting until they answer, stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 40.0  # above the gateway's 30 s graceful shutdown


def free_port() -> int:
    """A port that was free a moment ago: the kernel's pick for a socket bound to port 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """`command` run on the cores `cpus` (`taskset -c` syntax: "0", "1-3"), or anywhere when None.

    taskset execs the command, so the pid is the command's own, and its children inherit the cores."""
    return ["taskset", "-c", cpus, *command] if cpus else command


def start(command: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `command` with its output in `log_path`, so a full pipe can never stall it."""
    with log_path.open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_for_port(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Return once something accepts TCP connections on 127.0.0.1:`port`."""

    def accepts() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    _wait(process, accepts, f"port {port}", log_path)


def wait_for_http(
    process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float = READY_TIMEOUT_S
) -> None:
    """Return once GET `url` answers 200 (within `timeout_s`)."""

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (a fixed http://127.0.0.1 URL)
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    _wait(process, answers, url, log_path, timeout_s)


def _wait(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    log_path: Path,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log_tail(log_path)}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f} s:\n{log_tail(log_path)}")


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL if it has not exited in time; the exit code. Safe to call twice."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its live descendants (the workers of `--workers N`)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue  # it ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending.extend(int(child) for child in children)
    return total


def servers_cpu_seconds(names: tuple[str, ...]) -> float:
    """CPU time of every process on the machine whose command is one of `names` (say PostgreSQL's and
    Redis's servers), with that of the children they reaped (PostgreSQL's ended backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, tail = stat.read_text().rpartition(")")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # it ended meanwhile, or is not ours to read
        if head.partition("(")[2] in names:
            fields = tail.split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` in MB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS line for pid {pid}")


def log_tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
