from __future__ import annotations

import ipaddress

import pytest

from relaygate.auth.client_ip import client_ip

TRUSTED = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: its header is ignored
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.1.1", "198.51.100.1"),  # rightmost untrusted hop
        ("127.0.0.1", "10.9.9.9, 10.1.1.1", "10.9.9.9"),  # all trusted: the leftmost
        ("127.0.0.1", "garbage, 198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),  # a garbled hop is not trusted past
        ("::ffff:127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(peer: str, forwarded: str | None, expected: str) -> None:
    assert str(client_ip(peer, forwarded, TRUSTED)) == expected


def test_no_peer_address() -> None:
    assert client_ip(None, "1.2.3.4", TRUSTED) is None
