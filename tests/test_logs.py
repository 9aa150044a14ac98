"""Log records the gateway adjusts."""

from __future__ import annotations

import logging

from relaygate.logs import DenialResponseNotAnError


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", level, __file__, 1, message, None, None)


def test_a_refused_websocket_handshake_is_not_logged_as_an_error() -> None:
    refused = record(logging.ERROR, "ASGI callable returned without completing handshake.")
    assert DenialResponseNotAnError().filter(refused)
    assert (refused.levelno, refused.levelname) == (logging.INFO, "INFO")
    other = record(logging.ERROR, "Exception in ASGI application\n")
    assert DenialResponseNotAnError().filter(other)
    assert other.levelno == logging.ERROR
