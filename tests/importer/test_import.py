"""`relaygate import new-api|one-api`: a live install moved over, its customers served as before.

Each source is built as new-api's or one-api's GORM models build it, on SQLite, PostgreSQL and
MariaDB; the import runs through the real CLI, then a real gateway serves the imported keys to the
official OpenAI SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import users
from tests.support.deployment import Deployment
from tests.support.legacy_gateways import PASSWORDS, Source, counts, fresh_gateway


def chat(gw: Deployment, key: str) -> Any:
    with openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0) as sdk:
        return sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])


def refused(gw: Deployment, key: str) -> tuple[int, str]:
    with pytest.raises(openai.APIStatusError) as caught:
        chat(gw, key)
    body = caught.value.body
    assert isinstance(body, dict)
    return caught.value.status_code, str(body.get("code") or body.get("error", {}).get("code"))


def test_an_imported_install_keeps_serving_its_customers(source: Source, tmp_path: Path) -> None:
    gw = fresh_gateway(tmp_path)
    report = gw.cli("import", source.kind, "--from", source.dsn)
    kinds = report["kinds"]
    assert not any("QuotaPerUnit" in note for note in kinds["users"]["notes"])  # theirs is 500000, as ours
    assert kinds["users"]["imported"] == 4  # root, alice, bob, carol; dave was deleted there
    assert kinds["users"]["skipped"] == [{"id": "5", "reason": "deleted in the source"}]
    assert kinds["tokens"]["imported"] == 6
    assert kinds["channels"]["imported"] == 5
    assert any("Baidu (type 15) is not a type relaygate serves" in note for note in kinds["channels"]["notes"])
    assert kinds["redemptions"]["imported"] == 1
    assert {"id": "2", "reason": "already redeemed"} in kinds["redemptions"]["skipped"]
    assert kinds["prices"]["imported"] == 4
    assert kinds["groups"]["imported"] == 2

    imported = {user["name"]: user for user in gw.cli("user", "list")}
    their_root = "root_" + source.kind.replace("-", "")
    assert imported["root"]["role"] == "root"
    assert imported[their_root]["role"] == "admin"
    alice = imported["alice"]
    assert (alice["balance"], alice["used_quota"], alice["request_count"], alice["group"]) == (
        1_000_000, 250_000, 42, "vip",
    )  # fmt: skip
    assert imported["bob"]["role"] == "admin"
    assert imported["carol"]["status"] == "disabled"
    by_name = {token["name"]: token for token in gw.cli("token", "list")}
    assert (by_name["prod"]["quota_limit"], by_name["prod"]["used_quota"]) == (750_000, 150_000)
    assert by_name["prod"]["models"] == ["gpt-4o-mini", "gpt-4o"]
    assert by_name["unlimited"]["quota_limit"] is None
    assert by_name["unlimited"]["used_quota"] == 50_000
    assert by_name["office"]["allow_ips"] == ["10.0.0.0/8", "192.168.1.5/32"]
    priced = {p["model"]: p for p in gw.cli("price", "list")}
    assert (priced["gpt-4o-mini"]["input"], priced["gpt-4o-mini"]["output"]) == ("0.15", "0.6")
    assert priced["dall-e-3"]["per_call"] == "0.04"
    assert priced["gpt-4o-mini"]["cached_input"] == ("0.075" if source.kind == "new-api" else None)  # CacheRatio
    served = {channel["name"]: channel for channel in gw.cli("channel", "list")}
    assert served["fake openai"]["model_map"] == {"gpt-4o": "gpt-4o-mini"}
    assert served["fake openai"]["groups"] == ["default", "vip"]
    assert served["fake openai"]["weight"] == (10 if source.kind == "new-api" else 1)
    assert served["azure east"]["base_url"] == "https://east.example.openai.azure.com?api-version=2024-02-01"
    assert [served[name]["status"] for name in ("fake openai", "azure east", "claude")] == [
        "enabled", "disabled", "disabled",
    ]  # fmt: skip
    assert served[f"wenxin ({source.kind} type Baidu)"]["status"] == "disabled"
    pool_hints = [key["hint"] for key in served["pool"]["keys"]]  # a new-api multi-key channel keeps every key
    assert pool_hints == (["ups...ey-1", "ups...ey-2", "ups...ey-3"] if source.kind == "new-api" else ["ups...pool"])
    assert gw.books()["balanced"], gw.books()

    gw.start()
    try:
        prod = source.keys["prod"]
        assert chat(gw, prod).choices[0].message.content  # their key as they stored it, without sk-
        assert chat(gw, "sk-" + prod).choices[0].message.content
        gw.flush()
        after = gw.user("alice")
        spent = 1_000_000 - after["balance"]
        assert spent > 0
        assert gw.token(by_name["prod"]["id"])["used_quota"] == 150_000 + spent
        assert refused(gw, source.keys["nearly"]) == (429, "token_quota_exceeded")  # 1 unit left there
        assert refused(gw, source.keys["expired"]) == (401, "token_expired")
        assert refused(gw, "sk-" + source.keys["disabled"]) == (401, "token_disabled")
        assert refused(gw, source.keys["office"]) == (403, "ip_not_allowed")

        with httpx.Client(base_url=gw.url, timeout=30) as console:
            login = console.post("/api/auth/login", json={"username": "alice", "password": PASSWORDS["alice"]})
            assert login.status_code == 200, login.text
            console.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            assert gw.db(_password_hash_of("alice")).startswith("$argon2id$")
            redeemed = console.post("/api/redeem", json={"code": source.codes["fresh"]})
            assert redeemed.status_code == 200, redeemed.text
            assert redeemed.json()["balance"] == after["balance"] + 300_000
            again = console.post("/api/redeem", json={"code": source.codes["fresh"]})
            assert (again.status_code, again.json()["error"]["code"]) == (409, "already_redeemed")
            assert console.post("/api/redeem", json={"code": source.codes["used"]}).status_code == 404
        with httpx.Client(base_url=gw.url, timeout=30) as console:  # the new argon2 hash logs in too
            relogin = console.post("/api/auth/login", json={"username": "alice", "password": PASSWORDS["alice"]})
            assert relogin.status_code == 200
            wrong = console.post("/api/auth/login", json={"username": "bob", "password": "not-bobs-password"})
            assert wrong.status_code == 401
        gw.flush()
        assert gw.books()["balanced"], gw.books()
    finally:
        gw.stop()

    before = counts(gw)
    second = gw.cli("import", source.kind, "--from", source.dsn)
    assert second["imported"] == 0
    assert second["kinds"]["users"]["already_imported"] == 4
    assert second["kinds"]["tokens"]["already_imported"] == 6
    assert counts(gw) == before
    assert gw.books()["balanced"]


def _password_hash_of(name: str) -> Any:
    async def read(conn: AsyncConnection) -> str:
        return str((await conn.execute(select(users.c.password_hash).where(users.c.name == name))).scalar_one())

    return read
