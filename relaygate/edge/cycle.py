"""uvicorn's request cycle with a cheaper start of the answer, the part of `send` every response pays.

uvicorn checks each response header against two patterns one by one (eight regex searches for a
plain answer, its own date header included) before it writes the head. The same bytes are refused
here with one pass over all the names and one over all the values (a byte table, then one search for
a refused byte): a byte a pattern forbids is in the joined names (or values) exactly when it is in
one of them. Everything else (a paused or closed connection, the access log, the body) is uvicorn's
own `send`; tests/edge/test_cycle.py holds the two to the same bytes.
"""

from __future__ import annotations

from typing import Any

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, RequestResponseCycle

# Tables that turn each byte uvicorn's patterns refuse in a header name (or value) into 1, any other into 0.
_BAD_IN_NAME = bytes(int(HEADER_RE.search(bytes([byte])) is not None) for byte in range(256))
_BAD_IN_VALUE = bytes(int(HEADER_VALUE_RE.search(bytes([byte])) is not None) for byte in range(256))


class EdgeCycle(RequestResponseCycle):
    async def send(self, message: ASGISendEvent) -> None:
        if (
            self.response_started
            or message["type"] != "http.response.start"
            or self.flow.write_paused
            or self.disconnected
            or self.access_log
        ):
            await RequestResponseCycle.send(self, message)
        else:
            self._start(message)

    def _start(self, message: Any) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        status: int = message["status"]
        content = [STATUS_LINE[status]]
        for name, value in self.default_headers:  # uvicorn's own (date): valid as made
            content += (name, b": ", value, b"\r\n")
        names: list[bytes] = []
        values: list[bytes] = []
        close = False
        for name, value in message.get("headers", ()):
            name = name.lower()
            names.append(name)
            values.append(value)
            if name == b"content-length":
                if self.chunked_encoding is None:
                    self.expected_content_length = int(value)
                    self.chunked_encoding = False
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    self.expected_content_length = 0
                    self.chunked_encoding = True
            elif name == b"connection" and b"close" in [token.lower().strip() for token in value.split(b",")]:
                self.keep_alive = False
                close = True
            content += (name, b": ", value, b"\r\n")
        if b"\x01" in b"".join(names).translate(_BAD_IN_NAME):
            raise RuntimeError("Invalid HTTP header name.")
        if b"\x01" in b"".join(values).translate(_BAD_IN_VALUE):
            raise RuntimeError("Invalid HTTP header value.")
        if not self.keep_alive and not close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True  # neither a length nor an encoding: uvicorn's choice
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.transport.write(b"".join(content))
