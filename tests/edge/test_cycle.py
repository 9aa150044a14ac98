"""EdgeCycle writes the same answer heads as uvicorn's own cycle, and refuses the same headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from relaygate.edge.cycle import EdgeCycle

DATE = [(b"date", b"Fri, 04 Dec 2026 01:00:00 GMT")]


class _Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _answer(cycle_class: type[RequestResponseCycle], method: str, keep_alive: bool, messages: list[Any]) -> Any:
    async def run() -> Any:
        transport = _Transport()
        cycle = cycle_class(
            scope={"method": method},  # type: ignore[typeddict-item]
            transport=transport,  # type: ignore[arg-type]
            flow=FlowControl(transport),  # type: ignore[arg-type]
            logger=None,  # type: ignore[arg-type]
            access_logger=None,  # type: ignore[arg-type]
            access_log=False,
            default_headers=DATE,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=keep_alive,
            on_response=lambda: None,
        )
        try:
            for message in messages:
                await cycle.send(message)
        except RuntimeError as error:
            return ("refused", str(error))
        return (bytes(transport.written), transport.closed, cycle.keep_alive, cycle.response_complete)

    return asyncio.run(run())


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(body: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


CASES = [
    ("POST", True, [_start(200, [(b"Content-Type", b"application/json"), (b"content-length", b"2")]), _body(b"{}")]),
    ("POST", True, [_start(200, [(b"content-type", b"text/event-stream")]), _body(b"data: 1\n\n", True), _body(b"")]),
    ("POST", True, [_start(200, [(b"transfer-encoding", b"Chunked")]), _body(b"abc")]),
    ("POST", True, [_start(413, [(b"connection", b"keep-alive, Close"), (b"content-length", b"0")]), _body(b"")]),
    ("POST", False, [_start(200, [(b"content-length", b"1")]), _body(b"x")]),
    ("HEAD", True, [_start(200, [(b"content-type", b"text/plain")]), _body(b"")]),
    ("GET", True, [_start(204, []), _body(b"")]),
    ("POST", True, [_start(200, [(b"x-bad", b"line\r\nbreak")])]),
    ("POST", True, [_start(200, [(b"x-bad\x7f", b"v")])]),
    ("POST", True, [_start(200, [(b"bad name", b"v")])]),
    ("POST", True, [_start(200, [(b"x-tab", b"a\tb"), (b"x-utf8", "é".encode()), (b"content-length", b"0")])]),
    ("POST", True, [_body(b"no start")]),
    ("POST", True, [_start(200, [(b"content-length", b"1")]), _body(b"too long")]),
]


@pytest.mark.parametrize(("method", "keep_alive", "messages"), CASES)
def test_edge_cycle_answers_as_uvicorn_does(method: str, keep_alive: bool, messages: list[Any]) -> None:
    theirs = _answer(RequestResponseCycle, method, keep_alive, messages)
    ours = _answer(EdgeCycle, method, keep_alive, messages)
    assert ours == theirs
