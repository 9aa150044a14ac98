"""Who is calling the management API, and what they may do.

Two credentials: the console's session cookie (with `X-CSRF-Token` on every state-changing call)
and `Authorization: Bearer ak-...` for scripts. A relay token (`sk-...`) is refused here.
Each request re-reads the session or key and the user, so logout, a disabled account or a
revoked key take effect on the next call.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.access_keys import is_access_key, user_id_for_access_key
from relaygate.accounts.sessions import COOKIE_NAME, Session, find_session
from relaygate.audit.service import Actor, record_action
from relaygate.auth.client_ip import client_ip
from relaygate.errors import AccountDisabled, CsrfFailed, Forbidden, InvalidAccessKey, NotFoundError, Unauthenticated
from relaygate.runtime import Runtime
from relaygate.users.service import get_user

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
ADMIN_ROLES = frozenset({"admin", "root"})


def get_runtime(request: Request) -> Runtime:
    runtime: Callable[[], Runtime] = request.app.state.runtime
    return runtime()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def request_ip(request: Request, rt: RuntimeDep) -> str:
    peer = request.client.host if request.client else None
    address = client_ip(peer, request.headers.get("x-forwarded-for"), rt.settings.trusted_proxies)
    return str(address or "")


IpDep = Annotated[str, Depends(request_ip)]


@dataclass(frozen=True)
class Caller:
    """An authenticated user of the API, the gateway they call, and how they authenticated."""

    user: dict[str, Any]
    ip: str
    rt: Runtime
    session: Session | None = None

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def role(self) -> str:
        return str(self.user["role"])

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def actor(self) -> Actor:
        return Actor(self.id, str(self.user["name"]), self.ip)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.rt.engine.begin() as conn:
            yield conn

    async def audit(self, conn: AsyncConnection, action: str, target: str = "", **detail: Any) -> None:
        await record_action(conn, self.actor, action, target, detail)


async def authenticate(request: Request, rt: RuntimeDep, ip: IpDep) -> Caller:
    authorization = request.headers.get("authorization")
    async with rt.engine.begin() as conn:
        if authorization is not None:
            session, user_id = None, await _access_key_owner(conn, authorization)
        else:
            session = await _cookie_session(conn, request)
            user_id = session.user_id
        try:
            user = await get_user(conn, user_id)
        except NotFoundError as exc:
            raise Unauthenticated("This account no longer exists: log in again.") from exc
    if user["status"] != "enabled":
        raise AccountDisabled("This account is disabled: contact the administrator.")
    if session is not None and request.method not in SAFE_METHODS:
        _check_csrf(request, session)
    return Caller(user=user, ip=ip, rt=rt, session=session)


CallerDep = Annotated[Caller, Depends(authenticate)]


async def require_admin(caller: CallerDep) -> Caller:
    if not caller.is_admin:
        raise Forbidden("This needs an administrator account.")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]


async def _access_key_owner(conn: AsyncConnection, authorization: str) -> int:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key or " " in key:
        raise InvalidAccessKey("The Authorization header must have the form 'Authorization: Bearer ak-...'.")
    if not is_access_key(key):
        raise InvalidAccessKey(
            "The management API takes an access key (ak-...) or a console session, not a relay token (sk-...): "
            "create an access key under Access Keys or with `relaygate access-key create`."
        )
    user_id = await user_id_for_access_key(conn, key)
    if user_id is None:
        raise InvalidAccessKey("The access key is not valid: it may be mistyped or revoked.")
    return user_id


async def _cookie_session(conn: AsyncConnection, request: Request) -> Session:
    secret = request.cookies.get(COOKIE_NAME)
    if not secret:
        raise Unauthenticated(
            "Log in first (POST /api/auth/login), or send 'Authorization: Bearer ak-...' with an access key."
        )
    session = await find_session(conn, secret)
    if session is None:
        raise Unauthenticated("The session has ended or expired: log in again.")
    return session


def _check_csrf(request: Request, session: Session) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfFailed(
            f"This request needs the {CSRF_HEADER} header with the csrf_token returned at login (or by GET /api/me)."
        )
