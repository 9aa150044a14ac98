"""Password hashing (argon2id). Accounts imported from new-api or one-api bring bcrypt hashes: those
are accepted at login and replaced by an argon2id hash on the first successful one."""

from __future__ import annotations

import secrets

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; Go's x/crypto/bcrypt hashed only these bytes too


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if password_hash.startswith(_BCRYPT_PREFIXES):
        return _verify_bcrypt(password_hash, password)
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash that just verified should be replaced: bcrypt, or argon2 with older parameters."""
    if password_hash.startswith(_BCRYPT_PREFIXES):
        return True
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def _verify_bcrypt(password_hash: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:_BCRYPT_MAX_BYTES], password_hash.encode())
    except ValueError:  # a malformed hash
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)
