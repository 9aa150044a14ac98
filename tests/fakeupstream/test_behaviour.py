import base64
import struct

import pytest

from relaygate.fakeupstream import (
    DEFAULT_REPLY_WORDS,
    EMBEDDING_DIMENSIONS,
    FakeUpstreamError,
    UpstreamBehaviour,
    chat_usage,
    completion_usage,
    count_words,
    embedding_usage,
    embedding_vector,
    parse_bearer,
    parse_behaviour,
    reply_length,
    reply_text,
    reply_words,
)
from relaygate.fakeupstream.behaviour import embedding_vectors, sample_json, stream_pieces


def chat(*contents: object, **extra: object) -> dict[str, object]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": c} for c in contents], **extra}


def test_count_words_splits_on_any_whitespace() -> None:
    assert count_words("  one two\tthree\nfour ") == 4
    assert count_words("") == 0


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer sk-1", "sk-1"),
        ("bearer  fake;no-usage ", "fake;no-usage"),
        ("Bearer ", None),
        ("Basic abc", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_bearer(header: str | None, key: str | None) -> None:
    assert parse_bearer(header) == key


def test_parse_behaviour_reads_every_flag() -> None:
    key = "fake;fail=503;fail-first=2;no-usage;chunk-delay-ms=50;delay-ms=7;words=3;require=x;reject"
    assert parse_behaviour(key) == UpstreamBehaviour(
        fail_status=503, fail_first=2, no_usage=True, chunk_delay_ms=50, delay_ms=7, words=3, reject=True
    )


def test_a_key_without_flags_behaves_normally() -> None:
    assert parse_behaviour("sk-anything") == UpstreamBehaviour()
    assert parse_behaviour("sk-anything").words == DEFAULT_REPLY_WORDS


@pytest.mark.parametrize("flag", ["no_usage", "fail=abc", "words=-1", "fail=200", "fail=600", "no-usage=1", "reject=1"])
def test_a_malformed_flag_is_a_400(flag: str) -> None:
    with pytest.raises(FakeUpstreamError) as caught:
        parse_behaviour(f"fake;{flag}")
    assert caught.value.status == 400
    assert caught.value.kind == "invalid_request_error"


def test_chat_prompt_tokens_are_words_plus_three_per_message_plus_three() -> None:
    request = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello"}, {"type": "image_url"}]},
            {"role": "assistant", "content": None, "tool_calls": []},
        ],
    }
    assert chat_usage(request) == ((3 + 3) + (2 + 3) + (0 + 3) + 3, DEFAULT_REPLY_WORDS)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, (12, "stop")),
        ({"max_tokens": 100}, (12, "stop")),
        ({"max_tokens": 12}, (12, "stop")),
        ({"max_tokens": 5}, (5, "length")),
        ({"max_completion_tokens": 4, "max_tokens": 100}, (4, "length")),
    ],
)
def test_reply_length_is_capped_by_max_tokens(extra: dict[str, object], expected: tuple[int, str]) -> None:
    assert reply_length(chat("hi", **extra)) == expected


def test_the_words_flag_changes_the_reply_length_but_max_tokens_still_caps_it() -> None:
    assert reply_length(chat("hi"), words=30) == (30, "stop")
    assert reply_length(chat("hi", max_tokens=20), words=30) == (20, "length")
    assert chat_usage(chat("hi", max_tokens=20), words=3) == (1 + 3 + 3, 3)


@pytest.mark.parametrize("limit", [0, -1, True, "5", 2.5])
def test_an_invalid_max_tokens_is_a_400_naming_the_parameter(limit: object) -> None:
    with pytest.raises(FakeUpstreamError) as caught:
        reply_length(chat("hi", max_tokens=limit))
    assert (caught.value.status, caught.value.param) == (400, "max_tokens")


@pytest.mark.parametrize(
    "request_body",
    [{"model": "m"}, {"model": "m", "messages": []}, {"model": "m", "messages": ["hi"]}, chat(42)],
)
def test_malformed_messages_are_a_400(request_body: dict[str, object]) -> None:
    with pytest.raises(FakeUpstreamError) as caught:
        chat_usage(request_body)
    assert (caught.value.status, caught.value.param) == (400, "messages")


@pytest.mark.parametrize(
    ("prompt", "prompt_tokens"),
    [("one two three", 3), (["one two", "three"], 3), ([1, 2, 3, 4], 4), ([[1, 2], [3]], 3), ("", 0)],
)
def test_completion_usage_counts_the_words_of_every_prompt(prompt: object, prompt_tokens: int) -> None:
    assert completion_usage({"model": "m", "prompt": prompt, "max_tokens": 7}) == (prompt_tokens, 7)


@pytest.mark.parametrize("prompt", [None, 5, [], ["a", 1], [{"text": "a"}]])
def test_a_malformed_prompt_is_a_400(prompt: object) -> None:
    with pytest.raises(FakeUpstreamError) as caught:
        completion_usage({"model": "m", "prompt": prompt})
    assert (caught.value.status, caught.value.param) == (400, "prompt")


def test_embedding_usage_counts_words_and_at_least_one_per_input() -> None:
    assert embedding_usage({"model": "e", "input": "a b c"}) == 3
    assert embedding_usage({"model": "e", "input": ["", "a b", "c"]}) == 1 + 2 + 1


def test_reply_words_repeat_the_vocabulary() -> None:
    assert reply_words(6) == ["fake", "reply", "word", "token", "fake", "reply"]
    assert reply_words(0) == []
    assert reply_text(3) == "fake reply word"


@pytest.mark.parametrize("n", [0, 1, 2, 12])
def test_stream_pieces_rebuild_the_reply_text(n: int) -> None:
    pieces = stream_pieces(n)
    assert len(pieces) == n
    assert "".join(pieces) == reply_text(n)
    assert all(piece.endswith(" ") for piece in pieces[:-1])


def test_embedding_vectors_are_deterministic_and_exact_in_float32() -> None:
    vector = embedding_vector("hello")
    assert vector == embedding_vector("hello")
    assert vector != embedding_vector("hello!")
    assert len(vector) == EMBEDDING_DIMENSIONS
    assert all(-1.0 <= value < 1.0 for value in vector)
    as_float32 = struct.unpack(f"<{EMBEDDING_DIMENSIONS}f", struct.pack(f"<{EMBEDDING_DIMENSIONS}f", *vector))
    assert list(as_float32) == vector


def test_base64_embeddings_decode_to_the_float_embeddings() -> None:
    request = {"model": "e", "input": ["a", "b c"]}
    encoded = embedding_vectors(request, base64_encoded=True)
    floats = embedding_vectors(request, base64_encoded=False)
    decoded = [
        list(struct.unpack(f"<{EMBEDDING_DIMENSIONS}f", base64.b64decode(text)))
        for text in encoded
        if isinstance(text, str)
    ]
    assert decoded == floats == [embedding_vector("a"), embedding_vector("b c")]


def test_sample_json_follows_a_json_schema_or_a_gemini_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "population": {"type": ["integer", "null"]},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "size": {"enum": ["small", "big"]},
            "coastal": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
        },
    }
    assert sample_json(schema) == {"name": "fake", "population": 1, "tags": ["fake"], "size": "small", "coastal": True}
