"""What a token may do (SPEC section 2), validated before anything is stored."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from relaygate.clock import now
from relaygate.errors import InvalidValue

RESET_PERIODS = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class TokenSpec:
    name: str = ""
    expires_at: int | None = None
    unlimited: bool = False
    quota_limit: int = 0
    models: tuple[str, ...] = ()
    allow_ips: tuple[str, ...] = ()
    group: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    reset_period: str | None = None


def validate_spec(spec: TokenSpec, *, expiry_given: bool = True) -> TokenSpec:
    """Check every field; returns the spec with allowlist entries in canonical form.

    An expiry given now (on create, or changed by an update) must lie in the future: a token born
    expired would be listed as enabled and refuse every request."""
    if expiry_given and spec.expires_at is not None and spec.expires_at <= now():
        raise InvalidValue(
            "expires_at is in the past: give a future time (ISO-8601), or none for a token that never expires",
            field="expires_at",
        )
    if len(spec.name) > 128:
        raise InvalidValue("name must be at most 128 characters", field="name")
    if spec.quota_limit < 0:
        raise InvalidValue("quota_limit must not be negative", field="quota_limit")
    for limit_name in ("rpm", "tpm", "max_concurrent"):
        value = getattr(spec, limit_name)
        if value is not None and value < 1:
            raise InvalidValue(f"{limit_name} must be a positive integer, or left unset for no limit", field=limit_name)
    if spec.reset_period is not None and spec.reset_period not in RESET_PERIODS:
        raise InvalidValue(f"reset must be one of {', '.join(RESET_PERIODS)}", field="reset")
    models = tuple(m.strip() for m in spec.models if m.strip())
    return TokenSpec(**{**spec.__dict__, "models": models, "allow_ips": canonical_networks(spec.allow_ips)})


def canonical_networks(entries: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """IPs and CIDRs (v4 and v6) in canonical form; a bad entry names itself in the error."""
    canonical = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            canonical.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError as exc:
            raise InvalidValue(
                f"allow_ips entry {text!r} is not an IP address or CIDR such as 10.0.0.0/8", field="allow_ips"
            ) from exc
    return tuple(canonical)
