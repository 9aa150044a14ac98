"""`make bench-scaling`: what one worker-core serves, `serve --workers 1` against more workers, on PostgreSQL + Redis.

Each layout gets a fresh PostgreSQL database and Redis prefix (bench/scale_out.py), the fake upstream
and a gateway, short chat completions (bench/chat.lua) with wrk, and the books checked as `make bench`
checks them. The gateway and the load (wrk and the fake upstream) are pinned to cores of their own with
`taskset -c` where the machine has enough of them, so that the figure of `--workers 1` is what one
worker on one core serves. PostgreSQL and Redis are the machine's own services and are left unpinned.
bench/RESULTS.md says how to read the figures and keeps those of earlier runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import processes
import scale_out
from report import Check, Run, load_average, prepend_section, results_section, scenario_table
from run import (
    CHAT,
    RESULTS,
    WARMUP_SECONDS,
    billing_checks,
    configure_gateway,
    gateway_env,
    read_billing,
    start_fake_upstream,
    start_gateway,
    wait_until_admitted,
)
from wrk import WrkResult, ensure_wrk, run_wrk

SERVERS = ("postgres", "redis-server")  # the commands of the PostgreSQL and Redis servers' processes
SATURATED = 0.9  # a pinned side busier than this was (near) its cores' limit


@dataclass(frozen=True)
class Layout:
    """How many workers, and which cores the gateway and the load (wrk, fake upstream) run on (None: any)."""

    workers: int
    gateway_cpus: str | None
    load_cpus: str | None
    worker_cores: int  # the cores the workers have to themselves, or share when unpinned
    note: str

    @property
    def label(self) -> str:
        return f"--workers {self.workers}"


@dataclass(frozen=True)
class Measured:
    """One layout's run, and what it cost each side per request."""

    layout: Layout
    warmup: Run
    run: Run
    gateway_busy: float  # the gateway's CPU time over the time of the cores it had
    load_busy: float  # wrk's and the fake upstream's, likewise
    servers_cpu_us: float  # PostgreSQL's and Redis's per request (machine-wide: anything else they served too)
    checks: list[Check]

    @property
    def per_worker_core(self) -> float:
        return self.run.result.requests_per_sec / self.layout.worker_cores

    @property
    def per_busy_core(self) -> float:
        """Requests a core busy only with the gateway would serve: 1 s over the CPU time of one request."""
        return 1e6 / self.run.cpu_us if self.run.cpu_us else 0.0


def cpu_list(cores: list[int]) -> str:
    """The cores in `taskset -c` syntax."""
    return ",".join(str(core) for core in cores)


def on(cores: list[int]) -> str:
    return f"on core {cores[0]}" if len(cores) == 1 else f"on cores {cpu_list(cores)}"


def layouts(cores: list[int], load_cores: int, workers: int | None) -> list[Layout]:
    """`--workers 1` on the last core, then N workers on the cores the load leaves them (or unpinned)."""
    if len(cores) == 1:
        note = "1 core: nothing pinned; wrk, the fake upstream, PostgreSQL and Redis share the gateway's core"
        return [Layout(1, None, None, 1, note), Layout(workers or 2, None, None, 1, note)]
    load = cores[:load_cores] if len(cores) > load_cores else cores[:1]
    single = Layout(
        1,
        cpu_list(cores[-1:]),
        cpu_list(load),
        1,
        f"gateway {on(cores[-1:])}, wrk + fake upstream {on(load)}",
    )
    free = [core for core in cores if core not in load]
    if len(free) >= 2:
        count = workers or len(free)
        return [
            single,
            Layout(
                count,
                cpu_list(free),
                cpu_list(load),
                min(count, len(free)),
                f"workers {on(free)}, wrk + fake upstream {on(load)}",
            ),
        ]
    count = workers or len(cores)
    note = (
        f"unpinned: on {len(cores)} cores none is left for wrk and the fake upstream, which share the workers' "
        "cores, so the figure per worker-core is a floor"
    )
    return [single, Layout(count, None, None, min(count, len(cores)), note)]


