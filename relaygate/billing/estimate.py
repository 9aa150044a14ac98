"""What a request may cost at most, read from its body before it is sent: the basis of its hold.

The prompt is bounded, not guessed: no tokenizer in use (byte-level BPE for OpenAI and Anthropic,
SentencePiece with byte fallback for Gemini) makes more tokens of a text than it has UTF-8 bytes,
and a message's own framing tokens are fewer than the bytes of its JSON keys. So the bytes of every
key and string in the body bound its prompt tokens. Inline media are not text: an image counts
`IMAGE_TOKEN_BOUND` (more than any provider charges for one image), other inline data (audio, PDF
pages) one token per `MEDIA_BYTES_PER_TOKEN` bytes of its base64. A body with no media at all is
bounded by its raw length, which needs no walk (JSON escapes only make the raw text longer).

The client's own output limit is read from every protocol's field.
"""

from __future__ import annotations

import re
from typing import Any

from relaygate.errors import BadRequest

IMAGE_TOKEN_BOUND = 3_000  # OpenAI high detail <= 2,642 (o4-mini patches), Claude <= ~1,600, Gemini tiles of 258
MEDIA_BYTES_PER_TOKEN = 100  # base64 of audio or documents: far more bytes than the tokens they are billed
MEDIA_MARKERS = (b"image", b"base64", b"inlineData", b"inline_data", b"fileData", b"file_data", b"audio", b'"data"')
_ANY_MEDIA_MARKER = re.compile(b"|".join(re.escape(marker) for marker in MEDIA_MARKERS))  # one scan, not eight
IMAGE_TYPES = frozenset({"image_url", "input_image", "image"})
INLINE_KEYS = ("inlineData", "inline_data")
OUTPUT_FIELDS = (
    "max_completion_tokens",
    "max_tokens",
    "max_output_tokens",
    "max_response_output_tokens",  # Realtime sessions
    "maxOutputTokens",
)
GENERATION_CONFIGS = ("generationConfig", "generation_config")


def prompt_token_bound(body: Any, raw: bytes | None = None) -> int:
    """An upper bound of the prompt tokens of any protocol's request body (see the module doc)."""
    if raw is not None and _ANY_MEDIA_MARKER.search(raw) is None:
        return len(raw)
    total = 0
    stack = [body]
    while stack:  # a loop, not recursion: a body nested thousands deep costs time, never a crash
        value = stack.pop()
        if isinstance(value, str):
            total += len(value) if value.isascii() else len(value.encode())
        elif isinstance(value, dict):
            media = _media_tokens(value)
            if media is not None:
                total += media
                continue
            for key, item in value.items():
                total += len(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int | float):
            total += 1
    return total


def _media_tokens(part: dict[str, Any]) -> int | None:
    """The bound of an image or inline-data part, or None when `part` is not one."""
    kind = part.get("type")
    if kind in IMAGE_TYPES:
        return IMAGE_TOKEN_BOUND
    inline = next((part[key] for key in INLINE_KEYS if isinstance(part.get(key), dict)), None)
    if inline is not None:
        mime = inline.get("mimeType") or inline.get("mime_type") or ""
        if isinstance(mime, str) and mime.startswith("image/"):
            return IMAGE_TOKEN_BOUND
        data = inline.get("data")
        return len(data) // MEDIA_BYTES_PER_TOKEN + 1 if isinstance(data, str) else 1
    if kind in ("input_audio", "document", "file", "input_file"):
        return _base64_size(part) // MEDIA_BYTES_PER_TOKEN + IMAGE_TOKEN_BOUND
    return None


def _base64_size(part: dict[str, Any]) -> int:
    """The length of the longest string inside a media part: its payload."""
    longest = 0
    stack: list[Any] = [part]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            longest = max(longest, len(value))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return longest


def requested_output_tokens(body: dict[str, Any]) -> int | None:
    """The output limit the client asked for in its protocol's field, or None (also for Realtime's "inf").

    A limit that is not a positive whole number is refused (400) here, before anything is held.
    """
    sources = [body] + [body[name] for name in GENERATION_CONFIGS if isinstance(body.get(name), dict)]
    for source in sources:
        for field in OUTPUT_FIELDS:
            value = source.get(field)
            if value is None or value == "inf":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequest(
                    f"'{field}' must be a positive whole number of tokens, such as 1024, not {str(value)[:40]!r}.",
                    code="invalid_value",
                    param=field,
                )
            return value
    return None
