"""How `relaygate serve` runs uvicorn: one place for every option, so tests serve the same way."""

from __future__ import annotations

import functools
from typing import Any

from relaygate.edge.guard import EdgeGuard, EdgeLimits
from relaygate.edge.protocol import EdgeProtocol
from relaygate.settings import Settings

LINGER_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 30
WORKER_HEALTHCHECK_S = 30


def edge_limits(settings: Settings) -> EdgeLimits:
    return EdgeLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout,
        linger_timeout=LINGER_TIMEOUT_S,
        max_connections=settings.max_connections,
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`, without the app."""
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        # httptools, with the header limits and timeouts uvicorn lacks (a partial pickles, so each
        # worker process of `--workers N` gets its own guard).
        "http": functools.partial(EdgeProtocol, guard=EdgeGuard(edge_limits(settings))),
        "ws": "websockets-sansio",  # /v1/realtime
        "lifespan": "on",
        "access_log": False,  # request lines carry `?key=`: the gateway logs what it needs itself
        "log_config": None,
        "server_header": False,
        "proxy_headers": False,  # X-Forwarded-For is judged by RELAYGATE_TRUSTED_PROXIES in auth/client_ip.py
        "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        # With --workers N, uvicorn kills a worker that does not answer its healthcheck ping in time
        # (5 s by default): on a loaded machine a busy but healthy worker was killed mid-request.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }
