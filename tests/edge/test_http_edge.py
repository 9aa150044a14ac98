"""The HTTP edge of a real `relaygate serve` at `ulimit -n 1024`: header size and read time, slow
clients by the hundred, and a 413 the client can read (docs/security.md)."""

from __future__ import annotations

import http.client
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import free_port

MAX_BODY = 1024 * 1024
HEADER_TIMEOUT_S = 2


def _open_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("edge")
    port = free_port()
    env = {
        **os.environ,
        "RELAYGATE_DATA_DIR": str(data),
        "RELAYGATE_ROOT_PASSWORD": "root-password-for-tests",
        "RELAYGATE_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
        "RELAYGATE_MAX_BODY_BYTES": str(MAX_BODY),
    }
    log = (data / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "relaygate", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_open_file_limit,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not start")


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_headers_over_the_limit_get_431_at_once(edge: str) -> None:
    with socket.create_connection(_address(edge), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"request_header_fields_too_large" in answer
    assert b"RELAYGATE_MAX_HEADER_BYTES" in answer


def test_headers_just_under_the_limit_are_served(edge: str) -> None:
    response = httpx.get(edge + "/healthz", headers={"X-Padding": "a" * 30000})
    assert response.status_code == 200


def test_headers_that_do_not_arrive_in_time_get_408_and_a_close(edge: str) -> None:
    with socket.create_connection(_address(edge), timeout=HEADER_TIMEOUT_S * 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_keep_alive_connection_whose_next_headers_stall_gets_408(edge: str) -> None:
    """The header timer of a request after the first starts with its first byte, not with the connection."""
    with socket.create_connection(_address(edge), timeout=HEADER_TIMEOUT_S * 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'"ok"' not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_client_that_sends_its_next_request_seconds_after_its_answer_is_served(edge: str) -> None:
    """The keep-alive timer starts when the server writes an answer, not when the client reads it: a
    busy client (or a proxy with a longer idle timeout) that sends its next request six seconds later
    must be served, not reset. With a 5 s keep-alive a loaded CI run lost a request this way."""
    with socket.create_connection(_address(edge), timeout=30) as sock:
        for pause in (0.0, 6.0):
            time.sleep(pause)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b'"ok"' not in answer:
                chunk = sock.recv(65536)
                assert chunk, f"the connection closed after {pause:g} s idle instead of answering"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")


def test_real_requests_are_served_while_1100_slow_clients_dribble_headers(edge: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))  # this process holds the other ends
    slow: list[socket.socket] = []
    try:
        for _ in range(1100):
            sock = socket.create_connection(_address(edge), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        for sock in slow[::10]:
            sock.sendall(b"X-Slow: 1\r\n")
        with httpx.Client(timeout=10) as client:
            statuses = [client.get(edge + "/healthz", headers={"Connection": "close"}).status_code for _ in range(20)]
    finally:
        for sock in slow:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert statuses == [200] * 20


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/auth/login", 413), ("/v1/chat/completions", 401)],  # too large; answered before the body
)
def test_an_answer_before_the_body_is_read_reaches_a_client_still_sending(edge: str, path: str, status: int) -> None:
    # http.client (under `requests` and many SDKs) sends the whole body before it reads the answer:
    # if the server closes with the body unread, the reset makes the client lose the answer.
    body = b'{"model": "gpt-4o-mini", "pad": "' + b"a" * (8 * MAX_BODY) + b'"}'
    headers = {"Authorization": "Bearer sk-whatever", "Content-Type": "application/json", "Connection": "close"}
    connection = http.client.HTTPConnection(*_address(edge), timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == status
        assert response.read()
    finally:
        connection.close()


def test_a_keep_alive_client_answered_early_can_send_its_next_request(edge: str) -> None:
    # A small body answered before it was read (a 401 here) keeps the connection; a large one is
    # answered with `Connection: close`, so the client opens a new connection for the next request.
    with httpx.Client(base_url=edge, timeout=30) as client:
        for size in (10, 10, 4 * MAX_BODY // 8, 10):
            response = client.post(
                "/v1/chat/completions", content=b"x" * size, headers={"Authorization": "Bearer sk-unknown"}
            )
            assert response.status_code == 401
            assert (response.headers.get("connection") == "close") == (size > 64 * 1024)
            assert client.get("/healthz").status_code == 200
