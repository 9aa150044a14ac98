"""The hold's prompt bound reads every protocol's request shape, and is never below the real count."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaygate.billing.estimate import IMAGE_TOKEN_BOUND, prompt_token_bound, requested_output_tokens
from relaygate.billing.tokencount import count_messages, count_text
from relaygate.errors import BadRequest

TEXT = "x" * 300


def test_every_string_and_key_counts_its_bytes() -> None:
    messages = {"messages": [{"role": "user", "content": TEXT}]}
    alone = prompt_token_bound(messages)
    assert alone == len("messages") + len("role") + len("user") + len("content") + 300
    assert prompt_token_bound({**messages, "system": TEXT}) == alone + len("system") + 300
    assert prompt_token_bound({"messages": [{"role": "user", "content": "中文"}]}) == 8 + 4 + 4 + 7 + 6  # UTF-8 bytes


def test_a_body_without_media_is_bounded_by_no_more_than_its_raw_length() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": TEXT, "name": "名前"}], "n": 1, "stream": False}
    bound = prompt_token_bound(body)
    assert bound == 5 + 1 + 8 + 4 + 4 + 7 + 300 + 4 + 6 + 1 + 1 + 6 + 1  # keys and strings in UTF-8 bytes, 1 a number
    assert bound <= len(orjson.dumps(body))


def test_images_and_inline_media_count_their_bound_not_their_base64() -> None:
    image = {"inlineData": {"mimeType": "image/png", "data": "A" * 300_000}}
    body = {"contents": [{"parts": [image]}]}
    assert prompt_token_bound(body) == len("contents") + len("parts") + IMAGE_TOKEN_BOUND
    audio = {"inlineData": {"mimeType": "audio/wav", "data": "A" * 300_000}}
    assert prompt_token_bound({"parts": [audio]}) == len("parts") + 3_001
    url = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert prompt_token_bound({"messages": [{"role": "user", "content": [url]}]}) >= IMAGE_TOKEN_BOUND


def test_a_type_that_is_not_a_string_is_no_media_part() -> None:
    schema = {"type": ["string", "null"], "items": {"type": {"nested": "object"}}}
    assert prompt_token_bound({"image": "x", "schema": schema}) == 5 + 1 + 6 + 4 + 6 + 4 + 5 + 4 + 6 + 6


def test_a_deeply_nested_body_is_bounded_without_recursion() -> None:
    body: object = "x"
    for _ in range(100_000):
        body = [body]
    assert prompt_token_bound({"messages": body}) == len("messages") + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=200), min_size=1, max_size=6))
def test_the_bound_is_at_least_the_local_token_count(texts: list[str]) -> None:
    messages = [{"role": "user", "content": text} for text in texts]
    assert prompt_token_bound({"messages": messages}) >= count_messages(messages)
    assert prompt_token_bound({"messages": messages}) >= sum(count_text(text) for text in texts)


def test_output_limit_of_each_protocol() -> None:
    assert requested_output_tokens({"max_tokens": 7}) == 7
    assert requested_output_tokens({"max_completion_tokens": 5, "max_tokens": 7}) == 5
    assert requested_output_tokens({"max_output_tokens": 8}) == 8
    assert requested_output_tokens({"generationConfig": {"maxOutputTokens": 9}}) == 9
    assert requested_output_tokens({"generation_config": {"max_output_tokens": 10}}) == 10
    assert requested_output_tokens({"generationConfig": {"temperature": 0.5}}) is None
    assert requested_output_tokens({"max_response_output_tokens": "inf"}) is None
    assert requested_output_tokens({}) is None
    assert requested_output_tokens({"max_tokens": None}) is None


@pytest.mark.parametrize("value", [-1, 0, "100", 1.5, True])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused(value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        requested_output_tokens({"max_tokens": value})
    assert caught.value.param == "max_tokens"
