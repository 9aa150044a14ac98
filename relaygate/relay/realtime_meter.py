"""Billing of a Realtime session, one response at a time.

Every response the upstream produces is paid for before any of it reaches the client: a
`response.create` from the client holds first (and is not forwarded if the hold is refused), and a
response the upstream starts on its own (server-side voice activity detection) holds when its
`response.created` arrives, before that event is forwarded. Each hold goes through the billed
lifecycle (`relay.lifecycle`): its output limit is written into the forwarded `response.create`
(capped to what the quota pays for under RELAYGATE_HOLD_POLICY=cap), and the session's own
`max_response_output_tokens` is kept at the same bound for the responses the upstream starts, so
no response can be charged more than it held. Each `response.done` settles its hold to the charge
of its `usage`: `input_tokens` (of which `input_token_details.cached_tokens` at the cached-input
price, `audio_tokens` at the audio price) and `output_tokens`. A response cut off by the end of the
session is charged what it held, since no usage will ever be reported for it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.billing.estimate import prompt_token_bound, requested_output_tokens
from relaygate.relay.call import RelayCall
from relaygate.relay.lifecycle import Admission, Hold
from relaygate.relay.openai.usage import usage_from

AUDIO_CHARACTERS_PER_TOKEN = 3_200  # an upper estimate: twice the audio tokens OpenAI reports for pcm16


@dataclass
class RealtimeMeter:
    """Holds quota for each response of one session and settles it from `response.done`."""

    admission: Admission
    upstream_model: str
    channel_id: int
    request_id: str
    output_bound: int  # the most output any response of the session may have: the model's, or the default
    upstream_secrets: tuple[str, ...]  # the channel's key: never relayed back in an upstream error event
    _unclaimed: deque[Hold] = field(default_factory=deque)  # held for a response.create not yet started
    _running: dict[str, Hold] = field(default_factory=dict)  # by response id
    _context_tokens: int = 0  # input tokens of the last response: the next one reads at least as many
    _new_input: int = 0  # an upper estimate of the tokens the client added since the last hold
    _session_output: int | None = None  # the session's max_response_output_tokens, as the client set it
    responses: int = 0

    def session_limit(self) -> dict[str, Any]:
        """The `session.update` that bounds the responses the upstream starts on its own."""
        return {"type": "session.update", "session": {"max_response_output_tokens": self._session_bound()}}

    def bound_session_update(self, event: dict[str, Any]) -> dict[str, Any]:
        """A client's `session.update` with its response output limit kept within the bound."""
        session = event.get("session")
        if not isinstance(session, dict) or "max_response_output_tokens" not in session:
            return event
        asked = requested_output_tokens(session)
        self._session_output = asked
        return {**event, "session": {**session, "max_response_output_tokens": self._session_bound()}}

    async def hold_for_request(self, event: dict[str, Any]) -> dict[str, Any]:
        """Before a client's `response.create` is forwarded: hold for it (or raise 429); returns the
        event to forward, with the output limit it was held for."""
        options = event.get("response") if isinstance(event.get("response"), dict) else {}
        hold = await self._hold(options or {})
        self._unclaimed.append(hold)
        return {**event, "response": {**(options or {}), "max_output_tokens": hold.output_limit}}

    async def hold_for_start(self, event: dict[str, Any]) -> None:
        """Before an upstream `response.created` is forwarded: claim the hold made for it, or hold now."""
        response = event.get("response")
        response_id = response.get("id") if isinstance(response, dict) else None
        hold = self._unclaimed.popleft() if self._unclaimed else await self._hold({}, adjustable=False)
        self._running[str(response_id)] = hold

    async def settle_done(self, event: dict[str, Any]) -> None:
        """On `response.done`: charge its usage and release its hold."""
        response = event.get("response")
        if not isinstance(response, dict):
            return
        hold = self._running.pop(str(response.get("id")), None)
        if hold is None:  # a response.done without response.created: hold and settle at once
            hold = await self._hold({}, adjustable=False)
        usage = usage_from(response) or Usage()
        self._context_tokens = usage.prompt
        failed = response.get("status") == "failed" and usage == Usage()
        await self._settle(hold, usage, 502 if failed else 200)

    async def close(self) -> None:
        """The session ended: refund holds never started, charge what responses cut off held."""
        while self._unclaimed:
            await self._settle(self._unclaimed.popleft(), Usage(), 499)
        for hold in list(self._running.values()):
            held = Usage(
                prompt=hold.call.estimate.prompt if hold.call.estimate else 0, completion=hold.output_limit or 0
            )
            await self._settle(hold, held, 200)
        self._running.clear()

    def note_client_event(self, text: str) -> None:
        """Count what the client adds to the conversation, so the next hold covers it."""
        if "input_audio_buffer.append" in text:
            # base64 of 24 kHz 16-bit audio: 64,000 characters a second, which is billed about 10 tokens
            self._new_input += len(text) // AUDIO_CHARACTERS_PER_TOKEN + 1
        else:
            self._new_input += len(text.encode())  # no more tokens than bytes, as every prompt is bounded

    def _session_bound(self) -> int:
        asked = self._session_output
        return self.output_bound if asked is None else min(asked, self.output_bound)

    async def _hold(self, options: dict[str, Any], *, adjustable: bool = True) -> Hold:
        prompt = self._context_tokens + self._new_input + prompt_token_bound(options)
        asked = requested_output_tokens(options)
        output = min(asked, self.output_bound) if asked is not None else self._session_bound()
        self.responses += 1
        call = RelayCall(
            family=Family.REALTIME,
            endpoint="realtime",
            upstream_path="/v1/realtime",
            body=options,
            raw=b"",
            model=self.admission.model,
            stream=True,
            request_id=f"{self.request_id[:54]}-{self.responses}",  # one record per response
            generates=adjustable,  # a response the upstream already started can only be held, not limited
            estimate=Usage(prompt=prompt),
        )
        hold = await self.admission.reserve(call, prompt, output)
        if hold.output_limit is None:
            hold.output_limit = output
        self._new_input = 0
        return hold

    async def _settle(self, hold: Hold, usage: Usage, status: int) -> None:
        hold.served_by(self.channel_id, self.upstream_model, status)
        hold.usage = usage
        await hold.settle()
