"""The upstream HTTP client against hand-written servers: the edges a real provider can show."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from relaygate.upstream.http_client import ConnectionPool, HttpClientError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


def serve(handler: Handler, scenario: Callable[[str], Awaitable[None]]) -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(closing, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await scenario(f"http://127.0.0.1:{port}/v1/chat/completions")
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def test_chunked_body_keep_alive_reuse_and_request_bytes() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):
            seen.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"6\r\ndata: \r\n4\r\nabc\n\r\n0\r\n\r\n")
            await writer.drain()
        writer.close()

    async def scenario(url: str) -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=2)
        for _ in range(2):
            response = await pool.post(url, {"Authorization": "Bearer up", "X-Bad": "a\r\nInjected: 1"}, b'{"a":1}')
            assert (response.status, response.headers["content-type"]) == (200, "text/event-stream")
            assert [chunk async for chunk in response.iter_chunks()] == [b"data: ", b"abc\n"]
            response.release()
        pool.close()

    serve(handler, scenario)
    assert connections == 1
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Authorization: Bearer up\r\n" in seen[0]
    assert b"Injected" not in seen[0]
    assert seen[0].endswith(b'\r\n\r\n{"a":1}')


def test_a_stale_pooled_connection_is_replaced_once() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        if connections == 1:
            writer.close()  # the upstream drops the idle connection without saying so

    async def scenario(url: str) -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=2)
        first = await pool.post(url, {}, b"")
        assert await first.read() == b"ok"
        first.release()
        await asyncio.sleep(0.05)
        second = await pool.post(url, {}, b"")
        assert await second.read() == b"ok"
        second.release()
        pool.close()

    serve(handler, scenario)
    assert connections == 2


def test_a_body_cut_short_and_a_silent_upstream_are_errors() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if b"cut" in request:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
            await writer.drain()
            writer.close()
        else:
            await asyncio.sleep(5)

    async def scenario(url: str) -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=0.3)
        response = await pool.post(url, {}, b"cut")
        with pytest.raises(HttpClientError, match="before the end"):
            await response.read()
        response.release()
        with pytest.raises(TimeoutError):
            await pool.post(url, {}, b"silent")
        pool.close()

    serve(handler, scenario)


def test_a_body_ended_by_closing_the_connection_and_garbage() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if b"garbage" in request:
            writer.write(b"SMTP ready\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async def scenario(url: str) -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=2)
        response = await pool.post(url, {}, b"")
        assert await response.read() == b"until the end"
        response.release()
        with pytest.raises(HttpClientError, match="malformed"):
            await pool.post(url, {}, b"garbage")
        pool.close()

    serve(handler, scenario)


def test_connection_refused_is_a_client_error() -> None:
    async def scenario() -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=2)
        with pytest.raises(HttpClientError, match="cannot connect"):
            await pool.post("http://127.0.0.1:9/x", {}, b"")

    asyncio.run(scenario())


def test_a_slow_reader_pauses_the_upstream_instead_of_buffering_everything() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n")
        for _ in range(128):
            writer.write(b"x" * 65536)
            await writer.drain()
        writer.close()

    async def scenario(url: str) -> None:
        pool = ConnectionPool(connect_timeout=2, read_timeout=5)
        response = await pool.post(url, {}, b"")
        await asyncio.sleep(0.5)  # the reader does nothing for a while
        assert response._buffered <= 2 * (1 << 20)
        assert sum([len(chunk) async for chunk in response.iter_chunks()]) == 8388608
        response.release()
        pool.close()

    serve(handler, scenario)
