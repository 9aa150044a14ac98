"""The one internal representation every chat protocol converts through.

A client request in protocol X is parsed into a `ChatRequest` (`X_in`), rendered in the channel's
protocol Y (`Y_out`); the answer comes back through `Y_in` into a `ChatResponse` (or, streamed,
into `StreamDelta`s) and is rendered for the client by `X_out`. With three protocols that is six
modules for all six directions, and no protocol module knows another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from relaygate.billing.charge import Usage

StopReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Image:
    """An image given inline (`data`, base64, with its media type) or by `url`."""

    media_type: str = ""
    data: str = ""
    url: str = ""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON object, as text


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str  # Gemini needs the function's name with its result; the others find it by id
    content: str
    is_error: bool = False


Part = Text | Image | ToolCall | ToolResult


@dataclass
class Message:
    role: Literal["user", "assistant"]
    parts: list[Part] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


ToolChoice = Literal["auto", "none", "required"] | str  # any other string names the one tool to call


@dataclass(frozen=True)
class ResponseFormat:
    """Structured output: a JSON object, following `schema` (JSON Schema) when one is given."""

    schema: dict[str, Any] | None = None
    name: str = ""


@dataclass
class ChatRequest:
    messages: list[Message]
    system: str = ""
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False  # an OpenAI client asked for the usage chunk of a stream
    parallel_tool_calls: bool | None = None  # False: at most one tool call per answer
    user: str = ""  # the client's id of its end user, passed on for the provider's abuse checks
    response_format: ResponseFormat | None = None


@dataclass
class ChatResponse:
    id: str
    parts: list[Part]
    stop: StopReason
    usage: Usage


@dataclass(frozen=True)
class Start:
    """The answer begins; Anthropic reports the prompt's usage here."""

    id: str
    usage: Usage | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallStart:
    index: int  # the call's position among this answer's tool calls
    id: str
    name: str


@dataclass(frozen=True)
class ToolArgumentsDelta:
    index: int
    fragment: str


@dataclass(frozen=True)
class Finish:
    stop: StopReason


@dataclass(frozen=True)
class UsageReport:
    """The usage so far (cumulative: a later report replaces an earlier one)."""

    usage: Usage


StreamDelta = Start | TextDelta | ToolCallStart | ToolArgumentsDelta | Finish | UsageReport


def stop_with_calls(stop: StopReason, calls: bool) -> StopReason:
    """An answer that calls a tool stops for the call, whatever the upstream said ("stop" from some
    OpenAI-compatible servers): an agent loop runs the tool only when the stop says so."""
    return "tool_calls" if calls and stop == "stop" else stop


def tool_names_by_id(messages: list[Message]) -> dict[str, str]:
    """The function name of each tool call in a conversation, for results that carry only the id."""
    return {part.id: part.name for message in messages for part in message.parts if isinstance(part, ToolCall)}


def parse_data_url(url: str) -> Image:
    """An image from a URL: inline when it is a base64 `data:` URL, else by reference."""
    if url.startswith("data:") and ";base64," in url:
        head, _, data = url[5:].partition(";base64,")
        return Image(media_type=head or "application/octet-stream", data=data)
    return Image(url=url)


def data_url(image: Image) -> str:
    return f"data:{image.media_type};base64,{image.data}" if image.data else image.url


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one in place of anything else."""
    return value if isinstance(value, dict) else {}
