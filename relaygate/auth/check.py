"""How a relay key is checked: the rows of SPEC section 3's failure table, in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from relaygate.accounts.access_keys import PREFIX as ACCESS_KEY_PREFIX
from relaygate.auth.access import AccessCache, TokenAccess, UserAccess
from relaygate.auth.client_ip import IPAddress, address_text
from relaygate.billing.groups import AUTO_GROUP
from relaygate.clock import now
from relaygate.errors import (
    AccountDisabled,
    GroupNotAllowed,
    InvalidApiKey,
    IpNotAllowed,
    ModelNotAllowed,
    TokenDisabled,
    TokenExpired,
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token, its owner, the pricing group and the client address."""

    token: TokenAccess
    user: UserAccess
    group: str
    client_ip: str


async def authenticate(
    cache: AccessCache, key: str, ip: IPAddress | None, selectable: frozenset[str] = frozenset()
) -> Principal:
    """The caller of a relay request, or the error of the first failing row of SPEC section 3.

    `selectable`: the groups any user may give a token, besides their own.
    """
    if key.startswith(ACCESS_KEY_PREFIX):
        raise InvalidApiKey(
            "This is a management access key (ak-...), which works only on /api: "
            "relay requests need an API key (sk-...) from Token Management."
        )
    token = await cache.token_for_key(key)
    if token is None:
        raise InvalidApiKey(
            # Worded as OpenAI words it: some clients (litellm) tell a 401 apart by this text.
            "Incorrect API key provided. The key may be mistyped, deleted or rotated: "
            "copy it again from Token Management, or create a new one."
        )
    if token.status != "enabled":
        raise TokenDisabled("This API key is disabled: enable it in Token Management or use another key.")
    if token.expires_at is not None and token.expires_at <= now():
        raise TokenExpired("This API key has expired: extend its expiration in Token Management or create a new one.")
    user = await cache.user(token.user_id)
    if user is None:
        raise InvalidApiKey("The API key is not valid: its account no longer exists.")
    if user.status != "enabled":
        raise AccountDisabled("The account that owns this API key is disabled: contact the administrator.")
    if token.networks and (ip is None or not any(ip in network for network in token.networks)):
        raise IpNotAllowed(
            f"Requests from {ip} are not allowed for this API key: add the address to the key's IP allowlist."
        )
    return Principal(token=token, user=user, group=token_group(token, user, selectable), client_ip=address_text(ip))


def token_group(token: TokenAccess, user: UserAccess, selectable: frozenset[str]) -> str:
    """The group a token's requests are served and billed in: its own if its owner may use it now.

    Checked on every request, so a token pinned to a group its owner was moved out of is refused at
    once (403 `group_not_allowed`) rather than served, or billed, at the old group's terms.
    """
    if token.group is None or token.group in (user.group, AUTO_GROUP) or token.group in selectable:
        return token.group or user.group
    raise GroupNotAllowed(
        f"This API key is set to the group {token.group!r}, which its account may no longer use: edit the key "
        f"to use the account's group {user.group!r} (or leave its group empty), or ask the operator."
    )


def serving_group(
    principal: Principal, model: str, auto_order: tuple[str, ...], serves: Callable[[str], bool]
) -> Principal:
    """The principal with the concrete group a request of `model` is served in.

    A token set to `auto` takes the first of the selectable groups, in the operator's order, with a
    channel for the model (`serves`), else its owner's group; any other principal is returned as it is.
    """
    if principal.group != AUTO_GROUP:
        return principal
    group = next((group for group in auto_order if serves(group)), principal.user.group)
    return dataclasses.replace(principal, group=group)


def authorise_model(principal: Principal, model: str) -> None:
    if principal.token.models and model not in principal.token.models:
        raise ModelNotAllowed(
            f"This API key may not use the model {model!r}: allow it in the key's model restrictions "
            "or use another key."
        )
