"""Rate limits through a real gateway and the official OpenAI SDK, counted in process and in Redis."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from relaygate.limits.rate import MemoryRateLimiter
from relaygate.limits.redis_rate import RedisRateLimiter
from tests.relay.test_auth_failures import CHAT, new_token
from tests.support.deployment import Deployment
from tests.support.redis import SERVER, fresh_prefix

DURATION = re.compile(r"\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s")


@pytest.fixture(params=["memory", "redis"])
def sqlite_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """The `gateway` fixture's deployment, counting rate limits in process, then in Redis."""
    if request.param == "memory":
        yield Deployment(tmp_path / "data")
        return
    with fresh_prefix(in_use=True) as prefix:  # a Redis in use: no ledger warm-up at the gateway's start
        yield Deployment(tmp_path / "data", redis_url=SERVER, redis_prefix=prefix)


def sdk(gw: Deployment, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def test_rpm_3_refuses_the_fourth_call_with_retry_after_and_headers(gateway: Deployment) -> None:
    key = str(new_token(gateway, "--rpm", "3", "--tpm", "100000")["key"])
    with sdk(gateway, key) as client:
        remaining = []
        for stream in (False, False, True):
            raw = client.chat.completions.with_raw_response.create(**CHAT, stream=stream)  # type: ignore[call-overload]
            for _ in raw.parse():
                pass  # read the whole answer (a completion iterates as its fields, a stream as its chunks)
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
            assert DURATION.fullmatch(raw.headers["x-ratelimit-reset-requests"])
            assert DURATION.fullmatch(raw.headers["x-ratelimit-reset-tokens"])
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**CHAT)
    error = caught.value
    assert error.code == "rate_limit_exceeded"
    assert "this API key is limited to 3 requests per minute" in error.message
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert DURATION.fullmatch(error.response.headers["x-ratelimit-reset-requests"])
    assert int(error.response.headers["x-ratelimit-remaining-tokens"]) < 100000  # the three calls' tokens


def test_runtime_counts_in_redis_only_when_configured(gateway: Deployment) -> None:
    expected = RedisRateLimiter if gateway.settings.redis_url else MemoryRateLimiter
    assert type(gateway.runtime.limiter) is expected


def test_no_limit_no_headers(gateway: Deployment) -> None:
    key = str(new_token(gateway)["key"])
    with sdk(gateway, key) as client:
        raw = client.chat.completions.with_raw_response.create(**CHAT)
    assert not [name for name in raw.headers if name.startswith("x-ratelimit-")]


def test_account_max_concurrent_spans_two_tokens(gateway: Deployment, fake_upstream: str) -> None:
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;chunk-delay-ms=200;words=30",
        "--models", "slow-model",
    )  # fmt: skip
    gateway.cli("price", "set", "slow-model", "--input", "1", "--output", "1")
    gateway.cli("user", "create", "carol", "--password", "password-123", "--balance-usd", "10")
    gateway.cli("user", "limits", "carol", "--max-concurrent", "1")
    gateway.runtime_poll()
    first, second = (str(new_token(gateway, user="carol")["key"]) for _ in range(2))
    slow = {**CHAT, "model": "slow-model", "stream": True, "max_tokens": 30}
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions", json=slow, headers={"Authorization": f"Bearer {first}"}
    ) as streaming:
        assert streaming.status_code == 200
        lines = streaming.iter_lines()  # kept: a dropped iterator would close the response
        next(lines)  # the first event arrived: the request is in flight
        with sdk(gateway, second) as client, pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**CHAT)
        assert "your account is limited to 1 concurrent request over all its API keys" in caught.value.message
    # The client left: the slot is freed once the gateway has seen it go.
    deadline = time.monotonic() + 10
    with sdk(gateway, second) as client:
        while True:
            try:
                client.chat.completions.create(**CHAT)
                break
            except openai.RateLimitError:
                assert time.monotonic() < deadline, "the slot was never freed"
                time.sleep(0.05)
