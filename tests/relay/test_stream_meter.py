"""The stream meter: an honest stream costs no parsing; one that ignores its limit is cut soon after it."""

from __future__ import annotations

import orjson

from relaygate.relay.openai.adapter import chunk_text
from relaygate.relay.stream_meter import FRAMING_BYTES_PER_TOKEN, LOOK_BYTES, StreamMeter, tolerance


def chunk(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


class Reads:
    """chunk_text, counting the events it is asked to read."""

    def __init__(self) -> None:
        self.events = 0

    def __call__(self, event: bytes) -> str:
        self.events += 1
        return chunk_text(event)


def test_a_stream_that_keeps_to_its_limit_is_never_parsed_and_never_cut() -> None:
    reads = Reads()
    meter = StreamMeter(16, reads)
    over = [meter.feed(chunk("word ")) for _ in range(16)]
    assert not any(over)
    assert reads.events == 0  # 16 events of ~180 bytes stay under 16 x FRAMING_BYTES_PER_TOKEN
    assert meter.output_text() == "word " * 16  # the local count still has every text when it is needed


def test_a_stream_that_ignores_its_limit_is_cut_within_a_look_of_passing_it() -> None:
    limit = 40
    meter = StreamMeter(limit, chunk_text)
    events = 0
    while not meter.feed(chunk("word ")):
        events += 1
        assert events < 10_000, "never cut"
    words = events + 1
    assert words > limit + tolerance(limit)  # never before the tolerance is passed
    looked_at = limit * FRAMING_BYTES_PER_TOKEN + LOOK_BYTES
    assert words * len(chunk("word ")) <= looked_at + 2 * LOOK_BYTES  # and within a few looks after


def test_dense_text_is_cut_at_once() -> None:
    meter = StreamMeter(100, chunk_text)
    assert meter.feed(chunk("word " * 20_000))  # one event far past the limit: looked at and cut


def test_honest_text_just_under_the_tolerance_is_not_cut() -> None:
    limit = 50
    meter = StreamMeter(limit, chunk_text)
    past_a_look = (limit * FRAMING_BYTES_PER_TOKEN + 2 * LOOK_BYTES) // len(chunk("")) + 1
    # as many tokens as the limit allows with its tolerance, then empty events well past a look
    assert not meter.feed(chunk(" a" * (limit + tolerance(limit))))
    assert not any(meter.feed(chunk("")) for _ in range(past_a_look))
    meter.feed(chunk(" a" * 200))
    assert any(meter.feed(chunk("")) for _ in range(LOOK_BYTES // len(chunk("")) + 1))


def test_a_stream_without_a_limit_is_never_read() -> None:
    reads = Reads()
    meter = StreamMeter(None, reads)
    assert not any(meter.feed(chunk("word " * 1000)) for _ in range(50))
    assert reads.events == 0
