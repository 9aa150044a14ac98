"""Hostile-client figures for docs/security.md: a huge header, and slowloris at `ulimit -n 1024`.

    .venv/bin/python bench/edge_attacks.py            # starts `relaygate serve` itself
    .venv/bin/python bench/edge_attacks.py --slow 1100 --header-mib 64

Prints how long a 64 MiB header took to be answered (and with what), the gateway's RSS before and
after, and how many real requests succeeded while N slowloris connections dribbled their headers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import free_port, wait_for_http


def _gateway_limits() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _huge_header(port: int, mib: int) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    chunk = b"a" * (1024 * 1024)
    try:
        for _ in range(mib):
            writer.write(chunk)
            await writer.drain()
        writer.write(b"\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass
    try:
        status = await asyncio.wait_for(reader.readline(), 60)
    except (ConnectionError, TimeoutError):
        status = b"(connection closed)"
    writer.close()
    return time.monotonic() - started, status.strip()


async def _slowloris(port: int, count: int, seconds: float) -> tuple[int, int, int]:
    writers = []
    for _ in range(count):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            break
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        writers.append(writer)
    ok = failed = 0
    deadline = time.monotonic() + seconds
    tick = 0
    while time.monotonic() < deadline:
        tick += 1
        for writer in writers:
            if not writer.is_closing():
                writer.write(b"X-a: b\r\n")
        try:
            reader, real = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            real.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            line = await asyncio.wait_for(reader.readline(), 2)
            real.close()
            ok += line.startswith(b"HTTP/1.1 200")
            failed += not line.startswith(b"HTTP/1.1 200")
        except (OSError, TimeoutError):
            failed += 1
        await asyncio.sleep(1)
    alive = sum(not writer.is_closing() for writer in writers)
    for writer in writers:
        writer.close()
    return ok, failed, alive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=1100)
    parser.add_argument("--slow-seconds", type=float, default=20)
    parser.add_argument("--header-mib", type=int, default=64)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        log = Path(data) / "gateway.log"
        env = {**os.environ, "RELAYGATE_DATA_DIR": data, "RELAYGATE_ROOT_PASSWORD": "bench-root-password"}
        with log.open("wb") as out:
            gateway = subprocess.Popen(
                [sys.executable, "-m", "relaygate", "serve", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_gateway_limits,
            )
        try:
            wait_for_http(gateway, f"http://127.0.0.1:{port}/healthz", log)
            before = _rss_mib(gateway.pid)
            took, status = asyncio.run(_huge_header(port, args.header_mib))
            print(
                f"{args.header_mib} MiB header: answered {status!r} after {took:.1f} s; RSS {before:.0f} -> {_rss_mib(gateway.pid):.0f} MiB"
            )
            ok, failed, alive = asyncio.run(_slowloris(port, args.slow, args.slow_seconds))
            print(
                f"{args.slow} slowloris connections over {args.slow_seconds:.0f} s: real requests {ok} ok, {failed} failed; {alive} slow connections still open at the end"
            )
        finally:
            gateway.terminate()
            gateway.wait(60)
        print("gateway log lines:", len(log.read_text().splitlines()))


if __name__ == "__main__":
    main()
