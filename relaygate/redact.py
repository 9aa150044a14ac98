"""Credential-shaped text taken out of whatever leaves the gateway: log lines and upstream error text.

Providers echo what they were sent ("Incorrect API key provided: sk-..."), organisation ids and
request URLs with `?key=`; none of that may reach a client or a log file. One rule for both, so
that a shape recognised in one place is recognised everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# Shapes that are credentials wherever they appear: relay and access keys, provider keys (OpenAI,
# Anthropic sk-ant-..., Google AIza...), OpenAI organisation and project ids, bearer values, and
# the value of a key-like query parameter. `*` is in the class: providers echo keys half-masked.
_CREDENTIALS = re.compile(
    r"(?:\b(?:sk|ak|rk|pk)-[A-Za-z0-9_*\-]{12,}"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\borg-[A-Za-z0-9]{12,}"
    r"|\bproj_[A-Za-z0-9]{12,})"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=*\-]{8,}")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:key|api[_-]?key|access[_-]?token|token|secret)=)[^&\s\"'#]+")
# Upstream error text may also carry keys of no known shape: any long run of key characters that
# mixes letters and digits. Not applied to log lines, whose request ids have that shape.
_LONG_TOKEN = re.compile(r"\b(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b")

MIN_SECRET_LENGTH = 8  # shorter "keys" (test fixtures such as "fake") would redact ordinary words


def redact_log_text(text: str) -> str:
    """A log line without credentials of a known shape."""
    text = _CREDENTIALS.sub(REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    return _QUERY_SECRET.sub(r"\1" + REDACTED, text)


def redact_upstream_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Upstream error text fit for the client: without `secrets` (the channel's keys) and without
    anything shaped like a credential."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    return _LONG_TOKEN.sub(REDACTED, redact_log_text(text))


def redact_upstream_body(body: bytes, secrets: Iterable[str] = ()) -> bytes:
    """An upstream error body passed on to the client, scrubbed as `redact_upstream_text`.

    The replacement contains no quote or backslash, so a JSON body stays valid JSON."""
    text = body.decode("utf-8", errors="replace")
    cleaned = redact_upstream_text(text, secrets)
    return body if cleaned == text else cleaned.encode()
