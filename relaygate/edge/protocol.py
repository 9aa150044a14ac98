"""uvicorn's httptools protocol with the limits it lacks: header size, header read time, connection
budget, and a lingering close so that an early answer (413) reaches a client still sending its body.

uvicorn bounds neither the size of a request's headers nor the time they take to arrive (its
keep-alive timer restarts on every byte), so one client can hold a connection forever with one
header byte every few seconds, or make the parser buffer a 64 MiB header.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from relaygate.edge.cycle import EdgeCycle
from relaygate.edge.guard import EdgeGuard

SMALL_REST_BYTES = 64 * 1024  # an unread body rest up to this is read and dropped, keeping the connection


# The parser callbacks below run for every request: they call uvicorn's through `_Base.name(self, ...)`
# rather than `super()`, which builds a proxy object per call.
_Base = HttpToolsProtocol


class EdgeProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        guard: EdgeGuard,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if self.limit_concurrency is not None:
            raise ValueError(
                "the edge bounds connections itself (RELAYGATE_MAX_CONNECTIONS): leave limit_concurrency unset"
            )
        self.guard = guard
        self.limits = guard.limits
        self._in_headers = True  # the bytes arriving now belong to a request line or its headers
        self._header_bytes = 0
        self._body_pending = False  # headers done, body not yet read to its end
        self._body_left: int | None = None  # bytes of the body still to come (None: chunked, unknown)
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_begun = False  # a request has begun and its headers are not complete yet
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_transport = transport
        self._lingering_transport: Any = _LingeringTransport(transport, self)
        super().connection_made(transport)
        self.guard.waiting[self] = None
        self._start_header_timer()
        self.guard.make_room(len(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.waiting.pop(self, None)
        self._cancel_header_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is out; the rest of the body is read only so that the close is clean
        if not self._in_headers:
            _Base.data_received(self, data)
            return
        room = self.limits.max_header_bytes - self._header_bytes
        self._header_bytes += min(len(data), room)
        if len(data) <= room:
            _Base.data_received(self, data)
            if self._headers_begun and self._header_timer is None:
                # Timed only when its headers did not all come at once, as almost every request's do.
                self._start_header_timer()
            return
        super().data_received(data[:room])
        if self._in_headers and not self.transport.is_closing():
            self._refuse_large_headers()
            return
        protocol = self.transport.get_protocol()
        if protocol is not self:  # a WebSocket upgrade took over the connection
            protocol.data_received(data[room:])  # type: ignore[attr-defined]
        elif not self.transport.is_closing():
            self.data_received(data[room:])

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the plain transport: a session's close never lingers.
        self._body_pending = False
        self._cancel_header_timer()
        self.guard.waiting.pop(self, None)
        self.transport = self._raw_transport
        super().handle_websocket_upgrade()

    # Parser callbacks

    def on_message_begin(self) -> None:
        _Base.on_message_begin(self)
        self._in_headers = True
        self._headers_begun = True

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._headers_begun = False
        self._body_pending = True
        declared = b""
        for name, value in self.headers:
            if name == b"content-length":
                declared = value
                break
        self._body_left = int(declared) if declared.isdigit() else None
        self._cancel_header_timer()
        self.guard.waiting.pop(self, None)
        # Until its body is read, the request and its answer see the connection through the lingering
        # wrapper (an early answer, a 413, must not reset the connection); on_message_complete takes it
        # back off, so a request that arrives whole (almost every one) never calls through it.
        self.transport = self._lingering_transport
        self._begin_cycle()

    def _begin_cycle(self) -> None:
        """uvicorn's `on_headers_complete`, making an EdgeCycle: the scope's method and path, then the
        request's cycle and task (queued behind an unfinished one, for a pipelined request)."""
        parser, scope = self.parser, self.scope
        http_version = parser.get_http_version()
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return
        url = httptools.parse_url(self.url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = url.query or b""
        existing = self.cycle
        self.cycle = EdgeCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=self.expect_100_continue,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            on_response=self.on_response_complete,
        )
        if existing is None or existing.response_complete:
            self._start_asgi_task(self.cycle, self.app)
        else:
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, self.app))

    def on_body(self, body: bytes) -> None:
        if self._body_left is not None:
            self._body_left -= len(body)
        _Base.on_body(self, body)

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._in_headers = True
        self._header_bytes = 0
        # The body is read: nothing can be answered early any more, so the answer is written to the
        # connection's own transport, past the lingering wrapper.
        self.transport = self._raw_transport
        if self.cycle is not None:
            self.cycle.transport = self._raw_transport
        _Base.on_message_complete(self)

    def on_response_complete(self) -> None:
        if self.answered_early_with_much_unread() and not self.transport.is_closing():
            # Answered before the body was read (413, or an error before the body mattered): close
            # rather than read a large body to reach the next request. A small rest is read and
            # dropped, and the connection kept, as uvicorn does.
            self.transport.close()
            return
        _Base.on_response_complete(self)
        if not self.transport.is_closing():
            self.guard.waiting[self] = None

    # The limits

    def shed(self) -> None:
        """Close this waiting connection to make room for another (the process is at its budget)."""
        self.guard.count_closed("shed at the connection budget")
        self._cancel_header_timer()
        self.transport.close()

    def linger(self, transport: asyncio.Transport) -> None:
        """Close after the client stops sending: a close with unread data sends a reset, and a reset
        makes the client's kernel discard the answer before the client has read it."""
        self._lingering = True
        self._cancel_header_timer()
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        self._linger_timer = self.loop.call_later(self.limits.linger_timeout, transport.close)

    def request_body_pending(self) -> bool:
        return self._body_pending

    def answered_early_with_much_unread(self) -> bool:
        """Whether the body still to come is too large to read just to keep the connection."""
        return self._body_pending and (self._body_left is None or self._body_left > SMALL_REST_BYTES)

    def close_after_this_answer(self) -> None:
        if self.cycle is not None:
            self.cycle.keep_alive = False

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self.guard.waiting.pop(self, None)
        if self._header_bytes:
            self.guard.count_closed("slow headers")
            message = f"The request headers did not arrive within {self.limits.header_timeout:g} seconds."
            self._answer_and_close(408, "request_timeout", message)
        else:
            self.transport.close()  # an idle connection that never began a request: nothing to answer

    def _refuse_large_headers(self) -> None:
        self.guard.count_closed("headers over the limit")
        self.guard.waiting.pop(self, None)
        self._cancel_header_timer()
        message = (
            f"The request line and headers are larger than {self.limits.max_header_bytes} bytes "
            "(RELAYGATE_MAX_HEADER_BYTES): send fewer or smaller headers."
        )
        self._body_pending = True  # whatever the client still sends is drained, not parsed
        self._answer_and_close(431, "request_header_fields_too_large", message)

    def _answer_and_close(self, status: int, code: str, message: str) -> None:
        body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}})
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        self.transport.write(head % (status, reason, len(body)) + body)
        self.transport.close()


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: `close()` lingers while a body is unread."""

    def __init__(self, transport: asyncio.Transport, protocol: EdgeProtocol):
        self._transport = transport
        self._protocol = protocol
        self._lingering = False

    def close(self) -> None:
        if self._lingering:
            return  # the drain closes it
        if not self._transport.is_closing() and self._protocol.request_body_pending():
            self._lingering = True
            self._protocol.linger(self._transport)
            return
        self._transport.close()

    def is_closing(self) -> bool:
        return self._lingering or self._transport.is_closing()

    def write(self, data: bytes) -> None:
        # An answer that starts while much of the body is unread ends the connection: say so in its
        # head, so that a keep-alive client does not send its next request into the closing one.
        protocol = self._protocol
        if (
            protocol.answered_early_with_much_unread()
            and data.startswith(b"HTTP/1.1 ")
            and not data.startswith(b"HTTP/1.1 100 ")
        ):
            status_line, _, rest = data.partition(b"\r\n")
            if b"\r\nconnection: close\r\n" not in b"\r\n" + rest.lower():
                data = status_line + b"\r\nconnection: close\r\n" + rest
            protocol.close_after_this_answer()
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
