"""What a request may cost before it is sent: a cheap upper estimate for the reservation.

Counting tokens exactly on every request costs more than the relay itself, so the prompt is
estimated from its text length (a BPE token is at least one byte of text; a third of the byte
count covers English and CJK text), images at a fixed count. Settlement uses the real usage.
The request shapes of every protocol are read: OpenAI (`messages`, `prompt`, `input`), Anthropic
(`system`, `messages`, `tools`) and Gemini (`contents`, `systemInstruction`, `content`, `requests`).
"""

from __future__ import annotations

from typing import Any

from relaygate.billing.tokencount import TOKENS_PER_IMAGE, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY

OUTPUT_FIELDS = (
    "max_completion_tokens",
    "max_tokens",
    "max_output_tokens",
    "max_response_output_tokens",  # Realtime
    "maxOutputTokens",
)


PROMPT_FIELDS = ("prompt", "input", "contents", "content", "requests")
INSTRUCTION_FIELDS = ("system", "systemInstruction", "system_instruction", "instructions", "tools")
INLINE_DATA_KEYS = ("inlineData", "inline_data", "fileData", "file_data")


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    extra = sum(_estimate_value(body[field]) for field in INSTRUCTION_FIELDS if field in body)
    if "messages" in body:
        return _estimate_messages(body["messages"]) + extra
    for field in PROMPT_FIELDS:
        if field in body:
            return _estimate_value(body[field]) + extra
    return extra


def requested_output_tokens(body: dict[str, Any], default: int) -> int:
    config = body.get("generationConfig") or body.get("generation_config")
    sources = (body, config) if isinstance(config, dict) else (body,)
    for source in sources:
        for field in OUTPUT_FIELDS:
            value = source.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
    return default


def _estimate_messages(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return TOKENS_PER_REPLY + sum(TOKENS_PER_MESSAGE + _estimate_value(message) for message in messages)


def _estimate_value(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode()) // 3 + 1
    if isinstance(value, list):
        return sum(_estimate_value(item) for item in value)
    if isinstance(value, dict):
        if value.get("type") in ("image_url", "input_image", "image") or any(key in value for key in INLINE_DATA_KEYS):
            return TOKENS_PER_IMAGE
        return sum(_estimate_value(item) for item in value.values())
    if isinstance(value, int):
        return 1
    return 0
