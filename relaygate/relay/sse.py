"""Server-sent events: cut a byte stream into whole events, however the network split it."""

from __future__ import annotations

import orjson


class EventFramer:
    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete events (each with its blank-line terminator) now available."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # normalised over the buffer, not the chunk: a CRLF the network split between two
            # chunks would otherwise leave a CR inside the event ("[DONE]\r" is not "[DONE]")
            buffer = buffer.replace(b"\r\n", b"\n")
        events = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            events.append(buffer[start : end + 2])
            start = end + 2
        self._buffer = buffer[start:]
        return events

    def rest(self) -> bytes:
        """Whatever is left when the stream ends without a final blank line."""
        rest, self._buffer = self._buffer, b""
        return rest


def event_data(event: bytes) -> bytes:
    """The joined `data:` lines of one event."""
    lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines)


def event_json(event: bytes) -> dict[str, object] | None:
    data = event_data(event)
    if not data or data == b"[DONE]":
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
