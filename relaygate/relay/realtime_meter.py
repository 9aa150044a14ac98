"""Billing of a Realtime session, one response at a time.

Every response the upstream produces is paid for before any of it reaches the client: a
`response.create` from the client holds an estimate first (and is not forwarded if the hold is
refused), and a response the upstream starts on its own (server-side voice activity detection)
holds one when its `response.created` arrives, before that event is forwarded. Each `response.done`
settles its hold to the charge of its `usage`: `input_tokens` (of which
`input_token_details.cached_tokens` at the cached-input price) and `output_tokens`. Audio and text
tokens are charged alike, at the model's input and output prices: the price table has no separate
audio prices. A response cut off by the end of the session is charged the estimate it held, since
no usage will ever be reported for it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.estimate import estimate_prompt_tokens, requested_output_tokens
from relaygate.billing.ledger import Reservation
from relaygate.billing.prices import Price
from relaygate.limits.rate import Permit
from relaygate.relay.call import RelayCall
from relaygate.relay.openai_usage import usage_from
from relaygate.relay.pipeline import usage_record
from relaygate.runtime import Runtime

AUDIO_CHARACTERS_PER_TOKEN = 3_200  # an upper estimate: twice the audio tokens OpenAI reports for pcm16


@dataclass
class _Hold:
    reservation: Reservation
    estimate: Usage
    response_id: str | None = None


@dataclass
class RealtimeMeter:
    """Holds quota for each response of one session and settles it from `response.done`."""

    rt: Runtime
    principal: Principal
    model: str
    upstream_model: str
    channel_id: int
    price: Price
    multiplier: Fraction
    request_id: str
    permit: Permit  # the session counts as one request toward the token's rate limits
    tokens: int = 0  # tokens used so far, for the rate limiter's tpm window
    _unclaimed: deque[_Hold] = field(default_factory=deque)  # held for a response.create not yet started
    _running: dict[str, _Hold] = field(default_factory=dict)  # by response id
    _context_tokens: int = 0  # input tokens of the last response: the next one reads at least as many
    _new_input: int = 0  # an upper estimate of the tokens the client added since the last hold
    responses: int = 0

    async def hold_for_request(self, event: dict[str, Any]) -> None:
        """Before a client's `response.create` is forwarded: hold its estimate, or raise 429."""
        options = event.get("response") if isinstance(event.get("response"), dict) else {}
        self._unclaimed.append(await self._hold(options or {}))

    async def hold_for_start(self, event: dict[str, Any]) -> None:
        """Before an upstream `response.created` is forwarded: claim the hold made for it, or hold now."""
        response = event.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        hold = self._unclaimed.popleft() if self._unclaimed else await self._hold({})
        hold.response_id = str(response_id)
        self._running[hold.response_id] = hold

    async def settle_done(self, event: dict[str, Any]) -> None:
        """On `response.done`: charge its usage and release its hold."""
        response = event.get("response")
        if not isinstance(response, dict):
            return
        hold = self._running.pop(str(response.get("id")), None)
        if hold is None:  # a response.done without response.created: hold and settle at once
            hold = await self._hold({})
        usage = usage_from(response) or Usage()
        self._context_tokens = usage.prompt
        failed = response.get("status") == "failed" and usage == Usage()
        await self._settle(hold, usage, 502 if failed else 200)

    async def close(self) -> None:
        """The session ended: refund holds never started, charge the estimate of responses cut off."""
        while self._unclaimed:
            await self._settle(self._unclaimed.popleft(), Usage(), 499)
        for hold in list(self._running.values()):
            await self._settle(hold, hold.estimate, 200)
        self._running.clear()

    def note_client_event(self, text: str) -> None:
        """Count what the client adds to the conversation, so the next hold covers it."""
        if "input_audio_buffer.append" in text:
            # base64 of 24 kHz 16-bit audio: 64,000 characters a second, which is billed about 10 tokens
            self._new_input += len(text) // AUDIO_CHARACTERS_PER_TOKEN + 1
        else:
            self._new_input += len(text.encode()) // 3 + 1  # as `estimate_prompt_tokens` counts text

    async def _hold(self, options: dict[str, Any]) -> _Hold:
        estimate = Usage(
            prompt=self._context_tokens + self._new_input + estimate_prompt_tokens(options),
            completion=requested_output_tokens(options, self.rt.settings.default_max_output_tokens),
        )
        amount = charge_for(self.price, estimate, self.multiplier)
        token = self.principal.token
        reservation = await self.rt.ledger.reserve(token.id, self.principal.user.id, token.quota_limit, amount)
        self._new_input = 0
        return _Hold(reservation, estimate)

    async def _settle(self, hold: _Hold, usage: Usage, status: int) -> None:
        charge = charge_for(self.price, usage, self.multiplier) if status == 200 else 0
        self.tokens += usage.prompt + usage.completion
        self.responses += 1
        call = RelayCall(
            family=Family.REALTIME,
            endpoint="realtime",
            upstream_path="/v1/realtime",
            body={},
            raw=b"",
            model=self.model,
            stream=True,
            request_id=f"{self.request_id[:54]}-{self.responses}",  # one record per response
        )
        record = usage_record(self.principal, call, usage, status, self.channel_id, self.upstream_model)
        self.rt.metrics.observe("realtime", self.model, status, charge, record["latency_ms"])
        await self.rt.ledger.settle(hold.reservation, charge, record)
