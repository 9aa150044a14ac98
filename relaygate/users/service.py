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
from relaygate.errors import ConflictError, InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import ledger_entries, tokens, users
from relaygate.users.passwords import generate_password, hash_password

ROLES = ("user", "admin", "root")
STATUSES = ("enabled", "disabled")
LIMITS = ("rpm", "tpm", "max_concurrent")  # rate limits over all of a user's tokens; None: no limit


@dataclass(frozen=True)
class NewUser:
    name: str
    password: str
    role: str = "user"
    group: str = "default"
    balance: int = 0
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None


def validate_user(spec: NewUser) -> None:
    if not spec.name or len(spec.name) > 64 or not spec.name.replace("_", "").replace("-", "").isalnum():
        raise InvalidValue("name must be 1-64 letters, digits, '-' or '_'", field="name")
    if spec.role not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}", field="role")
    validate_password(spec.password)
    if spec.balance < 0:
        raise InvalidValue("balance must not be negative", field="balance")
    validate_limits({name: getattr(spec, name) for name in LIMITS})


def validate_limits(limits: dict[str, Any]) -> None:
    for name, value in limits.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InvalidValue(f"{name} must be a whole number of at least 1, or null for no limit", field=name)


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidValue("password must be at least 8 characters", field="password")


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
                rpm=spec.rpm,
                tpm=spec.tpm,
                max_concurrent=spec.max_concurrent,
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
    """A user that has not been deleted."""
    row = (
        (await conn.execute(select(users).where(users.c.id == user_id, users.c.status != "deleted"))).mappings().first()
    )
    if row is None:
        raise NotFoundError(f"no user with id {user_id}")
    return public_user(row)


async def find_user_id(conn: AsyncConnection, name: str) -> int:
    user_id = (await conn.execute(select(users.c.id).where(users.c.name == name, users.c.status != "deleted"))).scalar()
    if user_id is None:
        raise NotFoundError(f"no user named {name!r}")
    return int(user_id)


async def find_login(conn: AsyncConnection, name: str) -> Any | None:
    """What a login checks: id, name, password hash and status of a user that has not been deleted."""
    query = select(users.c.id, users.c.name, users.c.password_hash, users.c.status).where(
        users.c.name == name, users.c.status != "deleted"
    )
    return (await conn.execute(query)).mappings().first()


async def list_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(users).where(users.c.status != "deleted").order_by(users.c.id))).mappings().all()
    return [public_user(row) for row in rows]


async def search_users(
    conn: AsyncConnection, *, q: str = "", role: str | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[dict[str, Any]], int]:
    """One page of users whose name contains `q`, and how many match in all."""
    condition = users.c.status != "deleted"
    if q:
        condition = condition & users.c.name.contains(q, autoescape=True)
    if role:
        condition = condition & (users.c.role == role)
    total = (await conn.execute(select(func.count()).select_from(users).where(condition))).scalar_one()
    query = select(users).where(condition).order_by(users.c.id).limit(per_page).offset((page - 1) * per_page)
    return [public_user(row) for row in (await conn.execute(query)).mappings().all()], int(total)


