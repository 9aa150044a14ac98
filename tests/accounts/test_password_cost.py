"""The suite hashes passwords cheaply in its own process (tests/conftest.py); relaygate itself must not."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher, extract_parameters

from relaygate.users import passwords
from tests.conftest import SUITE_HASHER

PRODUCTION = PasswordHasher()  # argon2-cffi's defaults: RFC 9106's second recommended option


def test_relaygate_hashes_passwords_at_the_production_cost() -> None:
    code = "from relaygate.users.passwords import hash_password; print(hash_password('a password'))"
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    got = extract_parameters(made)
    assert (got.time_cost, got.memory_cost, got.parallelism) == (
        PRODUCTION.time_cost,
        PRODUCTION.memory_cost,
        PRODUCTION.parallelism,
    )
    assert passwords.verify_password(made, "a password")


def test_a_production_hash_verifies_and_is_rehashed_to_the_current_cost() -> None:
    made = PRODUCTION.hash("a password")
    assert passwords._hasher is SUITE_HASHER
    assert passwords.verify_password(made, "a password")
    assert passwords.needs_rehash(made)  # the hasher in use differs in cost, so the next login rehashes
