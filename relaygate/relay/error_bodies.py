"""Errors rendered in the protocol of the route, so each official SDK raises its own typed error."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.errors import GatewayError

_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(family: Family, error: GatewayError) -> bytes:
    if family is Family.ANTHROPIC:
        kind = _ANTHROPIC_TYPE.get(error.status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": error.message}})
    if family is Family.GEMINI:
        status = _GOOGLE_STATUS.get(error.status, "INTERNAL")
        return orjson.dumps({"error": {"code": error.status, "message": error.message, "status": status}})
    if family is Family.MIDJOURNEY:
        return orjson.dumps({"code": error.status, "description": error.message})
    if family is Family.SUNO:  # as new-api answers its Suno routes
        return orjson.dumps({"code": error.code, "message": error.message, "data": None})
    return orjson.dumps(
        {"error": {"message": error.message, "type": error.kind, "code": error.code, "param": error.param}}
    )


def stream_error_event(family: Family, error: GatewayError) -> bytes:
    """The SSE event that ends a stream with `error`, in the shape the family's SDKs raise on."""
    body = error_body(family, error)
    if family is Family.ANTHROPIC:
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


def failed_response(response: dict[str, Any], error: GatewayError) -> dict[str, Any]:
    """A Responses API response object as a failure ends it (in `response.failed`): status "failed",
    `error` {code, message}, with the code among OpenAI's ("server_error" for the gateway's 5xx)."""
    code = "server_error" if error.status >= 500 else error.code
    return {
        **response,
        "status": "failed",
        "incomplete_details": None,
        "error": {"code": code, "message": error.message},
    }
