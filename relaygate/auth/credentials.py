"""Where a relay request carries its key (SPEC section 3), parsed in one place.

Each route family accepts `Authorization: Bearer` plus the header its official clients send.
Messages say what is wrong and how to fix it, and never repeat any part of the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum

from relaygate.errors import InvalidAuthorizationHeader, MissingApiKey

_KEY_CHARS = re.compile(r"[A-Za-z0-9._~+/=-]+")
_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."


class Family(Enum):
    """Route families, by the credential forms their clients use."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    MIDJOURNEY = "midjourney"
    SUNO = "suno"
    REALTIME = "realtime"


_ALTERNATES: dict[Family, tuple[str, ...]] = {
    Family.OPENAI: ("x-api-key",),  # Anthropic clients list models at /v1/models
    Family.ANTHROPIC: ("x-api-key",),
    Family.GEMINI: ("x-goog-api-key",),
    Family.MIDJOURNEY: ("mj-api-secret",),
    Family.SUNO: (),
    Family.REALTIME: (),
}


_CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key", b"x-goog-api-key", b"mj-api-secret"})


def refuse_repeated_credentials(header_names: Iterable[bytes]) -> None:
    """A credential header sent twice is refused: which of two keys a request means is not a guess
    the gateway makes (proxies and servers disagree on whether the first or the last wins)."""
    seen: set[bytes] = set()
    for name in header_names:
        if name in _CREDENTIAL_HEADERS:
            if name in seen:
                readable = name.decode("latin-1").title()
                raise InvalidAuthorizationHeader(
                    f"The request has more than one {readable} header: send exactly one, "
                    "'Authorization: Bearer YOUR_API_KEY'."
                )
            seen.add(name)


def extract_key(family: Family, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The relay key of a request, or a 401 that says what to send instead."""
    authorization = headers.get("authorization")
    if authorization is not None:
        return parse_bearer(authorization)
    for name in _ALTERNATES[family]:
        value = headers.get(name)
        if value is not None:
            return _plain_key(value, name)
    if family is Family.GEMINI and "key" in query:
        return _plain_key(query["key"], "the key query parameter")
    if family is Family.REALTIME:
        key = _subprotocol_key(headers.get("sec-websocket-protocol", ""))
        if key is not None:
            return key
    raise MissingApiKey(
        "No API key was sent. Add the header 'Authorization: Bearer YOUR_API_KEY' with a key from Token Management."
    )


def parse_bearer(value: str) -> str:
    """`Bearer <key>` exactly: one scheme, one space, one key."""
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidAuthorizationHeader(
            "The Authorization header must have the form 'Authorization: Bearer YOUR_API_KEY' "
            "(the word Bearer, one space, then the key)."
        )
    if not key:
        raise InvalidAuthorizationHeader(
            "The Authorization header has the Bearer scheme but no key: use 'Authorization: Bearer YOUR_API_KEY'."
        )
    if not _KEY_CHARS.fullmatch(key):
        raise InvalidAuthorizationHeader(
            "The Authorization header has extra spaces or characters around the key: "
            "send exactly 'Authorization: Bearer YOUR_API_KEY'."
        )
    return key


def _plain_key(value: str, where: str) -> str:
    if not _KEY_CHARS.fullmatch(value):
        raise InvalidAuthorizationHeader(
            f"The API key in {where} is empty or has spaces or other characters: send the key alone."
        )
    return value


def _subprotocol_key(value: str) -> str | None:
    for protocol in value.split(","):
        protocol = protocol.strip()
        if protocol.startswith(_SUBPROTOCOL_PREFIX):
            return _plain_key(protocol[len(_SUBPROTOCOL_PREFIX) :], "the WebSocket subprotocol")
    return None
