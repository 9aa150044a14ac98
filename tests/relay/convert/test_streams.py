"""Streams converted between protocols: an upstream's documented event sequence in, the client's events out."""

from __future__ import annotations

import json
from typing import Any

from relaygate.relay.convert.codecs import ANTHROPIC, GEMINI, OPENAI, Codec
from relaygate.relay.convert.ir import ChatRequest


def sse(*events: tuple[str | None, Any]) -> list[bytes]:
    framed = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        framed.append(f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode())
    return framed


def anthropic_events(*events: dict[str, Any]) -> list[bytes]:
    return sse(*((event["type"], event) for event in events))


ANTHROPIC_STREAM = anthropic_events(
    {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                          "model": "claude", "stop_reason": None, "stop_sequence": None,
                                          "usage": {"input_tokens": 25, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1,
     "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
)  # fmt: skip


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return None, {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
        "choices": [choice],
    }


OPENAI_STREAM = sse(
    openai_chunk({"role": "assistant", "content": ""}),
    openai_chunk({"content": "Hi"}),
    openai_chunk({"content": " there"}),
    openai_chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                  "function": {"name": "get_weather", "arguments": ""}}]}),
    openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    openai_chunk({}, "tool_calls"),
    (None, {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt", "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}),
    (None, "[DONE]"),
)  # fmt: skip


def gemini_chunk(text: str, output: int, finish: str | None = None) -> tuple[None, dict[str, Any]]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage = {"promptTokenCount": 7, "candidatesTokenCount": output, "totalTokenCount": 7 + output}
    return None, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini", "responseId": "r1"}


GEMINI_STREAM = sse(gemini_chunk("Hel", 1), gemini_chunk("lo", 2, "MAX_TOKENS"))


def convert(events: list[bytes], upstream: Codec, client: Codec, request: ChatRequest | None = None) -> bytes:
    parser = upstream.stream_parser()
    renderer = client.stream_renderer(request or ChatRequest(messages=[]), "asked")
    return b"".join(renderer.render(delta) for event in events for delta in parser.feed(event)) + renderer.close()


def events_of(stream: bytes) -> list[tuple[str | None, Any]]:
    """(event name, data) of each event; data is JSON, or the raw `[DONE]`."""
    parsed = []
    for block in stream.replace(b"\r\n", b"\n").decode().split("\n\n"):
        if not block:
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = lines["data"]
        parsed.append((lines.get("event"), data if data == "[DONE]" else json.loads(data)))
    return parsed


def test_anthropic_stream_to_openai_chunks_with_the_usage_chunk_the_client_asked_for() -> None:
    out = events_of(convert(ANTHROPIC_STREAM, ANTHROPIC, OPENAI, ChatRequest(messages=[], include_usage=True)))
    chunks = [data for _, data in out[:-1]]
    assert out[-1] == (None, "[DONE]")
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-msg_1"}
    assert all(chunk["object"] == "chat.completion.chunk" and chunk["model"] == "asked" for chunk in chunks)
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks[:-1]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": "!"},
        {
            "tool_calls": [
                {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None] * 6 + ["tool_calls"]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 15,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_openai_stream_without_usage_request_has_no_usage_chunk() -> None:
    out = events_of(convert(ANTHROPIC_STREAM, ANTHROPIC, OPENAI))
    assert out[-1] == (None, "[DONE]")
    assert all(data["choices"] and "usage" not in data for _, data in out[:-1])


def test_anthropic_stream_to_gemini_chunks() -> None:
    out = [data for _, data in events_of(convert(ANTHROPIC_STREAM, ANTHROPIC, GEMINI))]
    assert [chunk["candidates"][0]["content"]["parts"] for chunk in out] == [
        [{"text": "Hello"}],
        [{"text": "!"}],
        [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    ]
    assert [chunk["candidates"][0].get("finishReason") for chunk in out] == [None, None, "STOP"]
    assert out[-1]["usageMetadata"] == {"promptTokenCount": 25, "candidatesTokenCount": 15, "totalTokenCount": 40}
    assert all(chunk["responseId"] == "msg_1" and chunk["modelVersion"] == "asked" for chunk in out)


def test_openai_stream_to_anthropic_events_in_order() -> None:
    out = events_of(convert(OPENAI_STREAM, OPENAI, ANTHROPIC))
    assert [name for name, _ in out] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # fmt: skip
    assert all(data["type"] == name for name, data in out)
    start = out[0][1]["message"]
    assert (start["id"], start["role"], start["model"], start["content"]) == (
        "msg_chatcmpl-1",
        "assistant",
        "asked",
        [],
    )
    assert out[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [data["delta"] for _, data in out[2:4]] == [
        {"type": "text_delta", "text": "Hi"},
        {"type": "text_delta", "text": " there"},
    ]
    assert out[5][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    assert [data["delta"]["partial_json"] for _, data in out[6:8]] == ['{"city":', '"Paris"}']
    assert [data["index"] for _, data in out[1:9]] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert out[9][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 9, "cache_read_input_tokens": 0, "output_tokens": 12},
    }


def test_gemini_stream_to_anthropic_events() -> None:
    out = events_of(convert(GEMINI_STREAM, GEMINI, ANTHROPIC))
    names = [name for name, _ in out]
    assert names == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]  # fmt: skip
    assert out[0][1]["message"]["usage"]["input_tokens"] == 7
    assert out[5][1]["delta"]["stop_reason"] == "max_tokens"
    assert out[5][1]["usage"]["output_tokens"] == 2


def test_gemini_stream_to_openai_chunks() -> None:
    out = events_of(convert(GEMINI_STREAM, GEMINI, OPENAI, ChatRequest(messages=[], include_usage=True)))
    chunks = [data for _, data in out[:-1]]
    assert [chunk["choices"][0]["delta"] for chunk in chunks[:3]] == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
    ]
    assert chunks[3]["choices"][0]["finish_reason"] == "length"
    assert chunks[4]["usage"]["completion_tokens"] == 2
    assert out[-1] == (None, "[DONE]")


def test_openai_stream_to_gemini_chunks() -> None:
    out = [data for _, data in events_of(convert(OPENAI_STREAM, OPENAI, GEMINI))]
    texts = [part.get("text") for chunk in out for part in chunk["candidates"][0]["content"]["parts"]]
    assert texts == ["Hi", " there", None]
    assert out[-1]["candidates"][0]["content"]["parts"][0] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}}
    }
    assert out[-1]["candidates"][0]["finishReason"] == "STOP"
    assert out[-1]["usageMetadata"] == {"promptTokenCount": 9, "candidatesTokenCount": 12, "totalTokenCount": 21}
