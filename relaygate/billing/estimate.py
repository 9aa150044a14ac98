"""What a request may cost at most, read from its body before it is sent: the basis of its hold.

The prompt is bounded, not guessed: no tokenizer in use (byte-level BPE for OpenAI and Anthropic,
SentencePiece with byte fallback for Gemini) makes more tokens of a text than it has UTF-8 bytes,
and a message's own framing tokens are fewer than the bytes of its JSON keys. So the bytes of every
key and string in the body bound its prompt tokens. Inline media are not text: an image counts
`IMAGE_TOKEN_BOUND` (more than any provider charges for one image), other inline data (audio, PDF
pages) one token per `MEDIA_BYTES_PER_TOKEN` bytes of its base64.

The walk costs per value, not per byte: a body of one long prompt is a handful of values. (A scan
of the raw bytes for media markers, to skip the walk, cost 13 times more on a body of 4 KB.)

The client's own output limit is read from every protocol's field.
"""

from __future__ import annotations

from typing import Any

from relaygate.errors import BadRequest

IMAGE_TOKEN_BOUND = 3_000  # OpenAI high detail <= 2,642 (o4-mini patches), Claude <= ~1,600, Gemini tiles of 258
MEDIA_BYTES_PER_TOKEN = 100  # base64 of audio or documents: far more bytes than the tokens they are billed
IMAGE_TYPES = frozenset({"image_url", "input_image", "image"})
MEDIA_KINDS = frozenset({"input_audio", "document", "file", "input_file"})
_NUMBERS = (int, float)
OUTPUT_FIELDS = (
    "max_completion_tokens",
    "max_tokens",
    "max_output_tokens",
    "max_response_output_tokens",  # Realtime sessions
    "maxOutputTokens",
)
GENERATION_CONFIGS = ("generationConfig", "generation_config")


def prompt_token_bound(body: Any) -> int:
    """An upper bound of the prompt tokens of any protocol's request body (see the module doc)."""
    total = 0
    stack = [body]
    pop, extend = stack.pop, stack.extend
    while stack:  # a loop, not recursion: a body nested thousands deep costs time, never a crash
        value = pop()
        if isinstance(value, str):
            total += len(value) if value.isascii() else len(value.encode())
        elif isinstance(value, dict):
            if "type" in value or "inlineData" in value or "inline_data" in value:
                media = _media_tokens(value)
                if media is not None:
                    total += media
                    continue
            keys = "".join(value)
            total += len(keys) if keys.isascii() else len(keys.encode())
            extend(value.values())
        elif isinstance(value, list):
            extend(value)
        elif isinstance(value, _NUMBERS):
            total += 1
    return total


def _media_tokens(part: dict[str, Any]) -> int | None:
    """The bound of an image or inline-data part, or None when `part` is not one."""
    kind = part.get("type")
    if not isinstance(kind, str):  # a JSON schema's "type" may be a list of types
        kind = None
    if kind in IMAGE_TYPES:
        return IMAGE_TOKEN_BOUND
    inline = part.get("inlineData")
    if not isinstance(inline, dict):
        inline = part.get("inline_data")
    if isinstance(inline, dict):
        mime = inline.get("mimeType") or inline.get("mime_type") or ""
        if isinstance(mime, str) and mime.startswith("image/"):
            return IMAGE_TOKEN_BOUND
        data = inline.get("data")
        return len(data) // MEDIA_BYTES_PER_TOKEN + 1 if isinstance(data, str) else 1
    if kind in MEDIA_KINDS:
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
