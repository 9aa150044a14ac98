"""Token lifecycle: create (one or a batch), list, enable, disable, revoke, rotate.

The full key exists only in what `create_tokens` and `rotate_token` return; the database keeps
its hash and a hint, and with a `KeySeal` a sealed copy for one later reveal (`tokens.sealing`).
Every change is put on the change feed so running servers see it at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.errors import InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import tokens
from relaygate.tokens.keys import generate_key, hash_key, key_hint
from relaygate.tokens.sealing import UNSEALED, KeySeal, is_revealable
from relaygate.tokens.spec import TokenSpec, validate_spec

MAX_BATCH = 100
STATUSES = ("enabled", "disabled")


async def create_tokens(
    conn: AsyncConnection, user_id: int, spec: TokenSpec, count: int = 1, *, seal: KeySeal | None = None
) -> list[dict[str, Any]]:
    """Create `count` tokens with the same settings; each returned dict carries its full `key`, once
    (with `seal`, each key is also kept sealed for one reveal)."""
    if not 1 <= count <= MAX_BATCH:
        raise InvalidValue(f"count must be between 1 and {MAX_BATCH}", field="count")
    spec = validate_spec(spec)
    created = []
    for index in range(count):
        key = generate_key()
        name = spec.name if count == 1 or not spec.name else f"{spec.name}-{index + 1}"
        result = await conn.execute(
            insert(tokens).values(
                user_id=user_id,
                key_hash=hash_key(key),
                hint=key_hint(key),
                status="enabled",
                used_quota=0,
                created_at=now(),
                **(_settings_columns(spec) | {"name": name} | (seal.columns(key) if seal else UNSEALED)),
            )
        )
        token = await get_token(conn, result.inserted_primary_key[0])  # type: ignore[index]
        created.append({**token, "key": key})
        await record_change(conn, "token", token["id"])
    return created


async def import_token(
    conn: AsyncConnection, user_id: int, key: str, spec: TokenSpec, *, status: str
) -> dict[str, Any] | None:
    """Keep a key issued elsewhere (new-api, one-api: 48 characters, with or without `sk-`) working
    here, with only its hash and hint stored. None when that key is already known. Its usage there is
    written as opening usage afterwards (`relaygate.importer.opening`), which also sets `used_quota`."""
    if status not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    spec = validate_spec(spec, expiry_given=False)  # an imported key may have expired there: it stays expired here
    if (await conn.execute(select(tokens.c.id).where(tokens.c.key_hash == hash_key(key)))).first():
        return None
    result = await conn.execute(
        insert(tokens).values(
            user_id=user_id,
            key_hash=hash_key(key),
            hint=key_hint(key),
            status=status,
            used_quota=0,
            created_at=now(),
            **_settings_columns(spec),
        )
    )
    token_id = result.inserted_primary_key[0]  # type: ignore[index]
    await record_change(conn, "token", token_id)
    return await get_token(conn, token_id)


async def get_token(conn: AsyncConnection, token_id: int, *, user_id: int | None = None) -> dict[str, Any]:
    """A live token by id; with `user_id`, only if that user owns it (else not found)."""
    query = select(tokens).where(tokens.c.id == token_id, tokens.c.status != "deleted")
    if user_id is not None:
        query = query.where(tokens.c.user_id == user_id)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no token with id {token_id}")
    return public_token(row)


async def list_tokens(conn: AsyncConnection, user_id: int | None = None) -> list[dict[str, Any]]:
    query = select(tokens).where(tokens.c.status != "deleted").order_by(tokens.c.id)
    if user_id is not None:
        query = query.where(tokens.c.user_id == user_id)
    return [public_token(row) for row in (await conn.execute(query)).mappings().all()]


async def search_tokens(
    conn: AsyncConnection,
    user_id: int,
    *,
    q: str = "",
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a user's live tokens whose name or hint contains `q`, and how many match in all."""
    condition = (tokens.c.user_id == user_id) & (tokens.c.status != "deleted")
    if q:
        condition &= or_(tokens.c.name.contains(q, autoescape=True), tokens.c.hint.contains(q, autoescape=True))
    if status:
        condition &= tokens.c.status == status
    total = (await conn.execute(select(func.count()).select_from(tokens).where(condition))).scalar_one()
    query = select(tokens).where(condition).order_by(tokens.c.id).limit(per_page).offset((page - 1) * per_page)
    return [public_token(row) for row in (await conn.execute(query)).mappings().all()], int(total)


