"""Property tests (hypothesis) of what parses hostile input before anything else: the credential
parser, the SSE framer, and the JSON guards."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaygate.auth.credentials import Family, extract_key, parse_bearer, refuse_repeated_credentials
from relaygate.errors import BadRequest, GatewayError, InvalidAuthorizationHeader, MissingApiKey
from relaygate.json_depth import MAX_JSON_DEPTH, json_depth_over_limit
from relaygate.relay.requests import parse_request_json
from relaygate.relay.sse import EventFramer, event_data

QUICK = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parse: Callable[..., Any], *args: Any) -> tuple[Any, GatewayError | None]:
    """What a parser returned, or the gateway error it raised (any other exception fails the test)."""
    try:
        return parse(*args), None
    except GatewayError as error:
        return None, error


KEY = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=60)
HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=80)


@QUICK
@given(value=HEADER_TEXT)
def test_an_authorization_header_is_a_key_or_a_401_that_never_repeats_it(value: str) -> None:
    key, refused = outcome(parse_bearer, value)
    if isinstance(refused, InvalidAuthorizationHeader):
        secret = value.partition(" ")[2]
        if len(secret) >= 12 and any(char.isdigit() for char in secret):  # the messages have no digits
            assert secret not in refused.message
        return
    assert value == f"{value[:6]} {key}"
    assert value[:6].lower() == "bearer"


@QUICK
@given(key=KEY, scheme=st.sampled_from(["Bearer", "bearer", "BEARER"]))
def test_a_well_formed_bearer_header_gives_its_key(key: str, scheme: str) -> None:
    assert parse_bearer(f"{scheme} {key}") == key


@QUICK
@given(
    family=st.sampled_from(list(Family)),
    headers=st.dictionaries(
        st.sampled_from(
            ["authorization", "x-api-key", "x-goog-api-key", "mj-api-secret", "sec-websocket-protocol", "other"]
        ),
        HEADER_TEXT,
    ),
    query=st.dictionaries(st.sampled_from(["key", "alt"]), HEADER_TEXT),
)
def test_extracting_a_key_from_any_headers_is_a_key_or_a_401(
    family: Family, headers: dict[str, str], query: dict[str, str]
) -> None:
    key, refused = outcome(extract_key, family, headers, query)
    if refused is not None:
        assert isinstance(refused, MissingApiKey | InvalidAuthorizationHeader)
        return
    assert key
    assert " " not in key


@QUICK
@given(names=st.lists(st.sampled_from([b"authorization", b"x-api-key", b"content-type", b"accept"]), max_size=6))
def test_a_credential_header_may_appear_once(names: list[bytes]) -> None:
    repeated = any(names.count(name) > 1 for name in (b"authorization", b"x-api-key"))
    if repeated:
        with pytest.raises(InvalidAuthorizationHeader):
            refuse_repeated_credentials(names)
    else:
        refuse_repeated_credentials(names)


SSE_LINE = st.text(st.characters(blacklist_characters="\r\n", max_codepoint=0x2FF), max_size=12).map(str.encode)
SSE_EVENT = st.lists(SSE_LINE.map(lambda line: b"data: " + line), min_size=1, max_size=3)


@QUICK
@given(
    events=st.lists(SSE_EVENT, max_size=6),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_sse_events_are_the_same_however_the_network_splits_them(
    events: list[list[bytes]], newline: bytes, cuts: list[int]
) -> None:
    stream = b"".join(newline.join(lines) + newline + newline for lines in events)
    points = sorted({cut for cut in cuts if cut < len(stream)} | {0, len(stream)})
    framer = EventFramer()
    framed = [event for start, end in itertools.pairwise(points) for event in framer.feed(stream[start:end])]
    assert framer.rest() == b""
    assert [event_data(event) for event in framed] == [b"\n".join(line[6:] for line in lines) for lines in events]


def nested_json(depth: int) -> Any:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
        max_leaves=depth,
    )


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(child) for child in value), default=0)
    return 0


@QUICK
@given(value=nested_json(40), limit=st.integers(min_value=1, max_value=8))
def test_the_depth_guard_agrees_with_a_plain_recursive_count(value: Any, limit: int) -> None:
    assert json_depth_over_limit(value, limit) == (reference_depth(value) > limit)


@QUICK
@given(depth=st.integers(min_value=1, max_value=3000), wrapper=st.sampled_from([("[", "]"), ('{"a": ', "}")]))
def test_a_relay_body_is_parsed_or_refused_with_a_400_at_any_depth(depth: int, wrapper: tuple[str, str]) -> None:
    inner = "1"
    opening, closing = wrapper
    text = '{"model": "m", "x": ' + opening * depth + inner + closing * depth + "}"
    body, refused = outcome(parse_request_json, text.encode())
    if refused is not None:
        assert isinstance(refused, BadRequest)
        assert refused.code == "json_too_deep"
        assert depth + 1 > MAX_JSON_DEPTH
        return
    assert depth + 1 <= MAX_JSON_DEPTH
    assert body["model"] == "m"


@QUICK
@given(
    raw=st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | nested_json(20).map(lambda v: json.dumps(v).encode())
)
def test_any_bytes_are_a_json_object_or_a_400(raw: bytes) -> None:
    body, refused = outcome(parse_request_json, raw)
    if refused is not None:
        assert isinstance(refused, BadRequest)
        assert refused.status == 400
        return
    assert isinstance(body, dict)
