"""Usage in the OpenAI protocol: read from responses and streams, or counted when absent."""

from __future__ import annotations

from typing import Any

from relaygate.billing.charge import Usage, implausible
from relaygate.billing.tokencount import count_messages, count_prompt, count_text


def usage_from(data: Any) -> Usage | None:
    """The `usage` object of a response or stream chunk, if it has one that can be believed."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    raw_prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    raw_completion = usage.get("completion_tokens", usage.get("output_tokens"))
    if implausible(raw_prompt, raw_completion):
        return None
    prompt = _int(raw_prompt)
    completion = _int(raw_completion)
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
                text += choice_text(choice.get("message") or choice)
    return Usage(prompt=counted_prompt(request), completion=count_text(text) if text else 0)


def choice_text(part: Any) -> str:
    """The output text of a message or delta: content (or legacy text), reasoning, tool calls."""
    if not isinstance(part, dict):
        return ""
    text = part.get("content") if "content" in part else part.get("text")
    pieces = [text] if isinstance(text, str) else []
    reasoning = part.get("reasoning_content") or part.get("reasoning")
    if isinstance(reasoning, str):
        pieces.append(reasoning)
    for call in part.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            pieces += [str(function.get("name") or ""), str(function.get("arguments") or "")]
    return "".join(pieces)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
