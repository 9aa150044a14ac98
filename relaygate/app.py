"""The application, assembled in one factory: `create_app(settings)`.

Relay routes are dispatched straight from a table (the hot path skips framework layers);
everything else (health, the management API under /api, the console at /) is a Starlette app behind it.
"""

from __future__ import annotations

import gc
import hmac
import itertools
import logging
import os
import re
from collections.abc import Awaitable

import orjson
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from relaygate.api.app import create_api
from relaygate.auth.credentials import Family
from relaygate.console.web import console_routes
from relaygate.errors import GatewayError, InvalidApiKey, MethodNotAllowed, NotFound
from relaygate.logs import configure_logging
from relaygate.logs import request_id as request_id_var
from relaygate.relay import billing_compat_routes, model_lists, realtime
from relaygate.relay.anthropic import routes as anthropic_routes
from relaygate.relay.asgi import Message, Receive, Scope, Send, send_bytes
from relaygate.relay.error_bodies import error_body
from relaygate.relay.gemini import routes as gemini_routes
from relaygate.relay.openai import media as openai_media
from relaygate.relay.openai import routes as openai_routes
from relaygate.relay.probe import probe_channel
from relaygate.relay.routing import RouteTable
from relaygate.relay.tasks import midjourney_routes, suno_routes
from relaygate.runtime import Runtime
from relaygate.settings import Settings, load_settings
from relaygate.store.redis import unreachable
from relaygate.store.saturation import database_busy

log = logging.getLogger(__name__)

# Unique across processes and restarts (a random prefix per process), and cheap per request.
_REQUEST_ID_PREFIX = os.urandom(10).hex()
_request_counter = itertools.count(1)
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FAILED = "The gateway failed on this request; try again."
API_PREFIX = "/api"


class Gateway:
    """The ASGI app: lifespan, request ids, relay dispatch, and the rest through Starlette."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.runtime: Runtime | None = None
        self.routes = RouteTable(
            [
                *openai_routes.ROUTES,
                *openai_media.ROUTES,
                *model_lists.ROUTES,
                *anthropic_routes.ROUTES,
                *gemini_routes.ROUTES,
                *midjourney_routes.ROUTES,
                *suno_routes.ROUTES,
                *billing_compat_routes.ROUTES,
            ]
        )
        self.api = create_api(lambda: self.rt)
        self.rest = _management_app(self)

    @property
    def rt(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the gateway has not started (lifespan startup did not run)")
        return self.runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket" and scope["path"] == realtime.PATH:
            await self._realtime(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.rest(scope, receive, send)
            return
        rid = _request_id(scope)
        request_id_var.set(rid)
        sent = _ResponseTracker(send, rid)
        route = self.routes.match(scope["method"], scope["path"])
        if route is None:
            family = self.routes.family_of_known_path(scope["path"])
            if family is None and _in_api(scope["path"]):
                # straight to the API, as its mount would, but for every path under /api: the
                # mount's pattern does not match a path with a newline in it
                await self.api({**scope, "root_path": scope.get("root_path", "") + API_PREFIX}, receive, sent)
            elif family is None:
                await self.rest(scope, receive, sent)
            else:
                message = f"{scope['method']} is not allowed on {scope['path']}: see the API reference."
                allow = {"Allow": self.routes.allowed_methods(scope["path"])}
                await _send_error(sent, family, MethodNotAllowed(message, headers=allow))
            return
        try:
            await route.handler(self.rt, scope, receive, sent, rid)
        except GatewayError as error:
            await _send_error(sent, route.family_for(scope), error)
        except SQLAlchemyError as exc:
            busy = database_busy(exc)
            if busy is None:
                log.exception("database error in relay route %s", scope["path"])
            await _send_error(sent, route.family_for(scope), busy or GatewayError(_FAILED))
        except Exception:
            log.exception("unhandled error in relay route %s", scope["path"])
            failure = GatewayError(_FAILED)
            await _send_error(sent, route.family_for(scope), failure)

    async def _realtime(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = _request_id(scope)
        request_id_var.set(rid)
        try:
            await realtime.realtime_session(self.rt, scope, receive, send, rid)
        except Exception:
            # uvicorn closes the connection with 1011; the log says why
            log.exception("unhandled error in the realtime session")
            raise

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.runtime = await Runtime.start(self.settings, probe_channel)
                except (SQLAlchemyError, OSError, ValueError) as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                settle_long_lived_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.runtime is not None:
                    await self.runtime.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _ResponseTracker:
    """Adds `X-Request-Id` to every response and remembers whether one has started."""

    def __init__(self, send: Send, request_id: str):
        self._send = send
        self._request_id = request_id.encode()
        self.started = False

    def __call__(self, message: Message) -> Awaitable[None]:
        # A plain function handing back the server's own send: no coroutine of its own per message.
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", self._request_id)]
        return self._send(message)


async def _send_error(send: _ResponseTracker, family: Family, error: GatewayError) -> None:
    if send.started:
        return  # a stream already began: all that can be done is to end it, which the relay did
    headers = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send_bytes(send, error.status, error_body(family, error), b"application/json", headers)


def settle_long_lived_objects() -> None:
    """Keep what import and startup made (some 150,000 objects: modules, schemas, caches) out of the
    collector's scans: a full collection over them stalls every request in flight for milliseconds.
    """
    gc.collect()
    gc.freeze()


def _in_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(candidate):
                return candidate
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter):012x}"


def _management_app(gateway: Gateway) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with gateway.rt.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, RuntimeError) as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        if gateway.rt.redis is not None and (failure := await unreachable(gateway.rt.redis)):
            return JSONResponse({"status": "unavailable", "reason": f"redis: {failure}"}, status_code=503)
        # This process's own quota counters: after a new Redis generation it refuses relay requests
        # until the warm-up is over, though its database and Redis answer.
        if unready := await gateway.rt.ledger.unready():
            return JSONResponse({"status": "unavailable", "reason": f"ledger: {unready}"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        rt = gateway.rt
        if not metrics_allowed(rt.settings.metrics_token, request.headers.get("authorization", "")):
            error = InvalidApiKey("GET /metrics needs 'Authorization: Bearer <RELAYGATE_METRICS_TOKEN>'.")
            return JSONResponse(_plain_error(error), status_code=401, headers={"WWW-Authenticate": "Bearer"})
        gauges = {"usage_records_pending": rt.ledger.pending_records()}
        return PlainTextResponse(rt.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: GatewayError = (
            MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
            if exc.status_code == 405
            else NotFound(f"There is no route {request.url.path}: check the URL (relay routes start with /v1).")
            if exc.status_code == 404
            else GatewayError(str(exc.detail))
        )
        error.status = exc.status_code
        return Response(
            orjson.dumps(_plain_error(error)),
            status_code=exc.status_code,
            media_type="application/json",
            headers=exc.headers,  # a 405's Allow
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Mount(API_PREFIX, app=gateway.api),
            *console_routes(),
        ],
        exception_handlers={HTTPException: http_error},
    )


def metrics_allowed(token: str, authorization: str) -> bool:
    """Open when no RELAYGATE_METRICS_TOKEN is set; otherwise only to `Bearer <token>` (compared in constant time)."""
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _plain_error(error: GatewayError) -> dict[str, object]:
    return {"error": {"message": error.message, "type": error.kind, "code": error.code, "param": None}}


def create_app(settings: Settings) -> Gateway:
    return Gateway(settings)


def create_app_from_environment() -> Gateway:
    """The app of one worker process of `relaygate serve --workers N` (settings from RELAYGATE_*)."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
