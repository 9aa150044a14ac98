from __future__ import annotations

import pytest

from relaygate.auth.credentials import Family, extract_key, parse_bearer
from relaygate.errors import InvalidAuthorizationHeader, MissingApiKey

KEY = "sk-" + "a1B2" * 12


@pytest.mark.parametrize("value", [f"Bearer {KEY}", f"bearer {KEY}", f"Bearer {KEY[3:]}"])
def test_bearer_forms(value: str) -> None:
    assert parse_bearer(value) in (KEY, KEY[3:])


@pytest.mark.parametrize("value", [KEY, "Bearer", "Bearer ", f"Bearer  {KEY}", f"Bearer {KEY} x", f"Basic {KEY}"])
def test_malformed_bearer(value: str) -> None:
    with pytest.raises(InvalidAuthorizationHeader) as caught:
        parse_bearer(value)
    assert KEY[3:10] not in caught.value.message


@pytest.mark.parametrize(
    ("family", "headers", "query"),
    [
        (Family.ANTHROPIC, {"x-api-key": KEY}, {}),
        (Family.OPENAI, {"x-api-key": KEY}, {}),
        (Family.GEMINI, {"x-goog-api-key": KEY}, {}),
        (Family.GEMINI, {}, {"key": KEY}),
        (Family.MIDJOURNEY, {"mj-api-secret": KEY}, {}),
        (Family.REALTIME, {"sec-websocket-protocol": f"realtime, openai-insecure-api-key.{KEY}"}, {}),
        (Family.REALTIME, {"authorization": f"Bearer {KEY}"}, {}),
    ],
)
def test_each_family_reads_its_clients_header(family: Family, headers: dict[str, str], query: dict[str, str]) -> None:
    assert extract_key(family, headers, query) == KEY


def test_the_query_key_is_only_read_on_gemini_routes() -> None:
    with pytest.raises(MissingApiKey):
        extract_key(Family.OPENAI, {}, {"key": KEY})


def test_authorization_wins_over_other_headers() -> None:
    assert extract_key(Family.ANTHROPIC, {"authorization": f"Bearer {KEY}", "x-api-key": "other"}, {}) == KEY
