"""Channel keys at rest: AES-256-GCM under a key derived from `RELAYGATE_SECRET_KEY`."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CONTEXT = b"relaygate channel key v1"


class SecretBox:
    def __init__(self, secret_key: str):
        self._aead = AESGCM(hashlib.sha256(_CONTEXT + secret_key.encode()).digest())

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), _CONTEXT)).decode()

    def decrypt(self, token: str) -> str:
        blob = base64.b64decode(token)
        try:
            return self._aead.decrypt(blob[:12], blob[12:], _CONTEXT).decode()
        except InvalidTag as exc:
            raise ValueError("channel key cannot be decrypted: RELAYGATE_SECRET_KEY differs from the one used") from exc


def secret_hint(secret: str) -> str:
    return f"{secret[:3]}...{secret[-4:]}" if len(secret) > 10 else "***"
