"""`/api/me`: the caller's own account, and changing its password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.login import check_password
from relaygate.accounts.sessions import close_user_sessions
from relaygate.api.caller import CallerDep
from relaygate.api.users import UserOut
from relaygate.errors import InvalidValue
from relaygate.users.service import set_password

router = APIRouter(prefix="/me", tags=["me"])


class Me(UserOut):
    csrf_token: str | None = Field(description="the session's CSRF token; null when called with an access key")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


@router.get("", response_model=Me)
async def me(caller: CallerDep) -> dict[str, Any]:
    return {**caller.user, "csrf_token": caller.session.csrf_token if caller.session else None}


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, caller: CallerDep) -> None:
    """Needs the current password; ends every other session of the account."""
    name = str(caller.user["name"])
    caller.rt.login_throttle.begin(name, caller.ip)
    async with caller.transaction() as conn:
        if await check_password(conn, name, body.current_password) is None:
            raise InvalidValue("the current password is wrong", field="current_password")
        caller.rt.login_throttle.succeeded(name, caller.ip)
        await set_password(conn, caller.id, body.new_password)
        await close_user_sessions(conn, caller.id, keep=caller.session)
        await caller.audit(conn, "me.password", f"user:{caller.id}")
