"""Requests converted between protocols, field by field: one conversation written in each protocol's
documented shape (system prompt, an image inline and by URL, a tool, a tool call and its result)."""

from __future__ import annotations

from typing import Any

from relaygate.relay.convert.codecs import ANTHROPIC, GEMINI, OPENAI, Codec

PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
QUESTION = "What is in this image, and what is the weather in Paris?"
PNG = "iVBORw0KGgo="
URL = "https://example.com/cat.jpg"

OPENAI_REQUEST: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Answer in French."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": QUESTION},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": URL}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees, sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather of a city", "parameters": PARAMS},
        }
    ],
    "tool_choice": "auto",
    "max_tokens": 100,
    "temperature": 0.5,
    "stop": ["END"],
}

ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "m",
    "max_tokens": 100,
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": QUESTION},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": URL}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18 degrees, sunny"}]},
    ],
    "system": "Answer in French.",
    "tools": [{"name": "get_weather", "description": "Weather of a city", "input_schema": PARAMS}],
    "tool_choice": {"type": "auto"},
    "temperature": 0.5,
    "stop_sequences": ["END"],
}

GEMINI_REQUEST: dict[str, Any] = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": QUESTION},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": URL}},
            ],
        },
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18 degrees, sunny"}}}],
        },
    ],
    "systemInstruction": {"parts": [{"text": "Answer in French."}]},
    "tools": [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather of a city", "parametersJsonSchema": PARAMS}
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5, "stopSequences": ["END"]},
}


def convert(body: dict[str, Any], client: Codec, upstream: Codec) -> dict[str, Any]:
    return upstream.render_request(client.parse_request(body), "m")


def test_openai_to_anthropic() -> None:
    assert convert(OPENAI_REQUEST, OPENAI, ANTHROPIC) == ANTHROPIC_REQUEST


def test_openai_to_gemini() -> None:
    assert convert(OPENAI_REQUEST, OPENAI, GEMINI) == GEMINI_REQUEST


def test_anthropic_to_openai() -> None:
    assert convert(ANTHROPIC_REQUEST, ANTHROPIC, OPENAI) == OPENAI_REQUEST


def test_anthropic_to_gemini() -> None:
    assert convert(ANTHROPIC_REQUEST, ANTHROPIC, GEMINI) == GEMINI_REQUEST


def test_gemini_to_openai_names_the_calls_and_pairs_each_result_with_its_call() -> None:
    converted = convert(GEMINI_REQUEST, GEMINI, OPENAI)
    messages = converted["messages"]
    assert messages[0] == {"role": "system", "content": "Answer in French."}
    assert messages[1] == OPENAI_REQUEST["messages"][1] | {"content": OPENAI_REQUEST["messages"][1]["content"]}
    [call] = messages[2]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert messages[3] == {"role": "tool", "tool_call_id": call["id"], "content": "18 degrees, sunny"}
    assert {key: converted[key] for key in ("tools", "tool_choice", "max_tokens", "temperature", "stop")} == {
        key: OPENAI_REQUEST[key] for key in ("tools", "tool_choice", "max_tokens", "temperature", "stop")
    }


def test_gemini_to_anthropic() -> None:
    converted = convert(GEMINI_REQUEST, GEMINI, ANTHROPIC)
    [tool_use] = converted["messages"][1]["content"]
    [result] = converted["messages"][2]["content"]
    assert result == {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "18 degrees, sunny"}
    call_id = tool_use["id"]
    expected = convert(OPENAI_REQUEST, OPENAI, ANTHROPIC)
    expected["messages"][1]["content"][0]["id"] = call_id
    expected["messages"][2]["content"][0]["tool_use_id"] = call_id
    assert converted == expected


def test_streams_and_forced_tools() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "tools": OPENAI_REQUEST["tools"],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "stream": True,
    }
    anthropic = convert(body, OPENAI, ANTHROPIC)
    assert anthropic["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert (anthropic["stream"], anthropic["max_tokens"], anthropic["system"]) == (True, 4096, "Be brief.")
    gemini = convert(body, OPENAI, GEMINI)
    assert gemini["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    back = convert({**ANTHROPIC_REQUEST, "stream": True, "tool_choice": {"type": "any"}}, ANTHROPIC, OPENAI)
    assert (back["stream"], back["stream_options"], back["tool_choice"]) == (True, {"include_usage": True}, "required")


def test_gemini_schema_types_become_json_schema() -> None:
    declaration = {"name": "f", "parameters": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}}
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"functionDeclarations": [declaration]}],
    }
    [tool] = convert(body, GEMINI, OPENAI)["tools"]
    assert tool["function"]["parameters"] == {"type": "object", "properties": {"n": {"type": "integer"}}}


def test_an_empty_assistant_text_is_left_out() -> None:
    """OpenAI clients often send `"content": ""` beside tool calls; Anthropic and Gemini refuse empty text."""
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": OPENAI_REQUEST["messages"][2]["tool_calls"]},
        ],
    }
    assert convert(body, OPENAI, ANTHROPIC)["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert convert(body, OPENAI, GEMINI)["contents"][1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    ]


def test_tool_choice_none_keeps_the_tools_and_forbids_calls() -> None:
    body = {**OPENAI_REQUEST, "tool_choice": "none"}
    anthropic = convert(body, OPENAI, ANTHROPIC)
    assert (anthropic["tools"], anthropic["tool_choice"]) == (ANTHROPIC_REQUEST["tools"], {"type": "none"})
    assert convert(body, OPENAI, GEMINI)["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    assert convert(anthropic, ANTHROPIC, OPENAI)["tool_choice"] == "none"
