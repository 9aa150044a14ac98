"""The benchmark's report: the scenario table, the machine it ran on, and bench/RESULTS.md."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wrk import WrkResult

RESULTS_HEADER = """# relaygate benchmarks

Run with `make bench` (or `.venv/bin/python bench/run.py`). It starts the fake upstream and a
gateway with a fresh data dir on free ports of 127.0.0.1, drives each with wrk (`bench/chat.lua`,
`bench/chat_stream.lua`; wrk is installed with apt-get when missing), checks the targets below,
and adds a section at the top of the list. It takes about two minutes and exits 1 when a target
fails. Figures from a shared 2-core machine vary by several percent between runs.

`make bench-peers` (or `.venv/bin/python bench/peers.py`) runs relaygate, the LiteLLM proxy and the
Portkey gateway on the same fake upstream in one run and checks relaygate's throughput against
theirs (>= 50 x and >= 5 x). It installs the peers at pinned versions on first use (pip and npm, into
`~/.cache/relaygate-bench/peers/` or RELAYGATE_BENCH_PEERS_DIR); `make test` and `make bench` never do.

Three more benchmarks add their sections here: `make bench-scaling` (`bench/scaling.py`: what one worker-core
serves, `serve --workers 1` pinned to a core of its own against one worker per core left, on
PostgreSQL + Redis), `make bench-data` (`bench/data_growth.py`: the management reads and the relay
at 0 to 10M usage records) and `make bench-tokens` (`bench/token_growth.py`: the relay on one key and
spread over 10,000 keys, at 10 to 100,000 tokens). `make bench-instructions` (`bench/instructions.py`) prints
the gateway's CPU instructions per chat request under valgrind, which a busy machine does not move.
"""
RUNS_MARKER = "<!-- runs, newest first -->"


@dataclass(frozen=True)
class Run:
    """One wrk run of one scenario."""

    scenario: str
    via: str
    connections: int
    result: WrkResult
    cpu_us: float | None = (
        None  # CPU of the serving processes per request (the gateway's, or the upstream's when direct)
    )


@dataclass(frozen=True)
class Check:
    """One target and whether this run met it."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def scenario_table(runs: list[Run]) -> str:
    """The runs as a Markdown table."""
    rows = [
        "| scenario | via | connections | requests | requests/s | p50 ms | p99 ms | CPU us/request | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        r = run.result
        rows.append(
            f"| {run.scenario} | {run.via} | {run.connections} | {r.requests} | {r.requests_per_sec:,.0f} "
            f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {'-' if run.cpu_us is None else f'{run.cpu_us:,.0f}'} | {r.errors} |"
        )
    return "\n".join(rows)


def machine_description() -> str:
    """CPU count, CPU model and memory, as `nproc` and /proc report them."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc), {model}, {mem_kb / 1024 / 1024:.1f} GiB memory"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def results_section(command: str, load_before: str, table: str, ratios: list[str], checks: list[Check]) -> str:
    """One run's section of RESULTS.md."""
    now = datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")  # the format of `date -u`
    return "\n".join(
        [
            f"## {now}",
            "",
            f"- Machine: {machine_description()}",
            f"- Load average before the run: {load_before}",
            f"- Command: `{command}`",
            "",
            table,
            "",
            *[f"- {ratio}" for ratio in ratios],
            "",
            "```",
            *[check.line() for check in checks],
            "```",
            "",
        ]
    )


def prepend_section(path: Path, section: str) -> None:
    """Rewrite the header of `path` and put `section` above the sections of earlier runs."""
    earlier = ""
    if path.exists():
        _, found, rest = path.read_text().partition(RUNS_MARKER)
        earlier = rest.lstrip("\n") if found else ""
    path.write_text(f"{RESULTS_HEADER}\n{RUNS_MARKER}\n\n{section}\n{earlier}".rstrip("\n") + "\n")
