"""Tokens: their key (stored there in plain text, 48 characters without `sk-`) becomes a hash and a
hint, so `Bearer sk-<key>` and `Bearer <key>` keep working; name, status, expiry (-1: never),
remaining and used quota or unlimited, model limits, IP allowlist and group come along."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.errors import InvalidValue
from relaygate.importer.context import ImportContext, is_deleted, split_list
from relaygate.importer.groups_prices import ensure_group
from relaygate.importer.opening import write_opening_usage
from relaygate.tokens.keys import secret_part
from relaygate.tokens.service import import_token
from relaygate.tokens.spec import TokenSpec, canonical_networks
from relaygate.users.service import set_request_count

ENABLED, DISABLED, EXPIRED, EXHAUSTED = 1, 2, 3, 4
NEVER = -1
AUTO_GROUP = "auto"  # new-api: try the user's usable groups in turn; relaygate has no such group


def skip_reason(row: dict[str, Any]) -> str | None:
    """Why a source token is not imported at all, from the source alone (the users step needs it too)."""
    if is_deleted(row):
        return "deleted in the source"
    if not secret_part(str(row.get("key") or "").strip()):
        return "it has no key"
    return None


async def import_tokens(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("tokens")
    charged: dict[int, Any] = {}  # owners whose request count the opening usage moved: relaygate id -> theirs
    for row in ctx.progress.each("tokens", ctx.source.rows("tokens")):
        source_id = row["id"]
        if ctx.map.get("token", source_id) is not None:
            part.already += 1
            continue
        reason = skip_reason(row)
        if reason:
            part.skip(source_id, reason)
            continue
        user_id = ctx.map.get_id("user", row["user_id"])
        if user_id is None:
            part.skip(source_id, f"its owner (user {row['user_id']}) is not imported")
            continue
        used = int(row.get("used_quota") or 0)
        spec, status = await _spec_and_status(conn, ctx, row)
        token = await import_token(conn, user_id, str(row["key"]).strip(), spec, status=status)
        if token is None:
            part.skip(source_id, "its key is already a relaygate token")
            # The users step left this token's usage to it: charge it to the account instead.
            ref = f"user:{user_id}:token{source_id}"
            await write_opening_usage(conn, user_id=user_id, token_id=None, quota=used, ref=ref)
            charged[user_id] = row["user_id"]
            continue
        accessed = int(row.get("accessed_time") or 0)
        await write_opening_usage(
            conn, user_id=user_id, token_id=token["id"], quota=used, ref=f"token:{token['id']}", at=accessed or None
        )
        charged[user_id] = row["user_id"]
        await ctx.map.remember(conn, "token", source_id, token["id"])
        part.imported += 1
    requests = {row["id"]: int(row.get("request_count") or 0) for row in ctx.source.rows("users")}
    for user_id, owner in charged.items():
        await set_request_count(conn, user_id, requests.get(owner, 0))


async def _spec_and_status(conn: AsyncConnection, ctx: ImportContext, row: dict[str, Any]) -> tuple[TokenSpec, str]:
    part = ctx.part("tokens")
    source_id = row["id"]
    expired_time = NEVER if row.get("expired_time") is None else int(row["expired_time"])
    expires_at = None if expired_time == NEVER else expired_time
    unlimited = bool(row.get("unlimited_quota"))
    used, remaining = int(row.get("used_quota") or 0), int(row.get("remain_quota") or 0)
    limit = used + remaining
    if not unlimited and limit < 0:
        part.notes.append(f"token {source_id}: remaining quota {remaining} is below minus its used quota: limit 0")
        limit = 0
    source_status = int(row.get("status") or ENABLED)
    status = "disabled" if source_status == DISABLED else "enabled"
    if source_status == EXPIRED and (expires_at is None or expires_at > now()):
        status = "disabled"  # they marked it expired; keep it off rather than bring it back to life
        part.notes.append(f"token {source_id}: marked expired there with no past expiry: imported disabled")
    allow_ips = _allow_ips(ctx, row)
    try:
        allow_ips = list(canonical_networks(allow_ips))
    except InvalidValue as exc:
        status = "disabled"  # an allowlist cannot be dropped: without it the key would work from anywhere
        part.notes.append(f"token {source_id}: {exc}: imported disabled, fix its allowlist before enabling it")
        allow_ips = []
    group = str(row.get("group") or "") or None
    if group == AUTO_GROUP:
        part.notes.append(f"token {source_id}: new-api's 'auto' group picks a group per request: uses its owner's")
        group = None
    if group is not None and not await ensure_group(conn, ctx, group, f"token {source_id}"):
        part.notes.append(f"token {source_id}: group {group!r} is not a valid group name: uses its owner's")
        group = None
    spec = TokenSpec(
        name=str(row.get("name") or "")[:128],
        expires_at=expires_at,
        unlimited=unlimited,
        quota_limit=0 if unlimited else limit,
        models=tuple(_models(ctx, row)),
        allow_ips=tuple(allow_ips),
        group=group,
    )
    return spec, status


def _models(ctx: ImportContext, row: dict[str, Any]) -> list[str]:
    if ctx.kind == "new-api":
        return split_list(row.get("model_limits")) if row.get("model_limits_enabled") else []
    return split_list(row.get("models"))  # one-api: empty means every model


def _allow_ips(ctx: ImportContext, row: dict[str, Any]) -> list[str]:
    if ctx.kind == "new-api":  # one address or CIDR a line (their GetIpLimits drops spaces and commas)
        text = str(row.get("allow_ips") or "").replace(" ", "").replace(",", "")
        return split_list(text, "\n")
    return split_list(row.get("subnet"))  # one-api: comma-separated CIDRs