async def update_user(conn: AsyncConnection, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change group, role, status and/or rate limits (None: no limit); the relay sees it at once."""
    if "role" in changes and changes["role"] not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}", field="role")
    if "status" in changes and changes["status"] not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    validate_limits({name: changes[name] for name in LIMITS if name in changes})
    values = {name: changes[name] for name in ("group", "role", "status", *LIMITS) if name in changes}
    if values:
        query = update(users).where(users.c.id == user_id, users.c.status != "deleted").values(**values)
        if (await conn.execute(query)).rowcount == 0:
            raise NotFoundError(f"no user with id {user_id}")
        await record_change(conn, "user", user_id)
    return await get_user(conn, user_id)


async def set_password(conn: AsyncConnection, user_id: int, password: str) -> None:
    validate_password(password)
    query = update(users).where(users.c.id == user_id).values(password_hash=hash_password(password))
    if (await conn.execute(query)).rowcount == 0:
        raise NotFoundError(f"no user with id {user_id}")


async def replace_password_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    """Store a new hash of the password the user just logged in with (an upgrade, not a change)."""
    await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


@dataclass(frozen=True)
class ImportedUser:
    """An account from another gateway, as it stood there: its password hash, balance and usage."""

    name: str
    password_hash: str
    role: str
    group: str
    status: str
    balance: int
    used_quota: int
    request_count: int


async def import_user(conn: AsyncConnection, spec: ImportedUser, *, reason: str) -> int:
    """Create the account with an opening credit of everything it was ever credited there
    (balance + used quota), so that once its opening usage is written (see `relaygate.importer.opening`)
    the books hold: credits = balance + charges. Returns the new id."""
    if spec.role not in ROLES or spec.status not in STATUSES:
        raise InvalidValue(f"role {spec.role!r} or status {spec.status!r} is not one relaygate knows")
    try:
        result = await conn.execute(
            insert(users).values(
                name=spec.name,
                password_hash=spec.password_hash,
                role=spec.role,
                group=spec.group,
                status=spec.status,
                balance=0,
                created_at=now(),
            )
        )
    except IntegrityError as exc:
        raise ConflictError(f"a user named {spec.name!r} already exists") from exc
    user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    opening = spec.balance + spec.used_quota
    if opening:
        await credit(conn, user_id, opening, kind="import", reason=reason)
    return user_id


async def set_request_count(conn: AsyncConnection, user_id: int, count: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(request_count=count))


async def delete_user(conn: AsyncConnection, user_id: int) -> None:
    """Delete an account: its tokens stop working at once. The row stays (status `deleted`) so
    that usage records, ledger entries and the books keep their account; the name stays taken."""
    query = update(users).where(users.c.id == user_id, users.c.status != "deleted").values(status="deleted")
    if (await conn.execute(query)).rowcount == 0:
        raise NotFoundError(f"no user with id {user_id}")
    live = (tokens.c.user_id == user_id) & (tokens.c.status != "deleted")
    token_ids = (await conn.execute(select(tokens.c.id).where(live))).scalars().all()
    await conn.execute(update(tokens).where(live).values(status="deleted", sealed_key=None, sealed_until=None))
    for token_id in token_ids:
        await record_change(conn, "token", token_id)
    await record_change(conn, "user", user_id)


MAX_BALANCE = 2**63 - 1  # BIGINT


async def credit(
    conn: AsyncConnection, user_id: int, amount: int, *, kind: str, reason: str, floor: int | None = None
) -> None:
    """Add `amount` units (negative for an adjustment down) with its ledger entry.

    With `floor`, refuse (ConflictError) a change that would leave the balance below it. A balance
    never passes the largest integer the database stores (SQLite would silently turn it into a float).
    """
    if abs(amount) > MAX_BALANCE:
        raise InvalidValue(f"the amount must be between -{MAX_BALANCE} and {MAX_BALANCE} quota units", field="quota")
    query = (
        update(users)
        .where(users.c.id == user_id)
        .values(balance=users.c.balance + amount, ledger_seq=users.c.ledger_seq + 1)
    )
    if amount > 0:  # the bound is computed here, so the database never adds past it
        query = query.where(users.c.balance <= MAX_BALANCE - amount)
    if floor is not None:
        query = query.where(users.c.balance >= floor - amount)
    result = await conn.execute(query)
    if result.rowcount == 0:
        await get_user(conn, user_id)  # raises NotFoundError for an unknown user
        if amount > 0:
            raise ConflictError(f"the balance would pass the largest balance, {MAX_BALANCE} quota units")
        raise ConflictError(f"the balance would fall below {floor} quota units")
    await conn.execute(
        insert(ledger_entries).values(user_id=user_id, kind=kind, amount=amount, reason=reason, created_at=now())
    )
    await record_change(conn, "user", user_id)


async def top_up(conn: AsyncConnection, user_id: int, amount: int, reason: str) -> dict[str, Any]:
    """Credit (or, negative, take back) an amount by hand; a balance never goes below zero this way."""
    if amount == 0:
        raise InvalidValue("the amount must not be zero", field="quota")
    kind = "topup" if amount > 0 else "adjustment"
    await credit(conn, user_id, amount, kind=kind, reason=reason or kind, floor=0)
    return await get_user(conn, user_id)


async def set_user_status(conn: AsyncConnection, user_id: int, status: str) -> None:
    if status not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    query = update(users).where(users.c.id == user_id, users.c.status != "deleted").values(status=status)
    result = await conn.execute(query)
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
        "rpm": row["rpm"],
        "tpm": row["tpm"],
        "max_concurrent": row["max_concurrent"],
        "created_at": row["created_at"],
    }
