"""The management API as one FastAPI application, mounted at /api by `relaygate.app`.

FastAPI gives request validation and the OpenAPI document (/api/openapi.json) from the same
pydantic models the routes use, so the document cannot drift from what the routes do.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from relaygate.api import access_keys, audit, auth, channels, me, prices, redemptions, tokens, usage, users
from relaygate.api.body_limit import BodyLimit
from relaygate.api.errors import ERROR_RESPONSES, install_error_handlers
from relaygate.api.json_guard import JsonDepthGuard
from relaygate.api.no_store import NoStore
from relaygate.runtime import Runtime

ROUTERS = (
    auth.router,
    me.router,
    access_keys.router,
    tokens.router,
    users.router,
    channels.router,
    prices.router,
    redemptions.router,
    usage.router,
    audit.router,
)


def create_api(runtime: Callable[[], Runtime]) -> FastAPI:
    """The API app; `runtime` returns the running gateway's Runtime (it exists only after startup)."""
    api = FastAPI(
        title="relaygate management API",
        version="1",
        description="Users, tokens, channels, prices, groups, redemption codes, usage and audit. "
        "Authenticate with the session cookie from POST /auth/login (and X-CSRF-Token on writes) "
        "or with 'Authorization: Bearer ak-...'.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    api.state.runtime = runtime
    install_error_handlers(api)
    api.add_middleware(JsonDepthGuard)
    api.add_middleware(BodyLimit)
    api.add_middleware(
        NoStore
    )  # added last, so it runs first: even a 413 is not cached; the guard reads a bounded body
    for router in ROUTERS:
        api.include_router(router)
    return api
