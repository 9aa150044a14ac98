"""`relaygate serve` as an operator runs it: a real process, its first start, and a clean SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.deployment import Deployment
from tests.support.processes import free_port, start_server, stop_server


def test_first_start_prints_the_generated_root_password_once_and_never_logs_it(tmp_path: Path) -> None:
    env = {"RELAYGATE_DATA_DIR": str(tmp_path / "data"), "RELAYGATE_SECRET_KEY": "k" * 32}
    port = free_port()
    out, err = stop_server(start_server(env, port))
    [line] = [line for line in out.splitlines() if "password" in line]
    password = line.rsplit(" ", 1)[-1]
    assert len(password) >= 16
    assert password not in err
    out_again, _ = stop_server(start_server(env, port))
    assert "password" not in out_again


def test_sigterm_writes_every_pending_usage_record(tmp_path: Path, fake_upstream: str) -> None:
    gw = Deployment(tmp_path / "data", flush_interval=3600)
    gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake", "--models", "gpt-4o-mini"
    )
    gw.cli("price", "set", "gpt-4o-mini", "--input", "1", "--output", "1")
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    token = gw.cli("token", "create", "--user", "alice")[0]
    port = free_port()
    process = start_server(gw.env, port)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(25):
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {token['key']}"},
        )
        assert response.status_code == 200
    assert gw.token(token["id"])["used_quota"] == 0, "nothing is written before the flush interval"
    stop_server(process)
    # prompt 3+1+3 = 7 and completion 12 at 1 USD per 1M each: 19 / 1e6 USD = 9.5 units, so 10 a request
    assert gw.token(token["id"])["used_quota"] == 25 * 10
    assert gw.user("alice")["balance"] == 500_000 - 250
    assert gw.books()["balanced"]
