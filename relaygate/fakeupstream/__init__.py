"""A deterministic OpenAI, Anthropic and Gemini provider over real sockets, for tests, benchmarks and demos.

Its behaviour is configured per request by flags in the API key (see `UpstreamBehaviour`), and its
token counts follow the rules in `behaviour`, so a test can compute the bill it expects.
"""

from relaygate.fakeupstream.admission import REQUEST_LOG_SIZE
from relaygate.fakeupstream.anthropic import TOOL_USE_TOKENS, anthropic_prompt_tokens
from relaygate.fakeupstream.behaviour import (
    DEFAULT_REPLY_WORDS,
    EMBEDDING_DIMENSIONS,
    FakeUpstreamError,
    UpstreamBehaviour,
    chat_prompt_tokens,
    chat_usage,
    completion_prompt_tokens,
    completion_usage,
    count_words,
    embedding_usage,
    embedding_vector,
    parse_bearer,
    parse_behaviour,
    reply_length,
    reply_text,
    reply_words,
    stream_pieces,
)
from relaygate.fakeupstream.gemini import gemini_prompt_tokens
from relaygate.fakeupstream.openai import MODEL_IDS, TOOL_CALL_TOKENS
from relaygate.fakeupstream.openai_responses import responses_usage
from relaygate.fakeupstream.server import create_fake_upstream_app, run_fake_upstream

__all__ = [
    "DEFAULT_REPLY_WORDS",
    "EMBEDDING_DIMENSIONS",
    "MODEL_IDS",
    "REQUEST_LOG_SIZE",
    "TOOL_CALL_TOKENS",
    "TOOL_USE_TOKENS",
    "FakeUpstreamError",
    "UpstreamBehaviour",
    "anthropic_prompt_tokens",
    "chat_prompt_tokens",
    "chat_usage",
    "completion_prompt_tokens",
    "completion_usage",
    "count_words",
    "create_fake_upstream_app",
    "embedding_usage",
    "embedding_vector",
    "gemini_prompt_tokens",
    "parse_bearer",
    "parse_behaviour",
    "reply_length",
    "reply_text",
    "reply_words",
    "responses_usage",
    "run_fake_upstream",
    "stream_pieces",
]
