"""What the fake upstream answers, as pure functions: behaviour flags, usage and reply text.

Tests of the gateway compute expected bills from these functions, so the counting rules are a
contract:

- `count_words(text)` is `len(text.split())`; one word is one token everywhere.
- A chat prompt costs, per message, the words of its text content plus 3, and 3 more for the
  reply's priming (`chat_prompt_tokens`).
- A legacy completion prompt costs its words; a list of prompts costs the sum of its strings'
  words, a token array costs its length (`completion_prompt_tokens`).
- An embedding input costs its words, at least 1 per input (`embedding_usage`).
- The reply is `DEFAULT_REPLY_WORDS` words (or the `words=N` flag), cut to `max_completion_tokens`
  or `max_tokens` when given; each word is one completion token (`reply_length`).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_REPLY_WORDS = 12
REPLY_VOCABULARY = ("fake", "reply", "word", "token")
EMBEDDING_DIMENSIONS = 8
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY_PRIMING = 3

_FLAGS_WITH_NUMBERS = (
    "fail",
    "fail-first",
    "chunk-delay-ms",
    "delay-ms",
    "words",
    "cached",
    "cache-write",
    "cache-write-1h",
    "thoughts",
    "report-completion",
    "break-after",
)
LIMIT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens", "maxOutputTokens")
IGNORED_LIMIT = 10**9  # what an `ignore-limit` key's requests are answered as if they had asked


class FakeUpstreamError(Exception):
    """An error the fake upstream answers with, rendered as an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.kind = kind or ("server_error" if status >= 500 else "invalid_request_error")


def invalid_request(message: str, *, param: str | None = None, code: str = "invalid_value") -> FakeUpstreamError:
    """A 400 `invalid_request_error`, as OpenAI answers a malformed request."""
    return FakeUpstreamError(400, message, code=code, param=param)


@dataclass(frozen=True, slots=True)
class UpstreamBehaviour:
    """How the fake upstream treats the requests made with one API key.

    The key is split on `;`; the first part names the key, every later part is a flag:
    `fail=NNN`, `fail-first=N`, `no-usage`, `chunk-delay-ms=N`, `delay-ms=N`, `words=N`,
    `require=VALUE` (accepted and ignored), `echo-key` (a `fail=NNN` answer repeats the key and an
    organisation id in its message, as OpenAI's "Incorrect API key provided" does), `reject` (the task APIs answer a submit with a
    rejection and status 200, as midjourney-proxy and Suno relays do), and for the Anthropic and
    Gemini protocols `cached=N` (that many prompt tokens reported as read from the provider's
    cache), `cache-write=N` (Anthropic: written to the 5-minute cache), `cache-write-1h=N` (to the 1-hour one) and `thoughts=N` (Gemini: thinking
    tokens). Two flags make a dishonest upstream, for the gateway's spend bounds: `ignore-limit`
    (the reply has its `words` whatever output limit the request set) and `report-completion=N` (the
    OpenAI chat protocol reports N completion tokens, whatever it wrote); `break-after=N` resets the
    connection after N events of a stream, with no terminator. For OpenAI chat and Responses, `call-tools`
    answers every request that has tools with a call of the first (a forced tool is always called),
    and `finish-stop` reports such an answer's finish reason as "stop", as some OpenAI-compatible
    servers do. Two flags make a LiteLLM-like upstream: `usage-on-choices` (an OpenAI chat stream
    carries its usage on the last chunk with choices, not on a chunk of its own) and `no-stream`
    (OpenAI chat and Anthropic messages answer a stream request with the whole JSON body). An
    unknown or malformed flag is a 400, so that a typo in a test's channel key cannot silently
    configure nothing.

    `switch=NAME` lets a test change the key's answers while it runs: after
    `PUT /_fake/switches/NAME` with `{"fail": STATUS, "code": CODE}` (code optional; e.g. 401, 402,
    or 429 with `insufficient_quota`), every request with the key fails so; `DELETE` of the same
    path (or `{"fail": null}`) makes it answer normally again. Switches are shared by every key naming them.
    """

    fail_status: int | None = None
    fail_first: int = 0
    no_usage: bool = False
    chunk_delay_ms: int = 0
    delay_ms: int = 0
    words: int = DEFAULT_REPLY_WORDS
    cached: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    thoughts: int = 0
    reject: bool = False
    ignore_limit: bool = False
    report_completion: int | None = None
    call_tools: bool = False
    finish_stop: bool = False
    usage_on_choices: bool = False
    no_stream: bool = False
    break_after: int | None = None
    echo_key: bool = False
    switch: str | None = None


