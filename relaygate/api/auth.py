"""`/api/auth`: log in, log out, register. A session is a server-side row behind an HttpOnly cookie."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.login import log_in, register
from relaygate.accounts.sessions import COOKIE_NAME, close_session, open_session
from relaygate.api.caller import CallerDep, IpDep, RuntimeDep
from relaygate.api.users import UserOut
from relaygate.audit.service import Actor, record_action
from relaygate.errors import AccountDisabled, InvalidCredentials, TooManyAttempts
from relaygate.runtime import Runtime

router = APIRouter(prefix="/auth", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Registration(Login):
    invite_code: str | None = Field(default=None, description="needed when RELAYGATE_REGISTRATION=invite")


class RegistrationOut(BaseModel):
    registration: Literal["open", "closed", "invite"] = Field(
        description="open: anyone may register; invite: with a redemption code; closed: only admins create accounts"
    )


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="send it as X-CSRF-Token on every state-changing call")


@router.post("/login", response_model=SessionOut)
async def login(body: Login, request: Request, response: Response, rt: RuntimeDep, ip: IpDep) -> dict[str, Any]:
    try:
        async with rt.engine.begin() as conn:
            user = await log_in(conn, rt.login_throttle, body.username, body.password, ip)
            return await _start_session(conn, rt, request, response, user, ip, "auth.login")
    except (InvalidCredentials, TooManyAttempts, AccountDisabled) as exc:
        async with rt.engine.begin() as conn:
            actor = Actor(None, body.username, ip)
            await record_action(conn, actor, "auth.login_failed", detail={"reason": exc.code})
        raise


@router.get("/registration", response_model=RegistrationOut)
async def registration_mode(rt: RuntimeDep) -> dict[str, Any]:
    """Whether the console offers a Register form; needs no login."""
    return {"registration": rt.settings.registration}


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(caller: CallerDep, response: Response) -> None:
    async with caller.transaction() as conn:
        if caller.session is not None:
            await close_session(conn, caller.session)
        await caller.audit(conn, "auth.logout")
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")


@router.post("/register", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def register_account(
    body: Registration, request: Request, response: Response, rt: RuntimeDep, ip: IpDep
) -> dict[str, Any]:
    """Open, closed or by invitation (RELAYGATE_REGISTRATION); by invitation, a redemption code is the invite."""
    async with rt.engine.begin() as conn:
        user = await register(conn, rt.settings.registration, body.username, body.password, body.invite_code)
        return await _start_session(conn, rt, request, response, user, ip, "auth.register")


async def _start_session(
    conn: AsyncConnection, rt: Runtime, request: Request, response: Response, user: dict[str, Any], ip: str, action: str
) -> dict[str, Any]:
    secret, session = await open_session(conn, user["id"], ip, rt.settings.session_ttl)
    await record_action(conn, Actor(user["id"], user["name"], ip), action, f"user:{user['id']}")
    response.set_cookie(
        COOKIE_NAME,
        secret,
        max_age=rt.settings.session_ttl,
        path="/",
        httponly=True,
        samesite="strict",
        secure=rt.settings.secure_cookies or request.url.scheme == "https",
    )
    return {"user": user, "csrf_token": session.csrf_token}
