"""Logging in with a user name and password, and registering a new account.

A login checks the throttle first, verifies the password off the event loop (argon2 is slow on
purpose), and spends the same time on an unknown name as on a wrong password.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.throttle import LoginThrottle
from relaygate.errors import AccountDisabled, InvalidCredentials, InvalidValue, RegistrationClosed
from relaygate.redemptions.service import redeem_code
from relaygate.users.passwords import hash_password, needs_rehash, verify_password
from relaygate.users.service import NewUser, create_user, find_login, get_user, replace_password_hash

RegistrationMode = Literal["open", "closed", "invite"]


@functools.cache
def _decoy_hash() -> str:
    return hash_password("not a password anyone has")


async def check_password(conn: AsyncConnection, username: str, password: str) -> dict[str, Any] | None:
    """The user when the password is right, else None; costs one argon2 verification either way."""
    row = await find_login(conn, username)
    stored = row["password_hash"] if row is not None else _decoy_hash()
    if not await asyncio.to_thread(verify_password, stored, password) or row is None:
        return None
    if needs_rehash(stored):  # an imported bcrypt hash: from now on, argon2id like every other account
        await replace_password_hash(conn, row["id"], await asyncio.to_thread(hash_password, password))
    return await get_user(conn, row["id"])


async def log_in(
    conn: AsyncConnection, throttle: LoginThrottle, username: str, password: str, ip: str
) -> dict[str, Any]:
    """The user behind a name and password, or 401 invalid_credentials (429 after too many failures)."""
    throttle.begin(username, ip)  # counted as failed until the password proves right
    user = await check_password(conn, username, password)
    if user is None:
        raise InvalidCredentials("The user name or password is wrong.")
    throttle.succeeded(username, ip)
    if user["status"] != "enabled":
        raise AccountDisabled("This account is disabled: contact the administrator.")
    return user


async def register(
    conn: AsyncConnection, mode: RegistrationMode, username: str, password: str, invite_code: str | None
) -> dict[str, Any]:
    """A new `user` in the default group; by invitation, the code is redeemed by the new account."""
    if mode == "closed":
        raise RegistrationClosed("Registration is closed on this gateway: ask the administrator for an account.")
    if mode == "invite" and not invite_code:
        raise InvalidValue("registration is by invitation: give the invite_code you received", field="invite_code")
    user = await create_user(conn, NewUser(name=username, password=password))
    if mode == "invite" and invite_code:
        await redeem_code(conn, invite_code, user["id"])
        user = await get_user(conn, user["id"])
    return user
