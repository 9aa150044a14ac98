"""`make bench-peers`: relaygate beside the LiteLLM proxy and the Portkey gateway, on one fake upstream in one run.

The fake upstream directly, relaygate (SQLite, full auth and billing, as `make bench` runs it), the
Portkey gateway (Node, headless, no keys or billing) and the LiteLLM proxy (a master key, no database,
no spend logs) each answer `bench/chat.lua` at 32 connections in turn, the LiteLLM proxy last so that
its backlog cannot slow the others. Each answers one chat completion before it is timed. The peers
are installed on first use with pip and npm (bench/peer_install.py); after that nothing here reaches
beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import peer_install
import processes
from report import Check, Run, load_average, prepend_section, results_section
from run import (
    BENCH_DIR,
    CHAT,
    RESULTS,
    Target,
    configure_gateway,
    gateway_env,
    measure,
    start_fake_upstream,
    start_gateway,
)
from wrk import ensure_wrk

SCENARIOS = (("chat", CHAT, 32),)
LITELLM, PORTKEY = "LiteLLM proxy", "Portkey gateway"
# Issue 16's targets: relaygate's chat throughput at least this many times each peer's.
MIN_RATIOS = {LITELLM: 50.0, PORTKEY: 5.0}
PEER_READY_TIMEOUT_S = 120.0  # the LiteLLM proxy takes ~20 s to import and start on an idle 2-core machine
# LiteLLM fetches these from GitHub at start or on first use unless told to read its bundled copies.
LITELLM_OFFLINE = {
    name: "True"
    for name in (
        "LITELLM_LOCAL_MODEL_COST_MAP",
        "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
        "LITELLM_LOCAL_BLOG_POSTS",
        "LITELLM_LOCAL_POLICY_TEMPLATES",
        "LITELLM_LOCAL_AUTOROUTER_PRESETS",
    )
}
# Settings of the caller's that would give a peer a database, a cache or another host list.
LITELLM_UNSET = ("DATABASE_URL", "DIRECT_URL", "REDIS_HOST", "REDIS_URL")
PORTKEY_UNSET = ("REDIS_CONNECTION_STRING", "TRUSTED_CUSTOM_HOSTS", "PORT", "HTTP_PROXY", "HTTPS_PROXY")


def chat_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/chat/completions"


def peer_env(unset: tuple[str, ...], unset_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """The caller's environment less the names in `unset` and those that begin with one of `unset_prefixes`."""
    return {
        name: value for name, value in os.environ.items() if name not in unset and not name.startswith(unset_prefixes)
    }


def litellm_config(upstream_port: int, master_key: str) -> dict[str, object]:
    """gpt-4o-mini on the fake upstream as an OpenAI-compatible base; no database, so no spend logs."""
    return {
        "model_list": [
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                    "api_key": "fake",
                },
            }
        ],
        "general_settings": {"master_key": master_key, "disable_spend_logs": True},
    }


def start_litellm(children: contextlib.ExitStack, workdir: Path, litellm: Path, upstream_port: int) -> Target:
    master_key = f"sk-{secrets.token_hex(24)}"  # it refuses to start without one
    config = workdir / "litellm-config.yaml"
    config.write_text(json.dumps(litellm_config(upstream_port, master_key), indent=2))  # JSON is YAML
    port, log = processes.free_port(), workdir / "litellm.log"
    command = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    process = processes.start(command, log, peer_env(LITELLM_UNSET, ("LITELLM_",)) | LITELLM_OFFLINE)
    children.callback(processes.stop, process)
    processes.wait_for_http(process, f"http://127.0.0.1:{port}/health/liveliness", log, PEER_READY_TIMEOUT_S)
    return Target(LITELLM, chat_url(port), master_key, process.pid, SCENARIOS)


def start_portkey(children: contextlib.ExitStack, workdir: Path, server: Path, upstream_port: int) -> Target:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the Portkey gateway is a Node program")
    port, log = processes.free_port(), workdir / "portkey.log"
    # --headless: no console UI and no log stream for it (the gateway's own flags, build/start-server.js).
    process = processes.start([node, str(server), "--headless", f"--port={port}"], log, peer_env(PORTKEY_UNSET))
    children.callback(processes.stop, process)
    processes.wait_for_http(process, f"http://127.0.0.1:{port}/", log, PEER_READY_TIMEOUT_S)
    # The provider and its base URL travel with every request (127.0.0.1 is a trusted custom host by default).
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1"}
    return Target(PORTKEY, chat_url(port), "fake", process.pid, SCENARIOS, headers)


