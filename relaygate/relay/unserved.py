"""Why a model cannot be served to a caller: SPEC section 3's 404 `model_not_found` or 503 `model_not_available`.

A 404 tells a client not to retry (the OpenAI and Anthropic SDKs retry a 503), so it is answered
only when no channel, enabled or not, of any group the caller may use lists the model.
"""

from __future__ import annotations

from relaygate.auth.check import Principal
from relaygate.channels.registry import ChannelRegistry
from relaygate.errors import GatewayError, ModelNotAvailable, ModelNotFound
from relaygate.runtime import Runtime


def usable_groups(rt: Runtime, principal: Principal) -> frozenset[str]:
    """The groups the caller may use: its key's, its account's, and those any user may select."""
    return frozenset({principal.group, principal.user.group}) | rt.prices.selectable_groups()


def unserved(
    channels: ChannelRegistry, group: str, usable: frozenset[str], model: str, types: frozenset[str] | None
) -> GatewayError:
    """The error for a `model` no channel of `types` (None: any type) serves to `group` now."""
    if types is not None and channels.serves(group, model):
        return ModelNotAvailable(
            f"The model {model!r} is served here only through another API protocol (channel type "
            f"{', '.join(sorted(channels.types_serving(group, model)))}), and this endpoint does not convert "
            "between protocols (only chat requests do): call it with that protocol's API."
        )
    if channels.listed_in(usable, model):
        return ModelNotAvailable(
            f"The model {model!r} has channels, but none is available to the group {group!r} now "
            "(disabled, or serving another group): try again later, or ask the operator."
        )
    return ModelNotFound(
        f"The model {model!r} does not exist here: check the model name (GET /v1/models lists the models "
        "this key may use), or ask the operator to add a channel for it."
    )
