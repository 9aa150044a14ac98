"""Every row of SPEC section 3's failure table, through the real server: status, code, typed SDK error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest
import time_machine

from tests.support.deployment import Deployment

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def new_token(gw: Deployment, *args: str, user: str = "alice", usd: str = "10") -> dict[str, object]:
    if user not in {u["name"] for u in gw.cli("user", "list")}:
        gw.cli("user", "create", user, "--password", "password-123", "--balance-usd", usd)
    return gw.cli("token", "create", "--user", user, *args)[0]  # type: ignore[no-any-return]


def post(
    gw: Deployment, headers: dict[str, str], body: object = CHAT, path: str = "/v1/chat/completions"
) -> httpx.Response:
    return httpx.post(gw.url + path, headers=headers, json=body, timeout=30)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def assert_no_key_in(response: httpx.Response, key: str) -> None:
    secret = key.removeprefix("sk-")
    assert secret[:8] not in response.text
    assert secret[-8:] not in response.text


def sdk_call(gw: Deployment, key: str, model: str = "gpt-4o-mini") -> None:
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("sk-abc", "invalid_authorization_header"),
        ("Bearer", "invalid_authorization_header"),
        ("Bearer  sk-abc", "invalid_authorization_header"),
        ("Bearer sk-abc extra", "invalid_authorization_header"),
        ("Token sk-abc", "invalid_authorization_header"),
        ("Bearer sk-unknownkey000000000000000000000000000000000000", "invalid_api_key"),
    ],
)
def test_malformed_or_missing_credentials(gateway: Deployment, header: str | None, code: str) -> None:
    response = post(gateway, {} if header is None else {"Authorization": header})
    assert error_of(response) == (401, code)
    message = response.json()["error"]["message"]
    assert "Authorization: Bearer" in message or "Token Management" in message or "API key" in message


def test_the_key_works_with_or_without_its_prefix_and_errors_never_echo_it(gateway: Deployment) -> None:
    key = str(new_token(gateway)["key"])
    assert post(gateway, {"Authorization": f"Bearer {key}"}).status_code == 200
    assert post(gateway, {"Authorization": f"Bearer {key[3:]}"}).status_code == 200
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = post(gateway, {"Authorization": f"Bearer {wrong}"})
    assert error_of(response) == (401, "invalid_api_key")
    assert_no_key_in(response, wrong)
    response = post(gateway, {"Authorization": f"{key}"})
    assert error_of(response) == (401, "invalid_authorization_header")
    assert_no_key_in(response, key)


def test_sdk_raises_authentication_error_for_an_unknown_key(gateway: Deployment) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_call(gateway, "sk-" + "x" * 48)
    assert caught.value.code == "invalid_api_key"


def test_disabled_revoked_and_rotated_tokens(gateway: Deployment) -> None:
    token = new_token(gateway)
    key, token_id = str(token["key"]), str(token["id"])
    gateway.cli("token", "disable", token_id)
    gateway.runtime_poll()
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_call(gateway, key)
    assert caught.value.code == "token_disabled"
    gateway.cli("token", "enable", token_id)
    gateway.runtime_poll()
    sdk_call(gateway, key)
    rotated = gateway.cli("token", "rotate", token_id)[0]["key"]
    gateway.runtime_poll()
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_call(gateway, key)
    assert caught.value.code == "invalid_api_key"
    sdk_call(gateway, rotated)
    gateway.cli("token", "revoke", token_id)
    gateway.runtime_poll()
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_call(gateway, rotated)
    assert caught.value.code == "invalid_api_key"


def test_expired_token(gateway: Deployment) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    key = str(new_token(gateway, "--expires", expires.isoformat())["key"])
    sdk_call(gateway, key)
    with time_machine.travel(expires + timedelta(seconds=1)), pytest.raises(openai.AuthenticationError) as caught:
        sdk_call(gateway, key)
    assert caught.value.code == "token_expired"


def test_disabled_owner(gateway: Deployment) -> None:
    key = str(new_token(gateway)["key"])
    gateway.cli("user", "disable", "alice")
    gateway.runtime_poll()
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk_call(gateway, key)
    assert caught.value.code == "account_disabled"


def test_model_restriction(gateway: Deployment) -> None:
    key = str(new_token(gateway, "--models", "gpt-4o")["key"])
    sdk_call(gateway, key, "gpt-4o")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk_call(gateway, key, "gpt-4o-mini")
    assert caught.value.code == "model_not_allowed"


def test_ip_allowlist_with_cidr_and_spoofed_forwarded_for(gateway: Deployment) -> None:
    allowed = str(new_token(gateway, "--allow-ip", "10.0.0.0/8", "--allow-ip", "127.0.0.0/30")["key"])
    elsewhere = str(new_token(gateway, "--allow-ip", "203.0.113.7", "--allow-ip", "2001:db8::/32")["key"])
    assert post(gateway, {"Authorization": f"Bearer {allowed}"}).status_code == 200
    response = post(gateway, {"Authorization": f"Bearer {elsewhere}"})
    assert error_of(response) == (403, "ip_not_allowed")
    # The peer (127.0.0.1) is not a trusted proxy, so its X-Forwarded-For is ignored.
    spoofed = post(gateway, {"Authorization": f"Bearer {elsewhere}", "X-Forwarded-For": "203.0.113.7"})
    assert error_of(spoofed) == (403, "ip_not_allowed")


def test_forwarded_for_is_honoured_behind_a_trusted_proxy(tmp_path: object, fake_upstream: str) -> None:
    from pathlib import Path

    gw = Deployment(Path(str(tmp_path)) / "proxy", trusted_proxies="127.0.0.1/32")
    gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o-mini"
    )
    gw.cli("price", "set", "gpt-4o-mini", "--input", "1", "--output", "1")
    gw.start()
    try:
        key = str(new_token(gw, "--allow-ip", "2001:db8::/32")["key"])
        ok = post(gw, {"Authorization": f"Bearer {key}", "X-Forwarded-For": "198.51.100.1, 2001:db8::5"})
        assert ok.status_code == 200
        refused = post(gw, {"Authorization": f"Bearer {key}", "X-Forwarded-For": "2001:db8::5, 198.51.100.1"})
        assert error_of(refused) == (403, "ip_not_allowed")
    finally:
        gw.stop()


def test_token_quota_and_owner_balance(gateway: Deployment) -> None:
    small = str(new_token(gateway, "--quota-usd", "0.000002")["key"])
    with pytest.raises(openai.RateLimitError) as caught:
        sdk_call(gateway, small)
    assert caught.value.code == "token_quota_exceeded"
    poor = str(new_token(gateway, user="bob", usd="0.000002")["key"])
    with pytest.raises(openai.RateLimitError) as caught:
        sdk_call(gateway, poor)
    assert caught.value.code == "insufficient_balance"


def test_rate_limit_has_retry_after(gateway: Deployment) -> None:
    key = str(new_token(gateway, "--rpm", "2")["key"])
    headers = {"Authorization": f"Bearer {key}"}
    assert [post(gateway, headers).status_code for _ in range(2)] == [200, 200]
    limited = post(gateway, headers)
    assert error_of(limited) == (429, "rate_limit_exceeded")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_unserved_and_unpriced_models(gateway: Deployment) -> None:
    key = str(new_token(gateway)["key"])
    with pytest.raises(openai.NotFoundError) as caught:
        sdk_call(gateway, key, "no-such-model")
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.InternalServerError) as caught:
        sdk_call(gateway, key, "unpriced-model")
    assert caught.value.code == "model_not_priced"
