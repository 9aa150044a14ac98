"""Bad input, unknown routes, health, request ids: every answer a JSON error in the route's protocol."""

from __future__ import annotations

import httpx

from tests.support.deployment import Deployment


def key_for(gw: Deployment) -> str:
    gw.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    return str(gw.cli("token", "create", "--user", "alice")[0]["key"])


def test_invalid_json_and_missing_model_are_400(gateway: Deployment) -> None:
    headers = {"Authorization": f"Bearer {key_for(gateway)}", "Content-Type": "application/json"}
    url = gateway.url + "/v1/chat/completions"
    bad = httpx.post(url, content=b"{not json", headers=headers)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_json")
    not_object = httpx.post(url, content=b"[1, 2]", headers=headers)
    assert (not_object.status_code, not_object.json()["error"]["code"]) == (400, "invalid_json")
    no_model = httpx.post(url, json={"messages": []}, headers=headers)
    assert no_model.status_code == 400
    assert no_model.json()["error"]["code"] == "missing_model"
    assert no_model.json()["error"]["param"] == "model"


def test_a_body_over_the_limit_is_413(tmp_path: object, fake_upstream: str) -> None:
    from pathlib import Path

    gw = Deployment(Path(str(tmp_path)) / "small", max_body_bytes=1000)
    gw.start()
    try:
        headers = {"Authorization": f"Bearer {key_for(gw)}"}
        big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 2000}]}
        response = httpx.post(gw.url + "/v1/chat/completions", json=big, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (413, "request_too_large")
        assert "RELAYGATE_MAX_BODY_BYTES" in response.json()["error"]["message"]
    finally:
        gw.stop()


def test_unknown_route_is_404_and_wrong_method_is_405(gateway: Deployment) -> None:
    missing = httpx.get(gateway.url + "/v1/nothing-here")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = httpx.get(gateway.url + "/v1/chat/completions")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
    wrong_health = httpx.post(gateway.url + "/healthz")
    assert wrong_health.status_code == 405
    assert wrong_health.json()["error"]["code"] == "method_not_allowed"


def test_health_readiness_and_request_ids(gateway: Deployment) -> None:
    health = httpx.get(gateway.url + "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert len(health.headers["x-request-id"]) == 32
    ready = httpx.get(gateway.url + "/readyz", headers={"X-Request-Id": "trace-123"})
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert ready.headers["x-request-id"] == "trace-123"


def test_metrics_count_relayed_requests(gateway: Deployment) -> None:
    headers = {"Authorization": f"Bearer {key_for(gateway)}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    metrics = httpx.get(gateway.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'relaygate_requests_total{endpoint="chat.completions",model="gpt-4o-mini",status="200"} 1' in metrics.text
    assert "relaygate_usage_records_pending" in metrics.text


def test_a_single_node_does_not_load_the_redis_client() -> None:
    """Memory counts (bench/RESULTS.md): only deployments with RELAYGATE_REDIS_URL import redis."""
    import subprocess
    import sys

    code = "import sys, relaygate.app, relaygate.cli.main; print('redis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
