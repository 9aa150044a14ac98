"""One instance's channel-health decision is followed by every instance, through PostgreSQL and Redis."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.support.deployment import Deployment
from tests.support.processes import free_port, start_server, stop_server
from tests.support.webhook import WebhookReceiver

BODY = {"model": "solo-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def test_two_instances_agree_on_a_channel_circuit_within_a_second(
    on_postgres_and_redis: Deployment, fake_upstream: str
) -> None:
    gw, run = on_postgres_and_redis, uuid.uuid4().hex
    gw.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", f"fake;switch=solo-{run}",
        "--models", "solo-model",
    )  # fmt: skip
    gw.cli("price", "set", "solo-model", "--per-call", "0.001")
    token = gw.cli("token", "create", "--user", "alice")[0]
    headers = {"Authorization": f"Bearer {token['key']}"}
    hook = WebhookReceiver()
    hook.start()
    # Only Redis pub/sub can tell the other instance in time; the deciding instance probes often, the
    # watching one never, and could never open the circuit by itself.
    deciding = {**gw.env, "RELAYGATE_CHANGE_POLL_INTERVAL": "30", "RELAYGATE_CHANNEL_PROBE_INTERVAL": "0.2"}
    deciding["RELAYGATE_ALERT_WEBHOOK"] = hook.url
    watching = {**gw.env, "RELAYGATE_CHANGE_POLL_INTERVAL": "30", "RELAYGATE_CHANNEL_PROBE_INTERVAL": "3600"}
    watching["RELAYGATE_CHANNEL_FAILURE_THRESHOLD"] = "1000"
    ports = [free_port(), free_port()]
    processes = [start_server(deciding, ports[0]), start_server(watching, ports[1])]
    first, second = (f"http://127.0.0.1:{port}/v1/chat/completions" for port in ports)
    try:
        assert httpx.post(second, json=BODY, headers=headers).status_code == 200
        httpx.put(f"{fake_upstream}/_fake/switches/solo-{run}", json={"fail": 500}).raise_for_status()
        for _ in range(3):
            assert httpx.post(first, json=BODY, headers=headers).status_code == 500
        opened_at = time.monotonic()
        assert wait_for_status(second, headers, 503, opened_at) < 1.0  # model_not_available, without asking upstream

        httpx.delete(f"{fake_upstream}/_fake/switches/solo-{run}").raise_for_status()
        hook.wait_for("channel_restored")
        assert wait_for_status(second, headers, 200, time.monotonic()) < 1.0
    finally:
        for process in processes:
            stop_server(process)
        hook.stop()


def wait_for_status(url: str, headers: dict[str, str], status: int, since: float) -> float:
    """Seconds from `since` until `url` answers `status` (fails after 5 s)."""
    while time.monotonic() - since < 5:
        response = httpx.post(url, json=BODY, headers=headers)
        if response.status_code == status:
            return time.monotonic() - since
    raise AssertionError(f"{url} never answered {status}: {response.status_code} {response.text}")
