"""Whole answers converted between protocols, field by field: each written in its documented shape."""

from __future__ import annotations

from typing import Any

from relaygate.relay.convert.codecs import ANTHROPIC, GEMINI, OPENAI, Codec

OPENAI_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
    },
}

ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 14, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 4, "output_tokens": 10},
}

GEMINI_ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me check."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 20,
        "candidatesTokenCount": 7,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 30,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-1",
}


def convert(answer: Any, upstream: Codec, client: Codec) -> dict[str, Any]:
    rendered: dict[str, Any] = client.render_response(upstream.parse_response(answer), "asked-model")
    return rendered


def test_openai_to_anthropic() -> None:
    assert convert(OPENAI_ANSWER, OPENAI, ANTHROPIC) == {
        "id": "msg_chatcmpl-123",
        "type": "message",
        "role": "assistant",
        "model": "asked-model",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 16, "cache_read_input_tokens": 4, "output_tokens": 10},
    }


def test_openai_to_gemini() -> None:
    assert convert(OPENAI_ANSWER, OPENAI, GEMINI) == GEMINI_ANSWER | {
        "usageMetadata": {
            "promptTokenCount": 20,
            "candidatesTokenCount": 10,
            "totalTokenCount": 30,
            "cachedContentTokenCount": 4,
        },
        "modelVersion": "asked-model",
        "responseId": "chatcmpl-123",
    }


def test_anthropic_to_openai_counts_cache_reads_and_writes_in_the_prompt() -> None:
    converted = convert(ANTHROPIC_ANSWER, ANTHROPIC, OPENAI)
    assert converted["id"] == "chatcmpl-msg_01"
    assert (converted["object"], converted["model"]) == ("chat.completion", "asked-model")
    assert converted["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert converted["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
    }


def test_anthropic_to_gemini() -> None:
    converted = convert(ANTHROPIC_ANSWER, ANTHROPIC, GEMINI)
    assert converted["candidates"] == GEMINI_ANSWER["candidates"]
    assert converted["usageMetadata"] == {
        "promptTokenCount": 20,
        "candidatesTokenCount": 10,
        "totalTokenCount": 30,
        "cachedContentTokenCount": 4,
    }


def test_gemini_to_openai_counts_thoughts_as_output_and_names_the_call() -> None:
    converted = convert(GEMINI_ANSWER, GEMINI, OPENAI)
    message = converted["choices"][0]["message"]
    assert message["content"] == "Let me check."
    [call] = message["tool_calls"]
    assert call["id"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert converted["choices"][0]["finish_reason"] == "tool_calls"
    assert converted["usage"]["prompt_tokens"] == 20
    assert converted["usage"]["completion_tokens"] == 10


def test_gemini_to_anthropic() -> None:
    converted = convert(GEMINI_ANSWER, GEMINI, ANTHROPIC)
    text, tool_use = converted["content"]
    assert text == {"type": "text", "text": "Let me check."}
    assert (tool_use["type"], tool_use["name"], tool_use["input"]) == ("tool_use", "get_weather", {"city": "Paris"})
    assert converted["stop_reason"] == "tool_use"
    assert converted["usage"] == {"input_tokens": 16, "cache_read_input_tokens": 4, "output_tokens": 10}


def test_stop_reasons() -> None:
    """stop / length / tool_calls <-> end_turn / max_tokens / tool_use <-> STOP / MAX_TOKENS (SAFETY: a refusal)."""
    plain = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}
    expected = [
        ("stop", "end_turn", "STOP"),
        ("length", "max_tokens", "MAX_TOKENS"),
        ("content_filter", "refusal", "SAFETY"),
    ]
    for finish, stop_reason, finish_reason in expected:
        answer = {**plain, "choices": [{**plain["choices"][0], "finish_reason": finish}]}  # type: ignore[dict-item]
        assert convert(answer, OPENAI, ANTHROPIC)["stop_reason"] == stop_reason
        assert convert(answer, OPENAI, GEMINI)["candidates"][0]["finishReason"] == finish_reason
        back = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": finish_reason}]}
        assert convert(back, GEMINI, OPENAI)["choices"][0]["finish_reason"] == finish
        message = {**ANTHROPIC_ANSWER, "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
        assert convert(message, ANTHROPIC, OPENAI)["choices"][0]["finish_reason"] == finish


def test_a_gemini_array_answer_is_joined() -> None:
    """streamGenerateContent without alt=sse answers a JSON array of chunks."""
    chunks = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
            "usageMetadata": {"promptTokenCount": 3},
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
        },
    ]
    converted = convert(chunks, GEMINI, OPENAI)
    assert converted["choices"][0]["message"]["content"] == "Hello"
    assert converted["choices"][0]["finish_reason"] == "length"
    assert (converted["usage"]["prompt_tokens"], converted["usage"]["completion_tokens"]) == (3, 2)
