"""Relay token keys: `sk-` + 48 base62 characters from a CSPRNG; only a hash and a hint are kept."""

from __future__ import annotations

import hashlib
import secrets
import string

PREFIX = "sk-"
SECRET_LENGTH = 48
ALPHABET = string.digits + string.ascii_letters


def generate_key() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


def secret_part(key: str) -> str:
    """The key without its optional `sk-` prefix: clients may send either form."""
    return key[len(PREFIX) :] if key.startswith(PREFIX) else key


def hash_key(key: str) -> str:
    """The stored lookup hash. The secret has 285 bits of entropy, so a plain SHA-256 is enough."""
    return hashlib.sha256(secret_part(key).encode()).hexdigest()


def key_hint(key: str) -> str:
    """What lists show: `sk-AbCd...wXyZ`."""
    secret = secret_part(key)
    return f"{PREFIX}{secret[:4]}...{secret[-4:]}"