def measure(wrk: str, layout: Layout, seconds: int, connections: int) -> Measured:
    """A fresh deployment of `layout`: a warm-up, one timed run, then the gateway stopped and its books read."""
    print(f"{layout.label} ({layout.note})", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="relaygate-bench-scaling-") as tmp,
        scale_out.postgres_and_redis() as shared,
        contextlib.ExitStack() as children,
    ):
        workdir = Path(tmp)
        env = gateway_env(workdir / "data") | shared
        upstream_port, port = processes.free_port(), processes.free_port()
        upstream = start_fake_upstream(children, workdir, upstream_port, cpus=layout.load_cpus)
        key = configure_gateway(env, upstream_port)
        gateway = start_gateway(
            children, workdir, env, port, "--workers", str(layout.workers), cpus=layout.gateway_cpus
        )
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        via = f"PG + Redis, {layout.label}"

        def drive(duration: int) -> WrkResult:
            return run_wrk(wrk, url, CHAT, connections=connections, seconds=duration, key=key, cpus=layout.load_cpus)

        admitted = wait_until_admitted(url, key)
        warmup = Run("warm-up", via, connections, drive(WARMUP_SECONDS))
        print(f"wrk: chat {via}, {connections} conn, {seconds} s", flush=True)
        gateway_before, upstream_before = processes.cpu_seconds(gateway.pid), processes.cpu_seconds(upstream.pid)
        servers_before, wrk_before = processes.servers_cpu_seconds(SERVERS), _children_cpu_seconds()
        began = time.monotonic()
        result = drive(seconds)
        took = time.monotonic() - began
        gateway_cpu = processes.cpu_seconds(gateway.pid) - gateway_before
        load_cpu = processes.cpu_seconds(upstream.pid) - upstream_before + _children_cpu_seconds() - wrk_before
        servers_cpu = processes.servers_cpu_seconds(SERVERS) - servers_before
        requests = max(result.requests, 1)
        run = Run("chat", via, connections, result, gateway_cpu * 1e6 / requests)
        # SIGTERM makes the gateway flush pending usage records; uvicorn then exits with -15.
        print(f"gateway stopped with exit code {processes.stop(gateway)}", flush=True)
        billing = read_billing(env)
    errors = warmup.result.errors + result.errors
    checks = [
        Check(f"no errors or non-2xx responses ({layout.label})", errors == 0, f"{errors} errors"),
        *billing_checks(f"PG + Redis, {layout.label}", [warmup, run], billing, admitted),
    ]
    return Measured(
        layout,
        warmup,
        run,
        gateway_busy=gateway_cpu / (took * _cores(layout.gateway_cpus)),
        load_busy=load_cpu / (took * _cores(layout.load_cpus)),
        servers_cpu_us=servers_cpu * 1e6 / requests,
        checks=checks,
    )


def _cores(cpus: str | None) -> int:
    """How many cores a `taskset -c` list names (every core of this process when None)."""
    if cpus is None:
        return len(os.sched_getaffinity(0))
    return sum(len(range(*_bounds(part))) for part in cpus.split(","))


def _bounds(part: str) -> tuple[int, int]:
    first, _, last = part.partition("-")
    return int(first), int(last or first) + 1


def _children_cpu_seconds() -> float:
    """CPU time of this process's ended children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summary(measured: list[Measured]) -> list[str]:
    lines = []
    for m in measured:
        pinned = m.layout.gateway_cpus is not None
        lines.append(
            f"{m.layout.label}: {m.layout.note}; {m.run.result.requests_per_sec:,.0f} req/s = "
            f"{m.per_worker_core:,.0f} req/s per worker-core ({m.layout.worker_cores} "
            f"{'core' if m.layout.worker_cores == 1 else 'cores'}); gateway CPU {m.run.cpu_us:,.0f} us/request "
            f"= {m.per_busy_core:,.0f} req/s per fully busy core; gateway cores {m.gateway_busy:.0%} busy"
            + (f", load cores {m.load_busy:.0%} busy" if pinned else "")
            + f"; PostgreSQL + Redis CPU {m.servers_cpu_us:,.0f} us/request (machine-wide)"
        )
        if pinned and m.load_busy > SATURATED:
            lines.append(
                f"{m.layout.label}: the load's cores were {m.load_busy:.0%} busy: wrk and the fake upstream may have "
                "limited this figure, not the gateway"
            )
        if pinned and m.gateway_busy < SATURATED:
            lines.append(
                f"{m.layout.label}: the gateway's cores were only {m.gateway_busy:.0%} busy (waiting on PostgreSQL, "
                "Redis or the load, or sharing its cores with them); the figure per fully busy core is its CPU limit"
            )
    one, many = measured[0], measured[-1]
    lines.append(
        f"One worker-core serves {one.run.result.requests_per_sec:,.0f} short chat requests/s with full auth and "
        f"billing on PostgreSQL + Redis ({one.layout.note})"
    )
    lines.append(
        f"{many.layout.label} / --workers 1: {many.run.result.requests_per_sec / one.run.result.requests_per_sec:.2f} x"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="Duration of each timed wrk run (default 10).")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections (default 32).")
    parser.add_argument(
        "--load-cores",
        type=int,
        default=1,
        help="Cores kept for wrk and the fake upstream where the machine has 3 or more (default 1).",
    )
    parser.add_argument("--workers", type=int, help="Workers of the second layout (default: one per core left).")
    parser.add_argument("--no-record", action="store_true", help="Do not add the figures to bench/RESULTS.md.")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    load_before, wrk = load_average(), ensure_wrk()
    measured = [
        measure(wrk, layout, args.seconds, args.connections) for layout in layouts(cores, args.load_cores, args.workers)
    ]
    runs = [m.run for m in measured]
    checks = [check for m in measured for check in m.checks]
    table, lines = scenario_table(runs), summary(measured)
    print("\n".join(["", table, "", *lines, "", *[check.line() for check in checks]]))
    if not args.no_record:
        flags = f" --connections {args.connections}" if args.connections != 32 else ""
        flags += f" --load-cores {args.load_cores}" if args.load_cores != 1 else ""
        flags += f" --workers {args.workers}" if args.workers else ""
        command = f".venv/bin/python bench/scaling.py --seconds {args.seconds}{flags}  (make bench-scaling)"
        heading, _, rest = results_section(command, load_before, table, lines, checks).partition("\n")
        prepend_section(RESULTS, f"{heading}: worker scaling (what one worker-core serves)\n{rest}")
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
