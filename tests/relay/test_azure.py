"""An Azure OpenAI channel: deployment URL, api-version, api-key header, billed like OpenAI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.support.billing import mini_charge
from tests.support.deployment import Deployment
from tests.support.servers import AiohttpThread


@pytest.fixture
def azure_upstream() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "query": dict(request.query), "headers": dict(request.headers)})
        if request.headers.get("api-key") != "azure-key":
            return web.json_response({"error": {"message": "bad key", "code": "401"}}, status=401)
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
        message = {"role": "assistant", "content": "hello from azure"}
        return web.json_response(
            {"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}
        )  # fmt: skip

    app = web.Application()
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat)
    server = AiohttpThread(app)
    url = server.start()
    yield url, seen
    server.stop()


def test_azure_channel_calls_the_deployment_with_its_api_key(
    gateway: Deployment, azure_upstream: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = azure_upstream
    gateway.cli(
        "channel", "add", "--type", "azure", "--base-url", f"{url}?api-version=2025-01-01-preview",
        "--key", "azure-key", "--models", "azure-mini", "--map", "azure-mini=my-deployment",
    )  # fmt: skip
    gateway.cli("price", "set", "azure-mini", "--input", "0.15", "--output", "0.6")
    gateway.runtime_poll()
    gateway.cli("user", "create", "alice", "--password", "password-123", "--balance-usd", "1")
    token = gateway.cli("token", "create", "--user", "alice")[0]
    with openai.OpenAI(api_key=token["key"], base_url=gateway.url + "/v1", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="azure-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hello from azure"
    [request] = seen
    assert request["path"] == "/openai/deployments/my-deployment/chat/completions"
    assert request["query"] == {"api-version": "2025-01-01-preview"}
    assert request["headers"]["api-key"] == "azure-key"
    assert "Authorization" not in request["headers"]
    gateway.flush()
    assert gateway.token(token["id"])["used_quota"] == mini_charge(11, 5)
