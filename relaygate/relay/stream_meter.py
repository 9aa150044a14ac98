"""Metering a stream's output as it flows, against the limit its upstream was given.

An upstream that ignores the limit must not run past the hold, so every stream is watched; most
are watched for free. An event carries its output text inside its framing (JSON keys, ids, `data:`),
and an answer that keeps to its limit rarely needs more than `FRAMING_BYTES_PER_TOKEN` bytes of
events per token of it, so nothing is parsed until the events seen pass that many bytes per token
of the limit; from then on they are looked at every `LOOK_BYTES` or so. Looking is reading each new
event's output text (the tap knows its protocol); no tokenizer makes more tokens of a text than it
has bytes, so the text is counted with the local tokenizer only once it has more bytes than the
limit allows tokens. The stream is over its limit when that count passes the limit by `TOLERANCE`:
the local tokenizer is not the upstream's, and an upstream that keeps to its limit must never be
cut short. One that does not is cut within about `LOOK_BYTES` of events past that point.

The same text is the local count of the output when the upstream reports no usage.
"""

from __future__ import annotations

from collections.abc import Callable

from relaygate.billing.tokencount import count_text

TextOf = Callable[[bytes], str]


FRAMING_BYTES_PER_TOKEN = 256
LOOK_BYTES = 4096


def tolerance(limit: int) -> int:
    return limit // 4 + 16


class StreamMeter:
    def __init__(self, limit: int | None, text_of: TextOf):
        self._limit = limit
        self._text_of = text_of
        self._unread: list[bytes] = []  # events whose text is not taken out yet (fewer bytes than the limit)
        self._bytes = 0
        self._texts: list[str] = []
        self._text_bytes = 0
        self._counted = 0  # tokens of self._texts[: self._counted_texts], counted a stretch at a time
        self._counted_texts = 0
        self._next_count = 0  # text bytes at which the next stretch is counted
        self._next_look = 0 if limit is None else limit * FRAMING_BYTES_PER_TOKEN  # event bytes
        self.over = False

    def feed(self, event: bytes) -> bool:
        """Note one upstream event; True once the output is past the limit (and from then on)."""
        self._unread.append(event)
        self._bytes += len(event)
        limit = self._limit
        if limit is None or self.over or self._bytes <= self._next_look:
            return self.over
        self._next_look = self._bytes + LOOK_BYTES
        self._read_texts()
        most = limit + tolerance(limit)
        if self._text_bytes > most and self._text_bytes >= self._next_count:
            self._count_new()
            self._next_count = self._text_bytes + max(64, limit // 8)
            self.over = self._counted > most
        return self.over

    def output_text(self) -> str:
        """Every output text of the stream so far."""
        self._read_texts()
        return "".join(self._texts)

    def output_tokens(self) -> int:
        """The local count of the output so far."""
        text = self.output_text()
        return count_text(text) if text else 0

    def _read_texts(self) -> None:
        for event in self._unread:
            text = self._text_of(event)
            if text:
                self._texts.append(text)
                self._text_bytes += len(text) if text.isascii() else len(text.encode())
        self._unread.clear()

    def _count_new(self) -> None:
        # A stretch is counted whole: counting each delta alone would count a token split across
        # deltas twice; a stretch boundary splits at most one.
        self._counted += count_text("".join(self._texts[self._counted_texts :]))
        self._counted_texts = len(self._texts)
