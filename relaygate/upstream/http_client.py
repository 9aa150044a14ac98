"""A small HTTP/1.1 client for upstream calls: pooled keep-alive connections, streamed bodies.

The relay spends most of its CPU in its outgoing HTTP client, and a general-purpose client does
far more per request than a gateway needs (cookies, redirects, auth helpers, payload registries).
This one does one thing: send a request with a byte body on a reused connection and hand back the
status, headers and body chunks as they arrive (httptools parses, chunked encoding included),
with back-pressure so a slow client never makes the gateway buffer a whole answer.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

MAX_BUFFER = 1 << 20  # pause reading from the upstream beyond this many unread bytes
IDLE_SECONDS = 30.0  # a pooled connection unused for longer is closed rather than reused
MAX_IDLE_PER_HOST = 512


class HttpClientError(Exception):
    """The upstream connection failed, closed early, or sent something that is not HTTP."""


class UpstreamResponse:
    """Status and headers at once; the body read whole (`read`) or chunk by chunk (`iter_chunks`)."""

    def __init__(self, connection: _Connection):
        self._connection = connection
        self.status = 0
        self.headers: dict[str, str] = {}  # lower-case names
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._complete = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def read(self) -> bytes:
        """The whole body (`iter_chunks` without an async generator, which costs more than a small answer)."""
        chunks: list[bytes] = []
        while True:
            if self._chunks:
                chunks += self._chunks
                self._chunks.clear()
                self._buffered = 0
                self._connection.resume_if_drained(0)
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return b"".join(chunks)
            else:
                await self._connection.wait(self)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                self._connection.resume_if_drained(self._buffered)
                yield chunk
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return
            else:
                await self._connection.wait(self)

    def release(self) -> None:
        """Done with the response: the connection goes back to the pool only if it was read to the end."""
        self._connection.finish(reusable=self._complete and not self._chunks and self._error is None)

    def close(self) -> None:
        """Abandon the response (a client left mid-stream): the connection is closed, the upstream stops."""
        if not self._complete and self._error is None:
            self._error = HttpClientError("the answer was abandoned by the gateway")
            self._wake()
        self._connection.finish(reusable=False)

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, pool: ConnectionPool, key: tuple[str, str, int], read_timeout: float):
        self._pool = pool
        self.key = key
        self._read_timeout = read_timeout
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: UpstreamResponse | None = None
        self._headers_ready: asyncio.Future[None] | None = None
        self._paused = False
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # bytes nobody asked for on an idle connection: it is not usable
            self._close_transport()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpClientError(f"the upstream sent a malformed answer ({exc})"))
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self._response
        if response is None or response._complete or response._error is not None:
            return
        if response.status and _ends_at_close(response.headers):
            response._complete = True
            response._wake()
        else:
            self._fail(HttpClientError("the upstream closed the connection before the end of its answer"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        self._response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        assert self._response is not None
        self._response.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        if self._headers_ready is not None and not self._headers_ready.done():
            self._headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        response = self._response
        assert response is not None
        response._chunks.append(body)
        response._buffered += len(body)
        if response._buffered > MAX_BUFFER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        response._wake()

    def on_message_complete(self) -> None:
        assert self._response is not None
        self._response._complete = True
        self._response._wake()

    # the client's side
    async def request(self, head: bytes, body: bytes) -> UpstreamResponse:
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        self._response = UpstreamResponse(self)
        self._headers_ready = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self._transport.write(body)
        try:
            await self._await(self._headers_ready)
        except BaseException:
            self._response = None
            self._close_transport()
            raise
        return self._response

    async def wait(self, response: UpstreamResponse) -> None:
        response._waiter = asyncio.get_running_loop().create_future()
        await self._await(response._waiter)

    async def _await(self, future: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self._read_timeout, _time_out, future, self._read_timeout)
        try:
            await future
        finally:
            timer.cancel()

    def resume_if_drained(self, buffered: int) -> None:
        if self._paused and buffered <= MAX_BUFFER // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def finish(self, *, reusable: bool) -> None:
        if self._response is None:
            return
        self._response = None
        if reusable and self.keep_alive and not self.closed:
            self._pool.give_back(self)
        else:
            self._close_transport()

    def close(self) -> None:
        self._close_transport()

    def _fail(self, error: Exception) -> None:
        response = self._response
        if response is not None:
            response._error = error
            response._wake()
        if self._headers_ready is not None and not self._headers_ready.done():
            self._headers_ready.set_exception(error)

    def _close_transport(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


def _ends_at_close(headers: dict[str, str]) -> bool:
    """An answer with neither a length nor chunked encoding runs until the connection closes."""
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower()


def _time_out(future: asyncio.Future[None], seconds: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"the upstream sent nothing for {seconds:g} s"))


class ConnectionPool:
    """Keep-alive connections per (scheme, host, port), and requests sent over them."""

    def __init__(self, connect_timeout: float, read_timeout: float):
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> UpstreamResponse:
        """POST `body`; returns once the status and headers have arrived. Raises HttpClientError or TimeoutError."""
        key, path = self._target(url)
        head = _request_head(path, key, headers, len(body))
        connection = self._reusable(key)
        if connection is not None:
            try:
                return await connection.request(head, body)
            except HttpClientError:
                connection.close()  # the upstream closed an idle connection: try once on a new one
        connection = await self._connect(key)
        return await connection.request(head, body)

    def give_back(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.key, [])
        if len(idle) >= MAX_IDLE_PER_HOST:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        connection.reused = True
        idle.append(connection)

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _reusable(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        cutoff = time.monotonic() - IDLE_SECONDS
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > cutoff:
                return connection
            connection.close()
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self, key, self._read_timeout),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                ),
                self._connect_timeout,
            )
        except OSError as exc:
            raise HttpClientError(f"cannot connect to the upstream: {exc.strerror or type(exc).__name__}") from exc
        return connection

    def _target(self, url: str) -> tuple[tuple[str, str, int], str]:
        cached = self._targets.get(url)
        if cached is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise HttpClientError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            cached = ((parts.scheme, parts.hostname, port), path.encode("latin-1"))
            if len(self._targets) < 10_000:
                self._targets[url] = cached
        key, path_bytes = cached
        return key, path_bytes.decode("latin-1")

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


def _request_head(path: str, key: tuple[str, str, int], headers: dict[str, str], length: int) -> bytes:
    scheme, host, port = key
    default_port = 443 if scheme == "https" else 80
    authority = host if port == default_port else f"{host}:{port}"
    lines = [f"POST {path} HTTP/1.1", f"Host: {authority}", f"Content-Length: {length}", "Accept-Encoding: identity"]
    # A value with a line break would smuggle a header of its own: such values are dropped.
    lines += [f"{name}: {value}" for name, value in headers.items() if "\n" not in value and "\r" not in value]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
