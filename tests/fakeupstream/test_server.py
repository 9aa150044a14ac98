import asyncio
import http.client
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from relaygate.fakeupstream import (
    MODEL_IDS,
    chat_usage,
    completion_usage,
    create_fake_upstream_app,
    embedding_usage,
    embedding_vector,
    reply_text,
)
from relaygate.fakeupstream.behaviour import stream_pieces

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello to the test"}]
CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES}


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve `app` on a free port from a thread with its own event loop; yield its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def base_url() -> Iterator[str]:
    with serving(create_fake_upstream_app()) as url:
        yield url


@contextmanager
def sdk(base_url: str, key: str = "fake") -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0) as client:
        yield client


def call(
    base_url: str, method: str, path: str, body: Any = None, key: str | None = "fake"
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One plain HTTP request; a bytes body is sent as is, anything else as JSON."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def sse_chunks(raw: bytes) -> list[Any]:
    events = [line.removeprefix(b"data: ") for line in raw.split(b"\n\n") if line]
    assert events[-1] == b"[DONE]"
    return [json.loads(event) for event in events[:-1]]


def test_chat_completion_has_the_openai_shape_and_the_documented_usage(base_url: str) -> None:
    with sdk(base_url) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == reply_text(12)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    prompt_tokens, completion_tokens = chat_usage(CHAT)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (prompt_tokens, 12)
    assert completion.usage.total_tokens == prompt_tokens + completion_tokens
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


def test_streamed_chat_sends_role_words_finish_then_usage(base_url: str) -> None:
    with sdk(base_url) as client:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:
            chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].delta.content for chunk in chunks[1:6]] == list(stream_pieces(5))
    assert chunks[6].choices[0].finish_reason == "length"
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == chat_usage(CHAT | {"max_tokens": 5})


def test_streamed_chat_without_include_usage_has_no_usage_key(base_url: str) -> None:
    status, headers, raw = call(base_url, "POST", "/v1/chat/completions", CHAT | {"stream": True})
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    chunks = sse_chunks(raw)
    assert len(chunks) == 1 + 12 + 1
    assert all("usage" not in chunk and chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_legacy_completion_plain_and_streamed(base_url: str) -> None:
    request: dict[str, Any] = {"model": "gpt-4o-mini", "prompt": ["one two", "three"], "max_tokens": 20}
    with sdk(base_url) as client:
        completion = client.completions.create(model="gpt-4o-mini", prompt=["one two", "three"], max_tokens=20)
        stream = client.completions.create(
            model="gpt-4o-mini",
            prompt=["one two", "three"],
            max_tokens=20,
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:
            chunks = list(stream)
    assert completion.object == "text_completion"
    assert completion.choices[0].text == reply_text(12)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == completion_usage(request)
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices) == reply_text(12)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == sum(completion_usage(request))


def test_embeddings_in_the_sdk_default_base64_and_in_floats(base_url: str) -> None:
    inputs = ["hello world", "x"]
    with sdk(base_url) as client:
        response = client.embeddings.create(model="text-embedding-3-small", input=inputs)
    status, _, raw = call(base_url, "GET", "/_fake/requests")
    assert json.loads(raw)[-1]["body"]["encoding_format"] == "base64"
    assert [item.embedding for item in response.data] == [embedding_vector(text) for text in inputs]
    assert response.usage.prompt_tokens == embedding_usage({"input": inputs}) == 3

    status, _, raw = call(base_url, "POST", "/v1/embeddings", {"model": "e", "input": "hi"})
    assert status == 200
    assert json.loads(raw)["data"] == [{"object": "embedding", "index": 0, "embedding": embedding_vector("hi")}]


def test_models_are_listed(base_url: str) -> None:
    with sdk(base_url) as client:
        models = client.models.list()
    assert [model.id for model in models] == list(MODEL_IDS)
    assert {model.owned_by for model in models} == {"fake-upstream"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
    ],
)
def test_a_request_without_a_bearer_key_is_a_401(base_url: str, method: str, path: str) -> None:
    status, _, raw = call(base_url, method, path, CHAT if method == "POST" else None, key=None)
    assert status == 401
    error = json.loads(raw)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    assert set(error) == {"message", "type", "code", "param"}


