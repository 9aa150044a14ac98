"""Serving the console: its shell at `/` and its files under `/console/`, each with the security headers.

The console is static: every page is drawn in the browser from the management API's answers, so
this module serves files and nothing else: no queries, no templates, no second set of permissions.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere, so the policy can forbid both; the console calls only its own origin.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and `Cache-Control: no-cache`) to every response of the wrapped app."""

    def __init__(self, app: StaticFiles):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_encoded_headers()]
            await send(message)

        await self.app(scope, receive, with_headers)


def _encoded_headers() -> list[tuple[bytes, bytes]]:
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache"}
    return [(name.encode(), value.encode()) for name, value in headers.items()]


async def shell(request: Request) -> Response:
    """The one HTML page; the client-side router (`#/tokens`, ...) picks what to draw."""
    return FileResponse(STATIC / "index.html", headers={**SECURITY_HEADERS, "cache-control": "no-cache"})


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", shell, methods=["GET", "HEAD"]),
        Mount("/console", app=SecurityHeaders(StaticFiles(directory=STATIC)), name="console"),
    ]
