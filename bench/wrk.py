"""Running wrk and reading its report: request count, rate, latency percentiles and errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from processes import pinned

_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported."""

    requests: int
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect, read, write and timeout errors
    non_2xx: int
    timeouts: int = 0  # those of the socket errors that were timeouts (no answer within --timeout)

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian's packages when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        # A fresh machine has no package lists yet; fetch them once and try again.
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still not on PATH after apt-get install wrk")
    return found


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: int,
    key: str,
    headers: dict[str, str] | None = None,
    cpus: str | None = None,
    script_env: Mapping[str, str] | None = None,
) -> WrkResult:
    """Drive `url` for `seconds` with `connections` keep-alive connections, on the cores `cpus` (None:
    any). The Lua script gets `key` as BENCH_KEY, its thread count as BENCH_THREADS, any extra request
    `headers` as BENCH_HEADERS, and `script_env`."""
    threads = min(2, connections)
    env = {name: value for name, value in os.environ.items() if name != "BENCH_HEADERS"}
    env |= {"BENCH_KEY": key, "BENCH_THREADS": str(threads), **(script_env or {})}
    if headers:
        env["BENCH_HEADERS"] = "\n".join(f"{name}: {value}" for name, value in headers.items())
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(
        pinned(command, cpus),
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    return parse_report(completed.stdout)


def parse_report(text: str) -> WrkResult:
    """The figures of a `wrk --latency` report."""
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(_find(r"(\d+) requests in", text)),
        requests_per_sec=float(_find(r"Requests/sec:\s+([\d.]+)", text)),
        p50_ms=_to_ms(_find(r"^\s*50%\s+(\S+)", text)),
        p99_ms=_to_ms(_find(r"^\s*99%\s+(\S+)", text)),
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        timeouts=int(socket_errors.group(4)) if socket_errors else 0,
    )


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk report has no match for {pattern!r}:\n{text}")
    return match.group(1)


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)([a-z]+)", value)
    if match is None or match.group(2) not in _MS_PER_UNIT:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _MS_PER_UNIT[match.group(2)]