def parse_bearer(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None when there is none."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


@lru_cache(maxsize=1024)
def parse_behaviour(key: str) -> UpstreamBehaviour:
    """The behaviour flags of an API key such as `fake;no-usage;chunk-delay-ms=50`."""
    numbers: dict[str, int] = {}
    no_usage = reject = ignore_limit = echo_key = False
    switch = None
    call_tools = finish_stop = usage_on_choices = no_stream = False
    for flag in key.split(";")[1:]:
        name, has_value, value = flag.strip().partition("=")
        if name == "switch" and value:
            switch = value
        elif name == "no-usage" and not has_value:
            no_usage = True
        elif name == "reject" and not has_value:
            reject = True
        elif name == "ignore-limit" and not has_value:
            ignore_limit = True
        elif name == "call-tools" and not has_value:
            call_tools = True
        elif name == "finish-stop" and not has_value:
            finish_stop = True
        elif name == "usage-on-choices" and not has_value:
            usage_on_choices = True
        elif name == "no-stream" and not has_value:
            no_stream = True
        elif name == "echo-key" and not has_value:
            echo_key = True
        elif name == "require" and has_value:
            continue
        elif name in _FLAGS_WITH_NUMBERS and value.isdigit():
            numbers[name] = int(value)
        else:
            raise invalid_request(f"unknown or malformed fake-upstream flag {flag!r}", code="invalid_fake_flag")
    fail_status = numbers.get("fail")
    if fail_status is not None and not 400 <= fail_status <= 599:
        raise invalid_request(f"fake-upstream flag fail={fail_status} is not an error status")
    return UpstreamBehaviour(
        fail_status=fail_status,
        fail_first=numbers.get("fail-first", 0),
        no_usage=no_usage,
        chunk_delay_ms=numbers.get("chunk-delay-ms", 0),
        delay_ms=numbers.get("delay-ms", 0),
        words=numbers.get("words", DEFAULT_REPLY_WORDS),
        cached=numbers.get("cached", 0),
        cache_write=numbers.get("cache-write", 0),
        cache_write_1h=numbers.get("cache-write-1h", 0),
        thoughts=numbers.get("thoughts", 0),
        reject=reject,
        ignore_limit=ignore_limit,
        report_completion=numbers.get("report-completion"),
        call_tools=call_tools,
        finish_stop=finish_stop,
        usage_on_choices=usage_on_choices,
        no_stream=no_stream,
        break_after=numbers.get("break-after"),
        echo_key=echo_key,
        switch=switch,
    )


def without_limits(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request as an `ignore-limit` key answers it: every output limit set beyond any reply."""
    answered = {name: IGNORED_LIMIT if name in LIMIT_FIELDS else value for name, value in body.items()}
    config = body.get("generationConfig")
    if isinstance(config, Mapping) and "maxOutputTokens" in config:
        answered["generationConfig"] = {**config, "maxOutputTokens": IGNORED_LIMIT}
    return answered


def sample_json(schema: Any) -> Any:
    """A value that follows a simple JSON Schema (or Gemini schema): every property, first enum value.

    Strings are "fake", numbers 1, booleans true, arrays one item; a schema without a type is an
    object; of a list of types (`["integer", "null"]`) the first that is not "null".
    """
    if not isinstance(schema, Mapping):
        return {}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for union in ("anyOf", "any_of", "oneOf"):
        if isinstance(schema.get(union), list) and schema[union]:
            return sample_json(schema[union][0])
    kind = _first_type(schema.get("type"))
    if kind == "string":
        return "fake"
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample_json(schema.get("items"))]
    if kind == "null":
        return None
    properties = schema.get("properties")
    fields = properties if isinstance(properties, Mapping) else {}
    return {name: sample_json(value) for name, value in fields.items()}


def _first_type(kind: Any) -> str:
    """A schema's type in lower case: the first that is not "null" of a list of types, "object" when none."""
    if isinstance(kind, list):
        kind = next((name for name in kind if isinstance(name, str) and name.lower() != "null"), None)
    return str(kind or "object").lower()


def count_words(text: str) -> int:
    """The token count of a text: its whitespace-separated words."""
    return len(text.split())


def message_text(message: Any) -> str:
    """The text of a chat message: its string content, or its `text` parts joined by spaces."""
    if not isinstance(message, Mapping):
        raise invalid_request("each message must be an object", param="messages")
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    raise invalid_request("message content must be a string or a list of parts", param="messages")


def chat_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of a chat request: per message its words plus 3, plus 3 for the reply."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("'messages' must be a non-empty array", param="messages")
    words = sum(count_words(message_text(message)) for message in messages)
    return words + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REPLY_PRIMING


def prompt_texts(prompt: Any, *, param: str) -> list[str]:
    """The texts of a `prompt` or `input`: a string, strings, a token array or token arrays.

    A token array becomes its numbers joined by spaces, so it counts one token per number.
    """
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(item, str) for item in prompt):
            return list(prompt)
        if all(isinstance(item, int) for item in prompt):
            return [" ".join(map(str, prompt))]
        if all(isinstance(item, list) and all(isinstance(n, int) for n in item) for item in prompt):
            return [" ".join(map(str, item)) for item in prompt]
    raise invalid_request(f"'{param}' must be a string, an array of strings or of token arrays", param=param)


def completion_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of a legacy completion: the words of every prompt string, no overhead."""
    return sum(count_words(text) for text in prompt_texts(request.get("prompt"), param="prompt"))


def reply_length(request: Mapping[str, Any], words: int = DEFAULT_REPLY_WORDS) -> tuple[int, str]:
    """How many words the reply has and its `finish_reason`.

    `words` words, cut to `max_completion_tokens` (or else `max_tokens`) when the request sets
    one; the finish reason is "length" when that cut the reply short, else "stop".
    """
    limit = request.get("max_completion_tokens")
    param = "max_completion_tokens"
    if limit is None:
        limit, param = request.get("max_tokens"), "max_tokens"
    if limit is None:
        return words, "stop"
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise invalid_request(f"'{param}' must be a positive integer", param=param)
    if limit < words:
        return limit, "length"
    return words, "stop"


def chat_usage(request: Mapping[str, Any], words: int = DEFAULT_REPLY_WORDS) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) of a chat completion request."""
    return chat_prompt_tokens(request), reply_length(request, words)[0]


def completion_usage(request: Mapping[str, Any], words: int = DEFAULT_REPLY_WORDS) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) of a legacy completion request."""
    return completion_prompt_tokens(request), reply_length(request, words)[0]


def embedding_inputs(request: Mapping[str, Any]) -> list[str]:
    """The texts an embedding request asks vectors for, one per returned embedding."""
    return prompt_texts(request.get("input"), param="input")


def embedding_usage(request: Mapping[str, Any]) -> int:
    """Prompt tokens of an embedding request: the words of each input, at least 1 per input."""
    return sum(max(1, count_words(text)) for text in embedding_inputs(request))


def embedding_vector(text: str) -> list[float]:
    """`EMBEDDING_DIMENSIONS` floats in [-1, 1) derived from a hash of the text.

    Each value is a multiple of 2**-23, exact in float32, so the base64 encoding (little-endian
    float32) decodes to exactly the same numbers as the float encoding.
    """
    digest = hashlib.blake2b(text.encode(), digest_size=4 * EMBEDDING_DIMENSIONS).digest()
    raw = struct.unpack(f"<{EMBEDDING_DIMENSIONS}I", digest)
    return [(value >> 8) / 2**23 - 1.0 for value in raw]


def embedding_vectors(request: Mapping[str, Any], *, base64_encoded: bool) -> list[list[float]] | list[str]:
    """One `embedding_vector` per input, or each as base64 of little-endian float32 (the SDK default)."""
    vectors = [embedding_vector(text) for text in embedding_inputs(request)]
    if not base64_encoded:
        return vectors
    return [base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() for vector in vectors]


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The OpenAI `usage` object of a chat or legacy completion."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def reply_words(n: int) -> list[str]:
    """The n words of a reply: `REPLY_VOCABULARY` repeated ("fake reply word token fake ...")."""
    size = len(REPLY_VOCABULARY)
    return [REPLY_VOCABULARY[i % size] for i in range(n)]


@lru_cache(maxsize=256)
def reply_text(n: int) -> str:
    """The text of an n-word reply, its words joined by single spaces."""
    return " ".join(reply_words(n))


@lru_cache(maxsize=256)
def stream_pieces(n: int) -> tuple[str, ...]:
    """The content of each streamed chunk of an n-word reply: each word, a space after all but the last."""
    words = reply_words(n)
    return (*[word + " " for word in words[:-1]], *words[-1:])
