"""Accounts: create, credit, disable, list; the root account on first start.

Every credit to a balance writes a ledger entry in the same transaction, so the books can be
checked: initial + credits = balance + charges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.errors import ConflictError, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import ledger_entries, users
from relaygate.users.passwords import generate_password, hash_password

ROLES = ("user", "admin", "root")


@dataclass(frozen=True)
class NewUser:
    name: str
    password: str
    role: str = "user"
    group: str = "default"
    balance: int = 0


def validate_user(spec: NewUser) -> None:
    if not spec.name or len(spec.name) > 64 or not spec.name.replace("_", "").replace("-", "").isalnum():
        raise ValueError("name must be 1-64 letters, digits, '-' or '_'")
    if spec.role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(spec.password) < 8:
        raise ValueError("password must be at least 8 characters")
    if spec.balance < 0:
        raise ValueError("balance must not be negative")


async def create_user(conn: AsyncConnection, spec: NewUser) -> dict[str, Any]:
    validate_user(spec)
    try:
        result = await conn.execute(
            insert(users).values(
                name=spec.name,
                password_hash=hash_password(spec.password),
                role=spec.role,
                group=spec.group,
                status="enabled",
                balance=0,
                created_at=now(),
            )
        )
    except IntegrityError as exc:
        raise ConflictError(f"a user named {spec.name!r} already exists") from exc
    user_id = result.inserted_primary_key[0]  # type: ignore[index]
    if spec.balance:
        await credit(conn, user_id, spec.balance, kind="initial", reason="opening balance")
    return await get_user(conn, user_id)


async def get_user(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no user with id {user_id}")
    return public_user(row)


async def find_user_id(conn: AsyncConnection, name: str) -> int:
    user_id = (await conn.execute(select(users.c.id).where(users.c.name == name))).scalar()
    if user_id is None:
        raise NotFoundError(f"no user named {name!r}")
    return int(user_id)


async def list_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(users).order_by(users.c.id))).mappings().all()
    return [public_user(row) for row in rows]


async def credit(conn: AsyncConnection, user_id: int, amount: int, *, kind: str, reason: str) -> None:
    """Add `amount` units (negative for an adjustment down) with its ledger entry."""
    result = await conn.execute(update(users).where(users.c.id == user_id).values(balance=users.c.balance + amount))
    if result.rowcount == 0:
        raise NotFoundError(f"no user with id {user_id}")
    await conn.execute(
        insert(ledger_entries).values(user_id=user_id, kind=kind, amount=amount, reason=reason, created_at=now())
    )
    await record_change(conn, "user", user_id)


async def set_user_status(conn: AsyncConnection, user_id: int, status: str) -> None:
    result = await conn.execute(update(users).where(users.c.id == user_id).values(status=status))
    if result.rowcount == 0:
        raise NotFoundError(f"no user with id {user_id}")
    await record_change(conn, "user", user_id)


async def ensure_root(conn: AsyncConnection, password: str | None) -> str | None:
    """Create `root` on an empty database; returns the generated password, or None if none was made."""
    if (await conn.execute(select(func.count()).select_from(users))).scalar_one():
        return None
    generated = None if password else generate_password()
    await create_user(conn, NewUser(name="root", password=password or str(generated), role="root"))
    return generated


def public_user(row: Any) -> dict[str, Any]:
    """A user as the API and CLI show it: never the password hash."""
    return {
        "id": row["id"],
        "name": row["name"],
        "role": row["role"],
        "group": row["group"],
        "status": row["status"],
        "balance": row["balance"],
        "used_quota": row["used_quota"],
        "request_count": row["request_count"],
        "created_at": row["created_at"],
    }
