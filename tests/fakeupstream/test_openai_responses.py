"""The fake upstream's Responses API through the official openai SDK: text, function calls, structured output."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from relaygate.fakeupstream import TOOL_CALL_TOKENS, responses_usage
from tests.support import responses

QUESTION = "Say hello to the test"
WEATHER: Any = {**responses.WEATHER, "strict": True}
CITY: Any = {
    "type": "json_schema",
    "name": "city",
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"],
        "additionalProperties": False,
    },
    "strict": True,
}


def sdk(url: str, key: str = "fake") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=url + "/v1", max_retries=0)


def test_a_plain_response_has_the_documented_usage(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        reply = client.responses.create(model="gpt-4o-mini", input=QUESTION, max_output_tokens=5)
    assert reply.output_text == "fake reply word token fake"
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == responses_usage({"input": QUESTION}, 5) == (5, 5)


@pytest.mark.parametrize("choice", ["required", {"type": "function", "name": "get_weather"}])
def test_a_forced_function_is_called_with_arguments_following_its_parameters(fake_upstream: str, choice: Any) -> None:
    with sdk(fake_upstream) as client:
        reply = client.responses.create(model="gpt-4o-mini", input=QUESTION, tools=[WEATHER], tool_choice=choice)
    [item] = reply.output
    assert item.type == "function_call"
    assert (item.name, json.loads(item.arguments), item.status) == ("get_weather", {"city": "fake"}, "completed")
    assert item.call_id.startswith("call_fake")
    assert reply.output_text == ""
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (5, TOOL_CALL_TOKENS)


def test_tools_without_a_forced_choice_get_text_unless_the_key_says_call_tools(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        plain = client.responses.create(model="gpt-4o-mini", input=QUESTION, tools=[WEATHER])
    with sdk(fake_upstream, "fake;call-tools") as client:
        called = client.responses.create(model="gpt-4o-mini", input=QUESTION, tools=[WEATHER])
    assert [item.type for item in plain.output] == ["message"]
    assert [item.type for item in called.output] == ["function_call"]


def test_a_streamed_function_call_sends_its_argument_deltas(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        events = list(
            client.responses.create(
                model="gpt-4o-mini", input=QUESTION, tools=[WEATHER], tool_choice="required", stream=True
            )
        )
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    added, delta, done = events[2], events[3], events[4]
    assert added.type == "response.output_item.added"
    assert added.item.type == "function_call"
    assert (added.item.name, added.item.arguments, added.item.status) == ("get_weather", "", "in_progress")
    assert delta.type == "response.function_call_arguments.delta"
    assert done.type == "response.function_call_arguments.done"
    assert delta.item_id == done.item_id == added.item.id
    assert json.loads(delta.delta) == json.loads(done.arguments) == {"city": "fake"}
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.usage is not None
    assert final.response.usage.output_tokens == TOOL_CALL_TOKENS


@pytest.mark.parametrize("stream", [False, True])
def test_a_json_schema_text_format_is_answered_with_json_following_it(fake_upstream: str, stream: bool) -> None:
    with sdk(fake_upstream) as client:
        if stream:
            events = list(
                client.responses.create(model="gpt-4o-mini", input=QUESTION, text={"format": CITY}, stream=True)
            )
            deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
            final = events[-1]
            assert final.type == "response.completed"
            reply = final.response
            assert deltas == [reply.output_text]
        else:
            reply = client.responses.create(model="gpt-4o-mini", input=QUESTION, text={"format": CITY})
    assert json.loads(reply.output_text) == {"name": "fake", "population": 1}
    assert reply.usage is not None
    assert reply.usage.output_tokens == len(reply.output_text.split())


def test_a_json_object_text_format_is_answered_with_a_json_object(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        reply = client.responses.create(
            model="gpt-4o-mini", input="Answer in JSON", text={"format": {"type": "json_object"}}
        )
    assert json.loads(reply.output_text) == {"reply": "fake reply word"}


class City(BaseModel):
    name: str
    population: int


def test_the_sdk_parses_a_structured_answer(fake_upstream: str) -> None:
    with sdk(fake_upstream) as client:
        reply = client.responses.parse(model="gpt-4o-mini", input=QUESTION, text_format=City)
    assert reply.output_parsed == City(name="fake", population=1)
