"""The one exception hierarchy: every error carries its HTTP status and error code.

Each face renders these in its own protocol (see `relay/error_bodies.py`); no code below the faces
knows about response shapes.
"""

from __future__ import annotations


class GatewayError(Exception):
    """An error a client should see, with the status and code of SPEC section 3."""

    status = 500
    code = "internal_error"
    kind = "server_error"

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


def _error(name: str, status: int, code: str, kind: str) -> type[GatewayError]:
    return type(name, (GatewayError,), {"status": status, "code": code, "kind": kind})


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"
    kind = "invalid_request_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message, param=param)
        if code:
            self.code = code


MissingApiKey = _error("MissingApiKey", 401, "missing_api_key", "invalid_request_error")
InvalidAuthorizationHeader = _error(
    "InvalidAuthorizationHeader", 401, "invalid_authorization_header", "invalid_request_error"
)
InvalidApiKey = _error("InvalidApiKey", 401, "invalid_api_key", "invalid_request_error")
TokenDisabled = _error("TokenDisabled", 401, "token_disabled", "invalid_request_error")
TokenExpired = _error("TokenExpired", 401, "token_expired", "invalid_request_error")
AccountDisabled = _error("AccountDisabled", 403, "account_disabled", "permission_error")
ModelNotAllowed = _error("ModelNotAllowed", 403, "model_not_allowed", "permission_error")
IpNotAllowed = _error("IpNotAllowed", 403, "ip_not_allowed", "permission_error")
NotFound = _error("NotFound", 404, "not_found", "invalid_request_error")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed", "invalid_request_error")
BodyTooLarge = _error("BodyTooLarge", 413, "request_too_large", "invalid_request_error")
TokenQuotaExceeded = _error("TokenQuotaExceeded", 429, "token_quota_exceeded", "insufficient_quota")
InsufficientBalance = _error("InsufficientBalance", 429, "insufficient_balance", "insufficient_quota")
RateLimitExceeded = _error("RateLimitExceeded", 429, "rate_limit_exceeded", "requests")
ModelNotAvailable = _error("ModelNotAvailable", 503, "model_not_available", "server_error")
ModelNotPriced = _error("ModelNotPriced", 503, "model_not_priced", "server_error")
ServiceUnavailable = _error("ServiceUnavailable", 503, "service_unavailable", "server_error")
UpstreamUnreachable = _error("UpstreamUnreachable", 502, "upstream_unreachable", "server_error")


class UpstreamError(GatewayError):
    """The upstream answered with an error after every retry; its status is passed on."""

    code = "upstream_error"
    kind = "upstream_error"

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        if code:
            self.code = code


class NotFoundError(Exception):
    """A domain object (user, token, channel) that does not exist; faces map it to 404 or a CLI error."""


class ConflictError(Exception):
    """A domain rule refused a change (duplicate name, ...); faces map it to 409 or a CLI error."""
