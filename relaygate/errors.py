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

    def __init_subclass__(cls, status: int = 0, code: str = "", kind: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.code = code or cls.code
        cls.kind = kind or cls.kind


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"
    kind = "invalid_request_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message, param=param)
        if code:
            self.code = code


class MissingApiKey(GatewayError, status=401, code="missing_api_key", kind="invalid_request_error"):
    pass


class InvalidAuthorizationHeader(
    GatewayError, status=401, code="invalid_authorization_header", kind="invalid_request_error"
):
    pass


class InvalidApiKey(GatewayError, status=401, code="invalid_api_key", kind="invalid_request_error"):
    pass


class TokenDisabled(GatewayError, status=401, code="token_disabled", kind="invalid_request_error"):
    pass


class TokenExpired(GatewayError, status=401, code="token_expired", kind="invalid_request_error"):
    pass


class AccountDisabled(GatewayError, status=403, code="account_disabled", kind="permission_error"):
    pass


class ModelNotAllowed(GatewayError, status=403, code="model_not_allowed", kind="permission_error"):
    pass


class IpNotAllowed(GatewayError, status=403, code="ip_not_allowed", kind="permission_error"):
    pass


class GroupNotAllowed(GatewayError, status=403, code="group_not_allowed", kind="permission_error"):
    pass


class NotFound(GatewayError, status=404, code="not_found", kind="invalid_request_error"):
    pass


class MethodNotAllowed(GatewayError, status=405, code="method_not_allowed", kind="invalid_request_error"):
    pass


class BodyTooLarge(GatewayError, status=413, code="request_too_large", kind="invalid_request_error"):
    pass


class QuotaRefused(GatewayError, status=429, kind="insufficient_quota"):
    """A hold the token's quota or the owner's balance cannot cover; `available` is what they could cover."""

    available = 0


class TokenQuotaExceeded(QuotaRefused, code="token_quota_exceeded"):
    pass


class InsufficientBalance(QuotaRefused, code="insufficient_balance"):
    pass


class RateLimitExceeded(GatewayError, status=429, code="rate_limit_exceeded", kind="requests"):
    pass


class ModelNotFound(GatewayError, status=404, code="model_not_found", kind="invalid_request_error"):
    """No channel of any group the caller may use serves the model (a client should not retry)."""


class ModelNotAvailable(GatewayError, status=503, code="model_not_available", kind="server_error"):
    pass


class ModelNotPriced(GatewayError, status=503, code="model_not_priced", kind="server_error"):
    pass


class ServiceUnavailable(GatewayError, status=503, code="service_unavailable", kind="server_error"):
    pass


class UpstreamUnreachable(GatewayError, status=502, code="upstream_unreachable", kind="server_error"):
    pass


class ClientGone(GatewayError, status=499, code="client_closed_request", kind="invalid_request_error"):
    """The client disconnected before its answer: nothing can be sent, nothing is billed."""


class UpstreamBrokeOff(GatewayError, status=502, code="upstream_stream_broken", kind="server_error"):
    """The upstream broke off a stream already under way: it ends with the protocol's error event."""


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


class InvalidValue(ValueError):
    """A value a domain rule refuses; `field` names the input it came from, when there is one.

    A ValueError, so the CLI reports it like any other bad input; the REST API answers 422 with `fields`.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class Unauthenticated(GatewayError, status=401, code="unauthenticated", kind="authentication_error"):
    pass


class InvalidCredentials(GatewayError, status=401, code="invalid_credentials", kind="authentication_error"):
    pass


class InvalidAccessKey(GatewayError, status=401, code="invalid_access_key", kind="authentication_error"):
    pass


class Forbidden(GatewayError, status=403, code="forbidden", kind="permission_error"):
    pass


class CsrfFailed(GatewayError, status=403, code="csrf_failed", kind="permission_error"):
    pass


class RegistrationClosed(GatewayError, status=403, code="registration_closed", kind="permission_error"):
    pass


class KeyNotAvailable(GatewayError, status=410, code="key_not_available", kind="invalid_request_error"):
    """The full key was revealed once already, or its time to be revealed passed: only its hash is kept."""


class AlreadyRedeemed(GatewayError, status=409, code="already_redeemed", kind="invalid_request_error"):
    pass


class CodeExpired(GatewayError, status=409, code="code_expired", kind="invalid_request_error"):
    pass


class TooManyAttempts(GatewayError, status=429, code="too_many_attempts", kind="requests"):
    pass
