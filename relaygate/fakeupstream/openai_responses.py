"""The OpenAI Responses API of the fake upstream: `POST /v1/responses`, whole or streamed.

Counting rules (a contract, like those in `behaviour`): the input costs the words of
`instructions` plus the words of the input text (a string, or each input item's text content);
the reply is the usual fake reply, cut to `max_output_tokens`; the `cached=N` key flag reports N
input tokens (at most all of them) as cached.

As the chat protocol does (`openai`), a request that forces a function tool (`tool_choice`
"required" or `{"type": "function", "name": ...}`), or has tools under the `call-tools` flag, is
answered with one `function_call` item instead, its arguments following the tool's parameters,
costing `TOOL_CALL_TOKENS`; a `text.format` of `json_schema` or `json_object` is answered with JSON
text (`sample_json` of the schema) costing its words, uncut.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from relaygate.fakeupstream.admission import FakeUpstream, JSONObject, json_answer, stream_events
from relaygate.fakeupstream.behaviour import (
    UpstreamBehaviour,
    count_words,
    invalid_request,
    message_text,
    reply_length,
    reply_text,
    sample_json,
    stream_pieces,
)
from relaygate.fakeupstream.openai import OPENAI, TOOL_CALL_TOKENS, called_tool, json_answer_text, tool_parameters


def responses_input_tokens(request: Mapping[str, Any]) -> int:
    """Input tokens of a Responses request: the words of the instructions and of every input text."""
    instructions = request.get("instructions")
    total = count_words(instructions) if isinstance(instructions, str) else 0
    items = request.get("input")
    if isinstance(items, str):
        return total + count_words(items)
    if not isinstance(items, list) or not items:
        raise invalid_request("'input' must be a string or a non-empty array of input items", param="input")
    return total + sum(count_words(message_text(item)) for item in items)


def responses_usage(request: Mapping[str, Any], words: int) -> tuple[int, int]:
    """(input_tokens, output_tokens) of a Responses request."""
    return responses_input_tokens(request), _reply_words(request, words)


def _reply_words(request: Mapping[str, Any], words: int) -> int:
    return reply_length({"max_tokens": request.get("max_output_tokens")}, words)[0]


class ResponsesAnswers:
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    async def answer(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.StreamResponse:
        input_tokens, words = responses_usage(body, behaviour.words)
        response_id = self.upstream.next_id("resp")
        tool = called_tool(body, behaviour)
        answer = json_answer_text(text_format(body))
        pieces: tuple[str, ...] = ()
        if tool is not None:
            arguments = orjson.dumps(sample_json(tool_parameters(body, tool))).decode()
            call_id = self.upstream.next_id("call_fake")
            item, words = function_call_item(self.upstream.next_id("fc"), call_id, tool, arguments), TOOL_CALL_TOKENS
        elif answer is not None:
            item, words, pieces = message_item(self.upstream.next_id("msg"), answer), count_words(answer), (answer,)
        else:
            item, pieces = message_item(self.upstream.next_id("msg"), reply_text(words)), stream_pieces(words)
        usage = None if behaviour.no_usage else usage_object(input_tokens, words, behaviour.cached)
        done = response_object(response_id, body, "completed", [item], usage)
        if body.get("stream") is not True:
            return json_answer(done)
        return await stream_events(request, stream_event_list(body, done, pieces), behaviour)


def text_format(body: JSONObject) -> object:
    """The request's `text.format`: the structured output it asks for, if any."""
    text = body.get("text")
    return text.get("format") if isinstance(text, dict) else None


def add_responses_routes(app: web.Application, upstream: FakeUpstream) -> None:
    app.router.add_post("/v1/responses", upstream.endpoint(ResponsesAnswers(upstream).answer, OPENAI))


def usage_object(input_tokens: int, output_tokens: int, cached: int) -> JSONObject:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": min(cached, input_tokens)},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def message_item(message_id: str, text: str, status: str = "completed") -> JSONObject:
    content = [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []
    return {"type": "message", "id": message_id, "status": status, "role": "assistant", "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> JSONObject:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_object(
    response_id: str, body: JSONObject, status: str, output: list[JSONObject], usage: JSONObject | None
) -> JSONObject:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "text": {"format": text_format(body) or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "usage": usage,
    }


def stream_event_list(body: JSONObject, done: JSONObject, pieces: tuple[str, ...]) -> list[bytes]:
    """The events of a streamed response, as OpenAI sends them: created, the item's deltas, completed.

    A message's text comes in `pieces` (a word each, or a JSON answer whole), a function call's
    arguments in one `response.function_call_arguments.delta`.
    """
    started = response_object(done["id"], body, "in_progress", [], None)
    [item] = done["output"]
    events: list[JSONObject] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        *(function_call_events(item) if item["type"] == "function_call" else message_events(item, pieces)),
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    return [
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps({**event, "sequence_number": number}) + b"\n\n"
        for number, event in enumerate(events)
    ]


def message_events(item: JSONObject, pieces: tuple[str, ...]) -> list[JSONObject]:
    text = item["content"][0]["text"]
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    return [
        {"type": "response.output_item.added", "output_index": 0, "item": message_item(item["id"], "", "in_progress")},
        {"type": "response.content_part.added", **where, "part": part},
        *({"type": "response.output_text.delta", **where, "delta": piece} for piece in pieces),
        {"type": "response.output_text.done", **where, "text": text},
        {"type": "response.content_part.done", **where, "part": {**part, "text": text}},
    ]


def function_call_events(item: JSONObject) -> list[JSONObject]:
    where = {"item_id": item["id"], "output_index": 0}
    started = item | {"arguments": "", "status": "in_progress"}
    return [
        {"type": "response.output_item.added", "output_index": 0, "item": started},
        {"type": "response.function_call_arguments.delta", **where, "delta": item["arguments"]},
        {"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]},
    ]
