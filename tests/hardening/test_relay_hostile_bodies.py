"""Hand-written hostile requests over every JSON relay route of a real gateway: each gets a 4xx in
the protocol of its route (never a 5xx, never a traceback), deep JSON included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.deployment import Deployment
from tests.support.keys import new_key

DEEP = 500  # deep enough to break any recursive walk of the request (estimates, conversions)


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# route, family of its error body, a valid-looking body to spoil
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("/v1/chat/completions", "openai", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/completions", "openai", {"model": "gpt-4o-mini", "prompt": "hi"}),
    ("/v1/responses", "openai", {"model": "gpt-4o-mini", "input": "hi"}),
    ("/v1/embeddings", "openai", {"model": "text-embedding-3-small", "input": "hi"}),
    ("/v1/images/generations", "openai", {"model": "gpt-4o-mini", "prompt": "hi"}),
    ("/v1/moderations", "openai", {"model": "gpt-4o-mini", "input": "hi"}),
    ("/v1/audio/speech", "openai", {"model": "gpt-4o-mini", "input": "hi", "voice": "alloy"}),
    (
        "/v1/messages",
        "anthropic",
        {"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    ),
    (
        "/v1/messages/count_tokens",
        "anthropic",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    ),
    ("/v1beta/models/gpt-4o-mini:generateContent", "gemini", {"contents": [{"parts": [{"text": "hi"}]}]}),
    ("/v1beta/models/gpt-4o-mini:countTokens", "gemini", {"contents": [{"parts": [{"text": "hi"}]}]}),
    ("/v1/models/gpt-4o-mini:streamGenerateContent?alt=sse", "gemini", {"contents": [{"parts": [{"text": "hi"}]}]}),
    ("/mj/submit/imagine", "midjourney", {"prompt": "a cat"}),
    ("/suno/submit/music", "suno", {"prompt": "a song"}),
]

RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"a string"',
    b"1e999999",
    b'{"model": "gpt-4o-mini", "messages": "\xff\xfe not utf-8"}',
    b'{"model": "\\ud800", "messages": []}',
    b"[" * 2000 + b"]" * 2000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
]

SPOILERS: list[dict[str, Any]] = [
    {"model": 12},
    {"model": None},
    {"model": "x" * 100_000},
    {"model": "gpt-4o-mini\x00"},
    {"messages": "not a list"},
    {"messages": [None, 1, "x", []]},
    {"messages": [{"role": "user", "content": {"type": "text"}}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": None}]}]},
    {"messages": [{"role": "user", "content": nested(DEEP)}]},
    {"contents": nested(DEEP)},
    {"input": nested(DEEP)},
    {"prompt": {"deep": nested(DEEP)}},
    {"max_tokens": -1},
    {"max_tokens": 2**64},
    {"max_tokens": "many"},
    {"max_output_tokens": 1e308},
    {"stream": "yes"},
    {"stream_options": "none"},
    {"n": 2**63},
    {"temperature": "hot"},
    {"tools": [{"type": "function", "function": {"parameters": nested(DEEP)}}]},
    {"generationConfig": {"maxOutputTokens": -5}},
    {"contents": [{"parts": None}]},
    {"action": "UPSCALE", "index": 2**70, "taskId": "../../etc/passwd"},
]


@pytest.fixture(scope="module")
def hostile_gateway(tmp_path_factory: pytest.TempPathFactory, fake_upstream: str) -> Iterator[tuple[Deployment, str]]:
    gw = Deployment(tmp_path_factory.mktemp("hostile") / "data")
    for kind, models in (
        ("openai", "gpt-4o-mini,text-embedding-3-small"),
        ("midjourney", "mj_imagine"),
        ("suno", "suno_music"),
    ):
        gw.cli("channel", "add", "--type", kind, "--base-url", fake_upstream, "--key", "fake", "--models", models)
    for model in ("gpt-4o-mini", "text-embedding-3-small"):
        gw.cli("price", "set", model, "--input", "0.15", "--output", "0.6")
    for model in ("mj_imagine", "suno_music"):
        gw.cli("price", "set", model, "--per-call", "0.01")
    gw.start()
    key, _ = new_key(gw, usd="100")
    yield gw, key
    gw.stop()


def error_code(family: str, response: httpx.Response) -> object:
    """The error code of a body in the route's protocol (each official SDK parses its own)."""
    body = response.json()
    if family == "anthropic":
        assert body["type"] == "error"
        return body["error"]["type"]
    if family == "gemini":
        assert set(body["error"]) == {"code", "message", "status"}
        return body["error"]["status"]
    if family == "midjourney":
        assert set(body) == {"code", "description"}
        return body["code"]
    if family == "suno":
        return body["code"]
    assert set(body["error"]) == {"message", "type", "code", "param"}
    return body["error"]["code"]


def send(client: httpx.Client, key: str, path: str, content: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return client.post(path, content=content, headers=headers)


@pytest.mark.parametrize(("path", "family", "good"), ROUTES, ids=[route[0] for route in ROUTES])
def test_hostile_bodies_get_a_4xx_in_the_routes_protocol(
    hostile_gateway: tuple[Deployment, str], path: str, family: str, good: dict[str, Any]
) -> None:
    gw, key = hostile_gateway
    bodies = [*RAW_BODIES, *(json.dumps(good | spoiler).encode() for spoiler in SPOILERS)]
    failures = []
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        responses = [(body, send(client, key, path, body)) for body in bodies]
    for body, response in responses:
        if response.status_code >= 500 and response.status_code != 503:
            failures.append((body[:80], response.status_code, response.text[:200]))
            continue
        if response.status_code >= 400:
            error_code(family, response)
    assert failures == []


@pytest.mark.parametrize(
    ("path", "family", "good"),
    [ROUTES[0], ROUTES[7], ROUTES[9], ROUTES[12]],
    ids=lambda value: str(value) if isinstance(value, str) and value.startswith("/") else "",
)
def test_deep_json_is_a_400_before_anything_reads_it(
    hostile_gateway: tuple[Deployment, str], path: str, family: str, good: dict[str, Any]
) -> None:
    gw, key = hostile_gateway
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        response = send(
            client, key, path, json.dumps(good | {"messages": [{"role": "user", "content": nested(DEEP)}]}).encode()
        )
    assert response.status_code == 400
    code = error_code(family, response)
    assert code in {"json_too_deep", "invalid_request_error", "INVALID_ARGUMENT", 400}
    assert "levels deep" in response.text


@pytest.mark.parametrize("header", ["Authorization", "x-api-key"])
def test_a_credential_header_sent_twice_is_refused(hostile_gateway: tuple[Deployment, str], header: str) -> None:
    gw, key = hostile_gateway
    value = f"Bearer {key}" if header == "Authorization" else key
    headers = [(header, value), (header, value), ("Content-Type", "application/json")]
    response = httpx.post(gw.url + "/v1/messages", headers=headers, json=ROUTES[7][2], timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    response = httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=ROUTES[0][2], timeout=30)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_authorization_header")
    assert key[3:11] not in response.text
