"""A representative mix of traffic and errors through a real `relaygate serve`, then a grep of every
log line, every answer and /metrics for every secret the run created: zero hits.

Also what the secrets rules promise beside it: `Cache-Control: no-store` on answers with a full
key, a bearer token on /metrics, and owner-only data files.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from click.testing import CliRunner
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from relaygate.cli.main import cli
from tests.support.processes import free_port

ROOT_PASSWORD = "root-Pa55word-for-the-leak-test"
ALICE_PASSWORD = "alice-Pa55word-for-the-leak-test"
METRICS_TOKEN = "metrics-token-for-the-leak-test-0123"
# A channel key of a provider's shape (passed through a 400 verbatim by the relay unless scrubbed),
# and one of no known shape (refused with 5xx: scrubbed with the channel's own key).
SHAPED_CHANNEL_KEY = "sk-proj-LeakTestChannelKey0123456789abcdef;fail=400;echo-key"
PLAIN_CHANNEL_KEY = "plainchannelsecret;fail=503;echo-key"
ORGANISATION = "org-FakeUpstream0rg1d2345"  # what the fake upstream echoes with the key


@dataclass
class Run:
    url: str
    log: Path
    data: Path
    secrets: set[str] = field(default_factory=lambda: {ROOT_PASSWORD, ALICE_PASSWORD, METRICS_TOKEN, ORGANISATION})
    answers: list[str] = field(default_factory=list)  # every answer body that must not hold a secret

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.answers.append(response.text)
        return response


def _cli(env: dict[str, str | None], *args: str) -> None:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, fake_upstream: str) -> Run:
    base = tmp_path_factory.mktemp("leaks")
    data = base / "data"
    env: dict[str, str | None] = {
        "RELAYGATE_DATA_DIR": str(data),
        "RELAYGATE_ROOT_PASSWORD": ROOT_PASSWORD,
        "RELAYGATE_METRICS_TOKEN": METRICS_TOKEN,
        "RELAYGATE_FLUSH_INTERVAL": "0.2",
        "RELAYGATE_RETRIES": "0",
    }
    env["RELAYGATE_SECRET_KEY"] = None  # generated into the data dir, as on a first start
    env["RELAYGATE_DATABASE_URL"] = None
    for key, models in (("fake", "gpt-4o-mini"), (SHAPED_CHANNEL_KEY, "gpt-4o"), (PLAIN_CHANNEL_KEY, "o1")):
        _cli(env, "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", key, "--models", models)
    for model in ("gpt-4o-mini", "gpt-4o", "o1"):
        _cli(env, "price", "set", model, "--input", "1", "--output", "1")
    _cli(
        env,
        "channel",
        "add",
        "--type",
        "anthropic",
        "--base-url",
        fake_upstream,
        "--key",
        "fake",
        "--models",
        "claude-3-5-haiku",
    )
    _cli(
        env,
        "channel",
        "add",
        "--type",
        "gemini",
        "--base-url",
        fake_upstream,
        "--key",
        "fake",
        "--models",
        "gemini-2.0-flash",
    )
    for model in ("claude-3-5-haiku", "gemini-2.0-flash"):
        _cli(env, "price", "set", model, "--input", "1", "--output", "1")
    port = free_port()
    log = base / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "relaygate", "serve", "--port", str(port)],
            env={**{k: v for k, v in os.environ.items() if k not in env}, **{k: v for k, v in env.items() if v}},
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process)
        result = Run(url, log, data, secrets={ROOT_PASSWORD, ALICE_PASSWORD, METRICS_TOKEN, ORGANISATION})
        result.secrets |= {SHAPED_CHANNEL_KEY.split(";")[0], PLAIN_CHANNEL_KEY.split(";")[0]}
        _drive_traffic(result)
    finally:
        process.terminate()
        process.wait(60)
    return result


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    with httpx.Client() as client:
        for _ in range(600):
            if process.poll() is not None:
                break
            try:
                if client.get(url + "/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
    raise AssertionError("the gateway did not start")


def _drive_traffic(run: Run) -> None:
    with httpx.Client(base_url=run.url, timeout=30) as api:
        run.keep(api.post("/api/auth/login", json={"username": "root", "password": "wrong-" + ROOT_PASSWORD}))
        login = run.keep(api.post("/api/auth/login", json={"username": "root", "password": ROOT_PASSWORD}))
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        access = api.post("/api/access-keys", json={"name": "script"}, headers=csrf)
        assert access.headers["cache-control"] == "no-store"
        run.secrets.add(access.json()["key"])
        admin = {"Authorization": f"Bearer {access.json()['key']}"}
        user = {"name": "alice", "password": ALICE_PASSWORD, "balance_usd": "10"}
        run.keep(api.post("/api/users", json=user, headers=admin))
    with httpx.Client(base_url=run.url, timeout=30) as alice:
        login = run.keep(alice.post("/api/auth/login", json={"username": "alice", "password": ALICE_PASSWORD}))
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        created = alice.post("/api/tokens", json={"name": "t", "count": 2}, headers=csrf)
        assert created.headers["cache-control"] == "no-store"
        keys = [item["key"] for item in created.json()["items"]]
        rotated = alice.post(f"/api/tokens/{created.json()['items'][1]['id']}/rotate", headers=csrf)
        assert rotated.headers["cache-control"] == "no-store"
        run.secrets |= {*keys, rotated.json()["key"]}
        run.keep(alice.get("/api/tokens"))
        run.keep(alice.get("/api/usage"))
    _relay_traffic(run, keys[0], old_key=keys[1])


def _relay_traffic(run: Run, key: str, old_key: str) -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    with openai.OpenAI(api_key=key, base_url=run.url + "/v1", max_retries=0) as sdk:
        sdk.chat.completions.create(model="gpt-4o-mini", **chat)  # type: ignore[call-overload]
        list(sdk.chat.completions.create(model="gpt-4o-mini", stream=True, **chat))  # type: ignore[call-overload]
        for model in ("gpt-4o", "o1"):  # upstream errors that echo the channel key and the organisation
            with pytest.raises(openai.APIStatusError) as caught:
                sdk.chat.completions.create(model=model, **chat)  # type: ignore[call-overload]
            run.answers.append(caught.value.response.text)
    with anthropic.Anthropic(api_key=key, base_url=run.url, max_retries=0) as claude:
        claude.messages.create(model="claude-3-5-haiku", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with httpx.Client(base_url=run.url, timeout=30) as raw:
        gemini = {"contents": [{"parts": [{"text": "hi"}]}]}
        run.keep(raw.post(f"/v1beta/models/gemini-2.0-flash:generateContent?key={key}", json=gemini))
        run.keep(raw.post(f"/v1beta/models/gemini-2.0-flash:generateContent?key={old_key}", json=gemini))
        run.keep(raw.post("/v1/chat/completions", json=chat | {"model": "gpt-4o-mini"}, headers={"Authorization": key}))
        run.keep(
            raw.post(
                "/v1/chat/completions", json={"model": "gpt-4o-mini"}, headers={"Authorization": f"Bearer {old_key}"}
            )
        )
        assert run.keep(raw.get("/metrics")).status_code == 401
        metrics = raw.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200
        run.answers.append(metrics.text)
    for query in (f"?model=gpt-4o-mini&key={key}", f"?model=gpt-4o-mini&key={old_key}"):
        try:
            with connect(run.url.replace("http", "ws") + "/v1/realtime" + query, open_timeout=10):
                pass
        except InvalidStatus as refused:
            run.answers.append(refused.response.body.decode() if refused.response.body else "")


def test_no_secret_in_any_log_line(run: Run) -> None:
    log = run.log.read_text()
    assert log.count("\n") > 10  # the run was logged (startup, requests, warnings)
    assert [secret for secret in run.secrets if secret in log] == []


def test_no_secret_in_any_answer_or_in_metrics(run: Run) -> None:
    assert len(run.answers) > 10
    leaked = [(secret, answer[:200]) for answer in run.answers for secret in run.secrets if secret in answer]
    assert leaked == []


def test_upstream_errors_keep_their_status_and_a_useful_message(run: Run) -> None:
    # The upstream's echo ("...provided: KEY"), not the gateway's own invalid-key message ("...provided.").
    echoed = [answer for answer in run.answers if "Incorrect API key provided:" in answer]
    assert len(echoed) == 2  # the message still says what went wrong, without the key
    assert all("[redacted]" in answer for answer in echoed)


def test_the_data_files_are_owner_only(run: Run) -> None:
    assert stat.S_IMODE(run.data.stat().st_mode) == 0o700
    files = [path for path in run.data.iterdir() if path.is_file()]
    assert {path.name for path in files} >= {"relaygate.db", "secret.key"}
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files} == {
        path.name: oct(0o600) for path in files
    }