@pytest.mark.parametrize(
    ("body", "param"),
    [(b"{not json", None), (b"", None), (b"[1]", None), ({"messages": CHAT["messages"]}, "model")],
)
def test_an_unreadable_body_or_a_missing_model_is_a_400(base_url: str, body: Any, param: str | None) -> None:
    status, _, raw = call(base_url, "POST", "/v1/chat/completions", body)
    assert status == 400
    error = json.loads(raw)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_fail_flag_answers_every_request_with_that_status(base_url: str) -> None:
    with sdk(base_url, key="fake;fail=503") as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.status_code == 503
    status, headers, raw = call(base_url, "GET", "/v1/models", key="fake;fail=429")
    assert (status, headers["Retry-After"]) == (429, "1")
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"


def test_fail_first_fails_only_the_first_requests_of_that_key(base_url: str) -> None:
    statuses = [call(base_url, "POST", "/v1/chat/completions", CHAT, key="k;fail-first=2")[0] for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert call(base_url, "POST", "/v1/chat/completions", CHAT, key="other;fail-first=1")[0] == 500


def test_no_usage_flag_leaves_usage_out_plain_and_streamed(base_url: str) -> None:
    with sdk(base_url, key="fake;no-usage") as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.usage is None
    body = CHAT | {"stream": True, "stream_options": {"include_usage": True}}
    _, _, raw = call(base_url, "POST", "/v1/chat/completions", body, key="fake;no-usage")
    assert all(chunk["usage"] is None for chunk in sse_chunks(raw))


def test_words_flag_sets_the_reply_length(base_url: str) -> None:
    _, _, raw = call(base_url, "POST", "/v1/chat/completions", CHAT, key="fake;words=3")
    answer = json.loads(raw)
    assert answer["choices"][0]["message"]["content"] == "fake reply word"
    assert answer["usage"]["completion_tokens"] == 3


def test_an_unknown_flag_is_a_400_naming_it(base_url: str) -> None:
    status, _, raw = call(base_url, "POST", "/v1/chat/completions", CHAT, key="fake;no_usage")
    assert status == 400
    assert "no_usage" in json.loads(raw)["error"]["message"]


def test_delay_flags_hold_the_answer_back(base_url: str) -> None:
    started = time.monotonic()
    call(base_url, "POST", "/v1/chat/completions", CHAT, key="fake;delay-ms=150")
    assert time.monotonic() - started >= 0.15


def test_a_client_leaving_a_slow_stream_is_no_server_error(caplog: pytest.LogCaptureFixture) -> None:
    with serving(create_fake_upstream_app()) as url:
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        headers = {"Authorization": "Bearer fake;chunk-delay-ms=30", "Content-Type": "application/json"}
        connection.request("POST", "/v1/chat/completions", json.dumps(CHAT | {"stream": True}), headers)
        response = connection.getresponse()
        assert response.read(20).startswith(b"data: {")
        connection.close()
        assert call(url, "POST", "/v1/chat/completions", CHAT)[0] == 200
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_request_log_records_requests_and_clears(base_url: str) -> None:
    call(base_url, "POST", "/v1/chat/completions", CHAT, key="fake;words=1")
    call(base_url, "GET", "/v1/models", key=None)
    _, _, raw = call(base_url, "GET", "/_fake/requests")
    log = json.loads(raw)
    assert all(isinstance(entry.pop("client_port"), int) for entry in log)
    assert log == [
        {
            "method": "POST",
            "path": "/v1/chat/completions",
            "authorization": "Bearer fake;words=1",
            "body": CHAT,
        },
        {"method": "GET", "path": "/v1/models", "authorization": None, "body": None},
    ]
    assert call(base_url, "DELETE", "/_fake/requests")[0] == 204
    assert json.loads(call(base_url, "GET", "/_fake/requests")[2]) == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_fake_upstream_prints_its_address_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    code = "from relaygate.fakeupstream import run_fake_upstream; run_fake_upstream('127.0.0.1', 0, 0)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake-upstream listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert call(url, "GET", "/v1/models")[0] == 200
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_fake_upstream_stops_promptly_with_an_answer_in_flight(stop_signal: signal.Signals) -> None:
    # What a loaded machine turns any request into: still being handled when the signal lands.
    code = "from relaygate.fakeupstream import run_fake_upstream; run_fake_upstream('127.0.0.1', 0, 0)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
        connection.request("GET", "/v1/models", headers={"Authorization": "Bearer fake;delay-ms=60000"})
        _wait_for_logged_request(url)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=20)
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr


def _wait_for_logged_request(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if json.loads(call(url, "GET", "/_fake/requests")[2]):
            return
        time.sleep(0.05)
    raise AssertionError("the slow request never reached the fake upstream")
