"""Secrets at rest (channel keys, sealed token keys): AES-256-GCM under a key derived from
`RELAYGATE_SECRET_KEY`, with a context per kind of secret so one kind's ciphertext never opens as another."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CONTEXT = b"relaygate channel key v1"


class SecretBox:
    def __init__(self, secret_key: str, *, context: bytes = _CONTEXT, what: str = "channel key"):
        self._context = context
        self._what = what
        self._aead = AESGCM(hashlib.sha256(context + secret_key.encode()).digest())

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), self._context)).decode()

    def decrypt(self, token: str) -> str:
        blob = base64.b64decode(token)
        try:
            return self._aead.decrypt(blob[:12], blob[12:], self._context).decode()
        except InvalidTag as exc:
            raise ValueError(
                f"{self._what} cannot be decrypted: RELAYGATE_SECRET_KEY differs from the one used"
            ) from exc


def secret_hint(secret: str) -> str:
    return f"{secret[:3]}...{secret[-4:]}" if len(secret) > 10 else "***"
