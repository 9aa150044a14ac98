"""The one lifecycle of every billed request: authorise, quote, permit, hold, relay, settle, release.

Chat and media requests, task submissions and each response of a Realtime session all go through
here, so a money rule is written once:

- `admitted(...)` authorises the model, quotes its price and the group's multiplier, and holds a
  rate-limit permit until the request (or session) ends.
- `Admission.reserve(...)` holds quota for one billed exchange. Under `RELAYGATE_HOLD_POLICY=cap`
  an exchange whose output limit does not fit the quota left is held for the output that does fit
  (the limit the upstream is then sent), and refused only when not even the prompt and a minimum
  answer fit; under `refuse` it is refused.
- `Hold.settle()` charges the usage, never more than the hold: what the upstream's reported usage
  would cost beyond it is recorded as an upstream overrun of the channel, not billed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

from relaygate.auth.check import Principal, authorise_model, serving_group
from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.hold import affordable_output, hold_for
from relaygate.billing.ledger import Reservation, insufficient_balance, token_quota_exceeded
from relaygate.billing.prices import Price
from relaygate.billing.usage_record import UsageRecord
from relaygate.clock import now
from relaygate.errors import GatewayError, InsufficientBalance, ModelNotPriced, QuotaRefused
from relaygate.limits.rate import Permit
from relaygate.relay.call import RelayCall
from relaygate.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_USAGE = Usage()  # frozen: every hold may start from the same one
FREE = Price()  # what a free call (token counting) is charged: it still writes a usage record
MIN_OUTPUT_TOKENS = 16  # a capped request is refused when not even this much answer fits
CAP_ATTEMPTS = 3  # holds tried again when concurrent requests took the room a capped hold was sized for


@dataclass(slots=True)
class Admission:
    """An authorised request (or Realtime session) of one principal for one model, with its permit."""

    rt: Runtime
    principal: Principal
    model: str
    price: Price
    multiplier: Fraction
    permit: Permit
    tokens: int = 0  # prompt + completion tokens of the exchanges settled, for the rate limiter's tpm

    async def reserve(self, call: RelayCall, prompt: int, output: int | None, calls: int = 1) -> Hold:
        """Hold quota for one exchange of at most `prompt` prompt and `output` output tokens.

        A call that generates (chat, responses, ...) goes upstream with `output` as its limit
        (`Hold.output_limit`), capped or refused by the hold policy when it does not fit; for any
        other call `output` is only held (an image's or a transcript's tokens, which no field limits).
        """
        amount = hold_for(self.price, self.multiplier, prompt, output or 0, calls, writes_cache=call.writes_cache)
        try:
            reservation = await self._reserve(amount)
        except QuotaRefused as refused:
            if output is None or not call.generates or self.rt.settings.hold_policy != "cap":
                raise
            return await self._reserve_capped(call, prompt, output, calls, refused)
        return Hold(self, call, reservation, output if call.generates else None, capped=False)

    async def _reserve_capped(
        self, call: RelayCall, prompt: int, wanted: int, calls: int, refused: QuotaRefused
    ) -> Hold:
        minimum = min(minimum_output(call), wanted)
        for _ in range(CAP_ATTEMPTS):
            fits = affordable_output(
                self.price, self.multiplier, prompt, refused.available, writes_cache=call.writes_cache
            )
            if fits is not None and fits < minimum:
                least = hold_for(self.price, self.multiplier, prompt, minimum, calls, writes_cache=call.writes_cache)
                if isinstance(refused, InsufficientBalance):
                    raise insufficient_balance(refused.available, least) from refused
                raise token_quota_exceeded(refused.available, least) from refused
            output = wanted if fits is None else min(fits, wanted)
            amount = hold_for(self.price, self.multiplier, prompt, output, calls, writes_cache=call.writes_cache)
            try:
                reservation = await self._reserve(amount)
            except QuotaRefused as again:
                refused = again
                continue
            return Hold(self, call, reservation, output, capped=output < wanted)
        raise refused

    async def _reserve(self, amount: int) -> Reservation:
        token, user = self.principal.token, self.principal.user
        return await self.rt.ledger.reserve(token.id, user.id, token.quota_limit, amount)


@dataclass(slots=True)
class Hold:
    """Quota held for one exchange; the relay fills in what happened, `settle` bills it once."""

    admission: Admission
    call: RelayCall
    reservation: Reservation
    output_limit: int | None  # what the upstream is told it may write (None: nothing to limit)
    capped: bool  # the limit is below what the request asked for, because of the quota left
    usage: Usage = NO_USAGE
    status: int = 502
    channel_id: int | None = None
    upstream_model: str = ""

    def served_by(self, channel_id: int, upstream_model: str, status: int) -> None:
        self.channel_id, self.upstream_model, self.status = channel_id, upstream_model, status

    async def settle(self) -> int:
        """Charge the usage (0 unless the exchange succeeded), at most the hold; returns the charge."""
        admission = self.admission
        wanted = charge_for(admission.price, self.usage, admission.multiplier) if 200 <= self.status < 300 else 0
        charge = min(wanted, self.reservation.amount)
        if wanted > charge:
            log.warning(
                "channel %s reported usage worth %d quota units beyond a hold of %d: recorded as an overrun",
                self.channel_id,
                wanted - charge,
                charge,
            )
        record = usage_record(self, charge, wanted - charge)
        admission.rt.metrics.observe(self.call.endpoint, self.call.model, self.status, charge, record.latency_ms)
        admission.tokens += self.usage.prompt + self.usage.completion
        await admission.rt.ledger.settle(self.reservation, record)
        return charge


def usage_record(hold: Hold, charge: int, overrun: int) -> UsageRecord:
    principal, call, usage = hold.admission.principal, hold.call, hold.usage
    return UsageRecord(
        request_id=call.request_id,
        user_id=principal.user.id,
        token_id=principal.token.id,
        channel_id=hold.channel_id,
        endpoint=call.endpoint,
        model=call.model,
        upstream_model=hold.upstream_model or call.model,
        group=principal.group,
        prompt_tokens=usage.prompt,
        cached_tokens=usage.cached,
        cache_write_5m_tokens=usage.cache_write_5m,
        cache_write_1h_tokens=usage.cache_write_1h,
        completion_tokens=usage.completion,
        quota=charge,
        overrun=overrun,
        latency_ms=int((time.perf_counter() - call.started) * 1000),
        status_code=hold.status,
        stream=call.stream,
        client_ip=principal.client_ip,
        created_at=now(),
    )


class admitted(Generic[T]):
    """Authorise the model, settle the group that serves it (a token set to `auto` picks one), `route`
    it (find what serves it, or raise), quote it at that group's multiplier, then hold a rate-limit
    permit until the block ends. Yields the admission (with the serving principal) and what `route`
    returned.

    A class rather than an `asynccontextmanager`: every relay request enters it, and a generator-based
    context manager costs an async generator (and its registration with the loop) per request.
    """

    __slots__ = ("_admission", "_free", "_model", "_principal", "_route", "_rt")

    def __init__(
        self, rt: Runtime, principal: Principal, model: str, route: Callable[[Principal], T], *, free: bool = False
    ):
        self._rt, self._principal, self._model, self._route, self._free = rt, principal, model, route, free
        self._admission: Admission | None = None

    async def __aenter__(self) -> tuple[Admission, T]:
        rt, model = self._rt, self._model
        authorise_model(self._principal, model)
        principal = serving_group(
            self._principal, model, rt.prices.auto_order(), lambda group: rt.channels.serves(group, model)
        )
        routed = self._route(principal)
        price, multiplier = quote(rt, principal, model)
        permit = await rt.limiter.acquire(principal.token, principal.user)
        self._admission = Admission(rt, principal, model, FREE if self._free else price, multiplier, permit)
        return self._admission, routed

    async def __aexit__(self, *exc_info: object) -> None:
        # after every hold settled: a Redis round trip for the limiter never stands before a bill
        admission = self._admission
        if admission is not None:
            await self._rt.limiter.release(admission.permit, admission.tokens)


class holding:
    """A hold settled when the block ends: an error ends it unbilled with the error's status."""

    __slots__ = ("_admission", "_call", "_calls", "_hold", "_output", "_prompt")

    def __init__(self, admission: Admission, call: RelayCall, prompt: int, output: int | None, calls: int = 1):
        self._admission, self._call, self._prompt, self._output, self._calls = admission, call, prompt, output, calls
        self._hold: Hold | None = None

    async def __aenter__(self) -> Hold:
        self._hold = await self._admission.reserve(self._call, self._prompt, self._output, self._calls)
        return self._hold

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        hold = self._hold
        assert hold is not None
        if isinstance(error, GatewayError):
            hold.status = error.status
        elif error is not None:
            hold.status = 500 if hold.status < 400 else hold.status
        await hold.settle()


def quote(rt: Runtime, principal: Principal, model: str) -> tuple[Price, Fraction]:
    price = rt.prices.price_for(model)
    if price is None:
        raise ModelNotPriced(
            f"The model {model!r} has no price yet, so it cannot be served: ask the operator to set one."
        )
    return price, rt.prices.multiplier(principal.group)


def minimum_output(call: RelayCall) -> int:
    """The least answer worth serving: a request that thinks first needs room beyond its thinking budget."""
    thinking = call.body.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0:
        return budget + MIN_OUTPUT_TOKENS
    return MIN_OUTPUT_TOKENS
