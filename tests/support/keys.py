"""Users with a balance and their relay keys, for tests through a running gateway."""

from __future__ import annotations

from tests.support.deployment import Deployment


def new_key(gw: Deployment, *token_args: str, user: str = "alice", usd: str = "10") -> tuple[str, int]:
    """Create `user` (unless it exists) with `usd` of balance, and a token; returns its key and id."""
    if user not in {row["name"] for row in gw.cli("user", "list")}:
        gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)
    token = gw.cli("token", "create", "--user", user, "--name", "t", *token_args)[0]
    return token["key"], token["id"]


def used(gw: Deployment, token_id: int) -> int:
    """The token's used quota, after the running server wrote its pending records."""
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def balance(gw: Deployment, user: str = "alice") -> int:
    gw.flush()
    return int(gw.user(user)["balance"])
