"""JSON logs, one object a line, each with the request id of the request it belongs to."""

from __future__ import annotations

import contextvars
import logging
import sys
import time

import orjson

from relaygate.redact import redact_log_text

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # last, over the whole line: a secret is caught in the message, its arguments, extras or a traceback
        return redact_log_text(orjson.dumps(entry, default=str).decode())


class DenialResponseNotAnError(logging.Filter):
    """uvicorn's websockets-sansio protocol logs "ASGI callable returned without completing handshake."
    as an error after every denial response (`websocket.http.response.*`, which the ASGI spec allows);
    the gateway sends one for each refused Realtime session, so it is logged at info level instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and record.msg == "ASGI callable returned without completing handshake.":
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "WebSocket handshake refused with an HTTP error response"
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").addFilter(DenialResponseNotAnError())
    logging.getLogger("alembic").setLevel(logging.WARNING)