def verify_chat(target: Target, body: bytes) -> None:
    """One request of chat.lua's through `target`: it must answer 200 with a chat completion."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {target.key}", **target.headers}
    response = httpx.post(target.url, content=body, headers=headers, timeout=60)
    try:
        answer = response.json()
    except json.JSONDecodeError:
        answer = None
    completed = isinstance(answer, dict) and answer.get("object") == "chat.completion" and answer.get("choices")
    if response.status_code != 200 or not completed:
        raise RuntimeError(
            f"{target.via} answered {response.status_code}, not a chat completion: {response.text[:500]}"
        )
    print(f"{target.via}: 200 with a chat completion", flush=True)


def chat_body() -> bytes:
    """The body wrk sends, as chat.lua spells it."""
    match = re.search(r"^wrk\.body = '(.*)'$", CHAT.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no wrk.body line in {CHAT}")
    return match.group(1).encode()


def relaygate_version() -> str:
    completed = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return f"commit {completed.stdout.strip()}" if completed.returncode == 0 else "-"


def benchmark(wrk: str, seconds: int, litellm: Path, portkey: Path) -> tuple[list[Run], list[Run]]:
    with tempfile.TemporaryDirectory(prefix="relaygate-bench-peers-") as tmp, contextlib.ExitStack() as children:
        workdir = Path(tmp)
        upstream_port = processes.free_port()
        upstream = start_fake_upstream(children, workdir, upstream_port)
        env = gateway_env(workdir / "data")
        key = configure_gateway(env, upstream_port)
        gateway_port = processes.free_port()
        gateway = start_gateway(children, workdir, env, gateway_port)
        print(f"starting the {PORTKEY} and the {LITELLM}", flush=True)
        targets = [
            Target("direct", chat_url(upstream_port), "bench", upstream.pid, SCENARIOS),
            Target("relaygate", chat_url(gateway_port), key, gateway.pid, SCENARIOS),
            start_portkey(children, workdir, portkey, upstream_port),
            start_litellm(children, workdir, litellm, upstream_port),
        ]
        body = chat_body()
        for target in targets:
            verify_chat(target, body)
        return measure(wrk, targets, seconds)


def peer_table(runs: list[Run], versions: dict[str, str]) -> str:
    rows = [
        "| via | version | connections | requests | requests/s | p50 ms | p99 ms | non-2xx | socket errors (timeouts) "
        "| CPU us/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        r = run.result
        cpu = "-" if run.cpu_us is None else f"{run.cpu_us:,.0f}"
        rows.append(
            f"| {run.via} | {versions[run.via]} | {run.connections} | {r.requests} | {r.requests_per_sec:,.1f} "
            f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.non_2xx} | {r.socket_errors} ({r.timeouts}) | {cpu} |"
        )
    return "\n".join(rows)


def evaluate(warmups: list[Run], runs: list[Run], versions: dict[str, str]) -> tuple[list[str], list[Check]]:
    """The ratio of relaygate's throughput to each peer's, and the checks against issue 16's targets."""
    by_via = {run.via: run.result for run in runs}
    relaygate = by_via["relaygate"].requests_per_sec
    summary, checks = [], []
    for peer, minimum in MIN_RATIOS.items():
        rate = by_via[peer].requests_per_sec
        ratio = relaygate / rate if rate else float("inf")
        summary.append(
            f"relaygate / {peer} {versions[peer]}, chat at 32 connections: {ratio:.1f} x "
            f"({relaygate:,.0f} against {rate:,.1f} req/s)"
        )
        passed = rate > 0 and ratio >= minimum
        checks.append(Check(f"relaygate >= {minimum:.0f} x {peer} (chat, 32 conn)", passed, f"{ratio:.1f} x"))
    errors = {via: sum(r.result.errors for r in warmups + runs if r.via == via) for via in by_via}
    detail = ", ".join(f"{via} {count}" for via, count in errors.items()) + " (warm-ups included)"
    checks.append(
        Check(
            "no errors or non-2xx responses (a failed request makes a rate meaningless)",
            not any(errors.values()),
            detail,
        )
    )
    return summary, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="Duration of each wrk run (default 10).")
    args = parser.parse_args()
    root = peer_install.peers_dir()
    litellm, portkey = peer_install.ensure_litellm(root), peer_install.ensure_portkey(root)
    versions = {
        "direct": "relaygate fake-upstream",
        "relaygate": relaygate_version(),
        LITELLM: peer_install.LITELLM_VERSION,
        PORTKEY: peer_install.PORTKEY_VERSION,
    }
    load_before = load_average()
    warmups, runs = benchmark(ensure_wrk(), args.seconds, litellm, portkey)
    table = peer_table(runs, versions)
    summary, checks = evaluate(warmups, runs, versions)
    print("\n".join(["", table, "", *summary, "", *[check.line() for check in checks]]))
    command = f".venv/bin/python bench/peers.py --seconds {args.seconds}  (make bench-peers)"
    prepend_section(RESULTS, results_section(command, load_before, table, summary, checks))
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
