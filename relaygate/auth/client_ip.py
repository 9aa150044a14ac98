"""The client's address: the socket peer, or the rightmost untrusted X-Forwarded-For hop behind trusted proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from relaygate.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> IPAddress | None:
    """None when the peer is not an IP (a Unix socket) and no trusted proxy said otherwise."""
    address = _parse(peer)
    if address is None or not forwarded_for or not _is_trusted(address, trusted):
        return address
    hops = [_parse(hop.strip()) for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if hop is None:
            # A garbled hop cannot be vouched for: stop at the last address we could trust.
            return address
        if not _is_trusted(hop, trusted):
            return hop
        address = hop
    return address


@functools.lru_cache(maxsize=8192)
def _parse(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8192)
def address_text(address: IPAddress | None) -> str:
    """The address as a usage record writes it ("" for none); `str()` of an address is slow."""
    return "" if address is None else str(address)


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
