"""Every error under /api as `{"error": {"code", "message", "fields"}}`, with the status it carries.

Domain errors (the GatewayError hierarchy, NotFoundError, ConflictError, InvalidValue), request
validation by the framework, unknown routes and wrong methods all end here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

from relaygate.errors import ConflictError, GatewayError, InvalidValue, NotFoundError
from relaygate.store.saturation import database_busy

log = logging.getLogger(__name__)

_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(description="the request fields at fault, each with what is wrong with it")


class ErrorBody(BaseModel):
    error: ErrorDetail


# What any operation may answer besides its success, declared in /api/openapi.json for every one:
# each is a possible outcome of the layers every request passes (body limits and the JSON guard,
# authentication and CSRF, validation, the login throttle, a busy database).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The body is not valid JSON, or nests too deep",
        401: "No valid session or access key",
        403: "Not allowed for this caller, or the CSRF token is missing",
        404: "No such object (or another user's)",
        409: "Conflicts with the current state",
        413: "The body is larger than the management API's limit",
        422: "A field is not valid; `fields` names it",
        429: "Too many attempts or requests; see Retry-After",
        503: "The database is out of connections; see Retry-After",
    }.items()
}


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(api: FastAPI) -> None:
    handlers: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
        GatewayError: _gateway_error,
        NotFoundError: _not_found,
        ConflictError: _conflict,
        InvalidValue: _invalid_value,
        RequestValidationError: _validation_failed,
        HTTPException: _http_error,
        SQLAlchemyError: _database_error,
        Exception: _internal_error,
    }
    for kind, handler in handlers.items():
        api.add_exception_handler(kind, handler)


async def _gateway_error(request: Request, exc: GatewayError) -> Response:
    fields = {exc.param: exc.message} if exc.param else {}
    return error_response(exc.status, exc.code, exc.message, fields, exc.headers)


async def _not_found(request: Request, exc: NotFoundError) -> Response:
    return error_response(404, "not_found", _sentence(str(exc)))


async def _conflict(request: Request, exc: ConflictError) -> Response:
    return error_response(409, "conflict", _sentence(str(exc)))


async def _invalid_value(request: Request, exc: InvalidValue) -> Response:
    message = _sentence(str(exc))
    return error_response(422, "invalid_value", message, {exc.field: message} if exc.field else {})


async def _validation_failed(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "invalid_json", "The request body is not valid JSON.")
    fields = {_field_name(error["loc"]): str(error["msg"]) for error in errors}
    summary = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return error_response(422, "validation_failed", f"Some fields are not valid: {summary}.", fields)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        message = f"There is no route {request.method} {request.url.path}: see /api/openapi.json for the routes."
        return error_response(404, "not_found", message)
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
        return error_response(405, "method_not_allowed", message, headers={"Allow": _allowed_methods(request)})
    if exc.status_code == 413:
        return error_response(413, "request_too_large", str(exc.detail))
    return error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)


async def _database_error(request: Request, exc: SQLAlchemyError) -> Response:
    busy = database_busy(exc)
    if busy is None:
        return await _internal_error(request, exc)
    return error_response(busy.status, busy.code, busy.message, headers=busy.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "The gateway failed on this request; try again.")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, from the OpenAPI document (the framework
    names only those of the first route that matches the path)."""
    path = request.scope["path"][len(request.scope.get("root_path", "")) :]
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].fullmatch(path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
