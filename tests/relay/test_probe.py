"""`channel test` speaks each channel type's own protocol to the upstream."""

from __future__ import annotations

import asyncio

import pytest

from relaygate.channels.registry import Channel
from relaygate.relay.probe import probe_channel
from tests.support.deployment import Deployment


@pytest.mark.parametrize(
    ("kind", "key", "status"), [("anthropic", "fake", 200), ("gemini", "fake", 200), ("gemini", "fake;fail=503", 503)]
)
def test_probe_uses_the_channel_protocol(
    sqlite_deployment: Deployment, fake_upstream: str, kind: str, key: str, status: int
) -> None:
    channel = Channel(
        id=1, name="c", type=kind, base_url=fake_upstream, key=key, models=frozenset({"m"}),
        model_map={}, groups=frozenset({"default"}), priority=0, weight=1,
    )  # fmt: skip
    result = asyncio.run(probe_channel(channel, sqlite_deployment.settings))
    assert (result["ok"], result["status"]) == (status == 200, status)