async def update_token(
    conn: AsyncConnection, token_id: int, changes: dict[str, Any], *, user_id: int | None = None
) -> dict[str, Any]:
    """Change any of the token's settings (the field names of `public_token`) and/or its status.

    `quota_limit: None` means unlimited, as `public_token` shows it; a number sets a cap.
    """
    current = await get_token(conn, token_id, user_id=user_id)
    merged = {**current, **changes}
    if merged["status"] not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    unlimited = bool(merged["unlimited"])
    if "quota_limit" in changes:
        unlimited = changes["quota_limit"] is None
    if "unlimited" in changes and "quota_limit" in changes and changes["unlimited"] != unlimited:
        raise InvalidValue("give a quota_limit or unlimited: true, not both", field="unlimited")
    spec = validate_spec(
        TokenSpec(
            name=merged["name"],
            expires_at=merged["expires_at"],
            unlimited=unlimited,
            quota_limit=0 if unlimited else int(merged["quota_limit"] or 0),
            models=tuple(merged["models"]),
            allow_ips=tuple(merged["allow_ips"]),
            group=merged["group"],
            rpm=merged["rpm"],
            tpm=merged["tpm"],
            max_concurrent=merged["max_concurrent"],
            reset_period=merged["reset"],
        ),
        expiry_given="expires_at" in changes,
    )
    columns = _settings_columns(spec)
    if spec.reset_period is not None and spec.reset_period != current["reset"]:
        columns["last_reset_at"] = now()  # a new period counts from now: no clearing of usage already there
    await _update_live_token(conn, token_id, user_id, status=merged["status"], **columns)
    return await get_token(conn, token_id)


async def set_token_status(conn: AsyncConnection, token_id: int, status: str, *, user_id: int | None = None) -> None:
    if status not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    await _update_live_token(conn, token_id, user_id, status=status)


async def revoke_token(conn: AsyncConnection, token_id: int, *, user_id: int | None = None) -> None:
    """Delete: the key stops working at once; the row stays so usage records keep their token."""
    await _update_live_token(conn, token_id, user_id, status="deleted", **UNSEALED)


async def rotate_token(
    conn: AsyncConnection, token_id: int, *, user_id: int | None = None, seal: KeySeal | None = None
) -> dict[str, Any]:
    """A new secret with the same settings; the old key stops working at once (and a sealed copy of it
    is replaced by one of the new key, with `seal`)."""
    key = generate_key()
    sealed = seal.columns(key) if seal else UNSEALED
    await _update_live_token(conn, token_id, user_id, key_hash=hash_key(key), hint=key_hint(key), **sealed)
    return {**await get_token(conn, token_id), "key": key}


async def _update_live_token(conn: AsyncConnection, token_id: int, user_id: int | None, **values: Any) -> None:
    query = update(tokens).where(tokens.c.id == token_id, tokens.c.status != "deleted")
    if user_id is not None:
        query = query.where(tokens.c.user_id == user_id)
    if (await conn.execute(query.values(**values))).rowcount == 0:
        raise NotFoundError(f"no token with id {token_id}")
    await record_change(conn, "token", token_id)


def _settings_columns(spec: TokenSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "expires_at": spec.expires_at,
        "unlimited": spec.unlimited,
        "quota_limit": 0 if spec.unlimited else spec.quota_limit,
        "models": list(spec.models),
        "allow_ips": list(spec.allow_ips),
        "group": spec.group,
        "rpm": spec.rpm,
        "tpm": spec.tpm,
        "max_concurrent": spec.max_concurrent,
        "reset_period": spec.reset_period,
    }


def public_token(row: Any) -> dict[str, Any]:
    """A token as the API and CLI show it: the hint, never the hash."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "name": row["name"],
        "hint": row["hint"],
        "status": row["status"],
        "expires_at": row["expires_at"],
        "unlimited": bool(row["unlimited"]),
        "quota_limit": None if row["unlimited"] else row["quota_limit"],
        "used_quota": row["used_quota"],
        "models": list(row["models"]),
        "allow_ips": list(row["allow_ips"]),
        "group": row["group"],
        "rpm": row["rpm"],
        "tpm": row["tpm"],
        "max_concurrent": row["max_concurrent"],
        "reset": row["reset_period"],
        "last_reset_at": row["last_reset_at"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
        "revealable": is_revealable(row),
    }
