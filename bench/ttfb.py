"""Time to the first streamed event: one keep-alive connection, one streamed chat request after another.

wrk measures whole responses; a streaming client waits first of all for its first event, which is
what the gateway adds to every stream (authentication, hold, channel pick, the upstream's headers).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
        "max_tokens": 16,
        "stream": True,
    }
).encode()


@dataclass(frozen=True)
class Ttfb:
    sent: int  # every request made (each one billed)
    requests: int  # those measured: all but the first few
    p50_ms: float
    p99_ms: float


async def _measure(url: str, key: str, requests: int) -> list[float]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    times = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            writer.write(head + BODY)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"a stream was answered {status!r}")
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is not None:  # a whole body (not chunked): its first bytes are the first event
                await reader.readexactly(1)
                times.append((time.perf_counter() - started) * 1000)
                await reader.readexactly(length - 1)
                continue
            times.append(await _read_chunks(reader, started))
    finally:
        writer.close()
    return times


async def _read_chunks(reader: asyncio.StreamReader, started: float) -> float:
    """Read a chunked body to its end; the milliseconds from `started` to its first chunk."""
    first = None
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if first is None:
            first = (time.perf_counter() - started) * 1000
        await reader.readexactly(size + 2)
        if size == 0:
            return first


def measure_ttfb(url: str, key: str, requests: int = 500) -> Ttfb:
    times = asyncio.run(_measure(url, key, requests))[10:]  # the first few warm the connection up
    cuts = statistics.quantiles(times, n=100)
    return Ttfb(requests, len(times), statistics.median(times), cuts[98])
