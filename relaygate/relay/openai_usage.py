"""Usage in the OpenAI protocol: read from responses and streams, or counted when absent."""

from __future__ import annotations

from typing import Any

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_messages, count_prompt, count_text
from relaygate.relay.sse import event_json


def usage_from(data: Any) -> Usage | None:
    """The `usage` object of a response or stream chunk, if it has one."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
    details = _details(usage, "prompt_tokens_details", "input_tokens_details", "input_token_details")
    out_details = _details(usage, "completion_tokens_details", "output_tokens_details", "output_token_details")
    return Usage(
        prompt=prompt,
        completion=completion,
        cached=_int(details.get("cached_tokens")),
        audio_prompt=_int(details.get("audio_tokens")),
        audio_completion=_int(out_details.get("audio_tokens")),
    )


def _details(usage: dict[str, Any], *names: str) -> dict[str, Any]:
    """The first of the detail objects that the different OpenAI APIs name differently."""
    for name in names:
        value = usage.get(name)
        if isinstance(value, dict):
            return value
    return {}


def counted_prompt(request: dict[str, Any]) -> int:
    if "messages" in request:
        return count_messages(request["messages"])
    return count_prompt(request.get("prompt", request.get("input")))


def counted_usage(request: dict[str, Any], response: Any) -> Usage:
    """Usage counted locally from a whole response that reported none."""
    text = ""
    if isinstance(response, dict):
        for choice in response.get("choices") or ():
            if isinstance(choice, dict):
                text += _choice_text(choice.get("message") or choice)
    return Usage(prompt=counted_prompt(request), completion=count_text(text) if text else 0)


def counted_stream_usage(request: dict[str, Any], events: list[bytes]) -> Usage:
    """Usage counted locally from the stream events that reached us."""
    parts = []
    for event in events:
        data = event_json(event)
        for choice in (data or {}).get("choices") or ():  # type: ignore[attr-defined]
            if isinstance(choice, dict):
                parts.append(_choice_text(choice.get("delta") or choice))
    text = "".join(parts)
    return Usage(prompt=counted_prompt(request), completion=count_text(text) if text else 0)


def _choice_text(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    text = part.get("content") if "content" in part else part.get("text")
    pieces = [text] if isinstance(text, str) else []
    for call in part.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            pieces += [str(function.get("name") or ""), str(function.get("arguments") or "")]
    return "".join(pieces)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
