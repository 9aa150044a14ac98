"""What OpenAI-era clients ask for the remaining balance: `GET /v1/dashboard/billing/subscription|usage`.

The limit is the token's quota when it has one, else everything the owner can spend (balance +
already used); usage is what counts against that limit (the token's, or the owner's when the token
is unlimited), so limit - usage is what is left. Amounts are USD (usage in cents, as OpenAI's was).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.billing.money import UNITS_PER_USD
from relaygate.billing.standing import token_standing
from relaygate.relay.asgi import Receive, Scope, Send, header_map, send_bytes
from relaygate.relay.requests import authenticate_request
from relaygate.relay.routing import RelayRoute
from relaygate.runtime import Runtime

JSON = b"application/json"


async def subscription(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal = await authenticate_request(rt, scope, Family.OPENAI, header_map(scope))
    limit, _ = await _limit_and_usage(rt, principal)
    limit_usd = _usd(limit)
    body: dict[str, Any] = {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": limit_usd,
        "hard_limit_usd": limit_usd,
        "system_hard_limit_usd": limit_usd,
        "access_until": principal.token.expires_at or 0,
    }
    await send_bytes(send, 200, orjson.dumps(body), JSON, [])


async def usage(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal = await authenticate_request(rt, scope, Family.OPENAI, header_map(scope))
    _, used = await _limit_and_usage(rt, principal)
    body = {"object": "list", "total_usage": float(Fraction(used * 100, UNITS_PER_USD))}
    await send_bytes(send, 200, orjson.dumps(body), JSON, [])


async def _limit_and_usage(rt: Runtime, principal: Principal) -> tuple[int, int]:
    """The spending limit and what counts against it, in quota units."""
    standing = await token_standing(rt.engine, principal.token.id)
    if principal.token.quota_limit is not None:
        return principal.token.quota_limit, standing.token_used
    return standing.balance + standing.user_used, standing.user_used


def _usd(units: int) -> float:
    return float(Fraction(units, UNITS_PER_USD))


ROUTES = [
    route
    for prefix in ("/v1", "")  # clients configured with a base URL without /v1 ask here too
    for route in (
        RelayRoute("GET", f"{prefix}/dashboard/billing/subscription", Family.OPENAI, subscription),
        RelayRoute("GET", f"{prefix}/dashboard/billing/usage", Family.OPENAI, usage),
    )
]
