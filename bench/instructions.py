"""`make bench-instructions`: the gateway's CPU instructions per request, counted by valgrind.

Throughput on a shared VM moves by 25% between runs; the instructions a request costs do not. The
gateway runs under `valgrind --tool=callgrind` (50-100x slower, so wrk drives it at a few dozen
requests a second), and callgrind's counters are dumped three times in the one process: after
startup, after an idle spell, after the load. What the gateway does on its own each second (the
change poll, the usage flush timer, the client watch's sweeps) is the idle spell's rate: it is taken
out of the load's count, since at a real request rate it is spread over a hundred times more
requests. What remains, over the requests wrk counted, is the figure: comparable between commits
and machines of the same CPU architecture, whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import processes
from run import CHAT, RELAYGATE, STREAM, configure_gateway, gateway_env, start_fake_upstream
from wrk import ensure_wrk, run_wrk

READY_TIMEOUT_S = 600.0  # startup under valgrind takes a minute or more on a loaded machine


def count_instructions(script: Path, connections: int, idle_s: int, load_s: int) -> tuple[int, int, int]:
    """(instructions of the load, of the same time idle, requests wrk counted)."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="relaygate-instructions-") as tmp, contextlib.ExitStack() as children:
        workdir = Path(tmp)
        upstream_port, port = processes.free_port(), processes.free_port()
        start_fake_upstream(children, workdir, upstream_port)
        env = gateway_env(workdir / "data")
        key = configure_gateway(env, upstream_port)
        out = workdir / "callgrind.out"
        log = workdir / "gateway.log"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, RELAYGATE]
        gateway = processes.start([*command, "serve", "--port", str(port)], log, env)
        children.callback(processes.stop, gateway)
        url = f"http://127.0.0.1:{port}"
        processes.wait_for_http(gateway, f"{url}/readyz", log, READY_TIMEOUT_S)
        _first_request(url, key)
        _dump(gateway.pid)  # startup and the first request: not counted
        time.sleep(idle_s)
        _dump(gateway.pid)
        result = run_wrk(wrk, f"{url}/v1/chat/completions", script, connections=connections, seconds=load_s, key=key)
        _dump(gateway.pid)
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=processes.STOP_TIMEOUT_S * 10)
        dumps = {_dump_number(path): path for path in workdir.glob("callgrind.out.*")}
        idle, load = _total(dumps[2]), _total(dumps[3])  # 1: startup, 2: the idle spell, 3: the load
        if result.errors:
            raise RuntimeError(f"{result.errors} errors or non-2xx answers under load: the count means nothing")
        return load, idle, result.requests


def _first_request(url: str, key: str) -> None:
    """One chat request served before counting: what a process does once (imports, caches) is not counted."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ready?"}], "max_tokens": 4}
    headers = {"Authorization": f"Bearer {key}"}
    httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120).raise_for_status()


def _dump(pid: int) -> None:
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True, timeout=120)


def _dump_number(path: Path) -> int:
    suffix = path.name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def _total(path: Path) -> int:
    found = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {path.name}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("chat", "stream"), default="chat")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20, help="of load, and as long idle before it")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 1
    script = CHAT if args.scenario == "chat" else STREAM
    load, idle, requests = count_instructions(script, args.connections, args.seconds, args.seconds)
    per_request = (load - idle) / max(requests, 1)
    print(f"{args.scenario}, {args.connections} connections: {requests} requests under callgrind in {args.seconds} s")
    print(f"instructions: load {load:,}, idle {idle:,} (the gateway's own work in as long without requests)")
    print(f"{args.scenario}: {per_request:,.0f} instructions per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
