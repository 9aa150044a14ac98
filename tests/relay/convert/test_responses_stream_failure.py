"""A Responses stream the upstream breaks off ends as a failed response, converted or native.

The fake upstream resets the connection after a few events (`break-after=N`): the openai SDK's
`responses.create(stream=True)` ends with `response.failed` (status "failed", `error` {code,
message}, the usage billed), never with a chat-completions error chunk or a silent truncation.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.support.deployment import Deployment
from tests.support.keys import new_key, used
from tests.support.usage import records

BREAKING = {"openai": "breaking-gpt", "anthropic": "breaking-claude", "gemini": "breaking-gemini"}


@pytest.fixture
def gw(gateway: Deployment, fake_upstream: str) -> Deployment:
    for kind, model in BREAKING.items():
        gateway.cli("channel", "add", "--type", kind, "--base-url", fake_upstream, "--key", "fake;words=50;break-after=9",
                    "--models", model)  # fmt: skip
        gateway.cli("price", "set", model, "--input", "1", "--output", "10")
    gateway.runtime_poll()
    return gateway


def stream_events(gw: Deployment, key: str, model: str) -> list[Any]:
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        return list(sdk.responses.create(model=model, input="Say hello", stream=True))


@pytest.mark.parametrize("model", ["breaking-claude", "breaking-gemini", "breaking-gpt"])
def test_a_broken_responses_stream_ends_with_response_failed(gw: Deployment, model: str) -> None:
    key, token_id = new_key(gw)
    events = stream_events(gw, key, model)
    types = [event.type for event in events]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] == "response.failed"
    assert "response.completed" not in types
    assert [event.sequence_number for event in events] == list(range(len(events)))
    failed = events[-1].response
    assert failed.status == "failed"
    assert failed.id == events[0].response.id
    assert failed.error is not None
    assert failed.error.code == "server_error"
    assert "broke off" in failed.error.message
    [record] = records(gw, token_id)
    assert record["status_code"] == 200
    assert 0 < record["completion_tokens"] < 50  # what came before the break, not the 50-word answer
    assert failed.usage is not None
    assert (failed.usage.input_tokens, failed.usage.output_tokens) == (
        record["prompt_tokens"],
        record["completion_tokens"],
    )
    assert used(gw, token_id) == record["quota"] > 0
    assert gw.books()["balanced"]


@pytest.mark.parametrize("model", ["breaking-claude", "breaking-gemini"])
def test_a_converted_failure_keeps_the_text_written_so_far_as_an_incomplete_item(gw: Deployment, model: str) -> None:
    key, _ = new_key(gw)
    events = stream_events(gw, key, model)
    written = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    [item] = events[-1].response.output
    assert item.type == "message"
    assert item.status == "incomplete"
    assert [part.text for part in item.content] == [written]
