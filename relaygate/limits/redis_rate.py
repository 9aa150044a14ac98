"""Rate limits counted in Redis, so that they hold over every gateway process and machine sharing it.

Per subject (a token, or an account) three sorted sets: requests admitted (scored by time),
tokens used by finished requests (member `<permit>:<tokens>`, scored by time), and requests in
flight (scored by when their slot lapses). One Lua script checks every limit of the token and its
account and counts the request in all of them, or in none; another releases. Times come from the
Redis server's clock, so gateway machines need not agree on the time. A process that dies with
requests in flight does not hold their slots forever: each lapses `lease` seconds after it was
last renewed, and a live process renews its own every `lease / 3` seconds (however long a stream or
a realtime session lasts).

If Redis cannot be reached, a request is not refused for that: it is counted by an in-process
`MemoryRateLimiter` instead (for a second before Redis is tried again, so that a lost server costs
requests no waiting), and one warning is logged until Redis answers again. While Redis is
down the limits therefore hold per process, not over the whole deployment; billing does not
depend on this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from relaygate.auth.access import TokenAccess, UserAccess
from relaygate.limits.rate import (
    WINDOW,
    Kind,
    MemoryRateLimiter,
    Permit,
    Standing,
    Subject,
    new_permit_id,
    refusal,
    subjects_of,
)
from relaygate.settings import Settings
from relaygate.store.redis import key

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
KINDS: dict[int, Kind] = {1: "concurrency", 2: "rpm", 3: "tpm"}
RETRY_REDIS_AFTER = 1.0  # seconds of counting in process after a failure, so a lost Redis costs no wait per request
DEFAULT_LEASE = 60.0  # a dead process's slots are free again within this; live ones are renewed long before

# Every script's ARGV[1]: the time in seconds, or -1 for the Redis server's clock.
_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: per subject (requests, tokens, in flight). ARGV: now (-1: the server's clock), window, lease,
# permit id, then per subject rpm, tpm, max concurrent (-1: none).
# Returns refused subject (1-based, 0: admitted), kind, retry-after ms, then per subject
# requests, requests reset ms, tokens, tokens reset ms.
ACQUIRE = (
    _NOW
    + """
local window, lease, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local n = #KEYS / 3
local out = {}
local refused, kind, retry = 0, 0, 0
local function amount(member) return tonumber(string.match(member, ':(%d+)$')) end
for i = 0, n - 1 do
  local req, tok, fly = KEYS[3*i+1], KEYS[3*i+2], KEYS[3*i+3]
  local rpm, tpm, maxc = tonumber(ARGV[5+3*i]), tonumber(ARGV[6+3*i]), tonumber(ARGV[7+3*i])
  redis.call('ZREMRANGEBYSCORE', req, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', tok, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', fly, '-inf', now)
  local requests = redis.call('ZCARD', req)
  local oldest = redis.call('ZRANGE', req, 0, 0, 'WITHSCORES')
  local entries = {}  -- read only where a tpm limit applies: it is the one O(n) step
  if tpm >= 0 then entries = redis.call('ZRANGE', tok, 0, -1, 'WITHSCORES') end
  local used = 0
  for j = 1, #entries, 2 do used = used + amount(entries[j]) end
  local req_reset, tok_reset = 0, 0
  if #oldest > 0 then req_reset = tonumber(oldest[2]) + window - now end
  if #entries > 0 then tok_reset = tonumber(entries[2]) + window - now end
  if refused == 0 then
    if maxc >= 0 and redis.call('ZCARD', fly) >= maxc then
      refused, kind, retry = i + 1, 1, 1
    elseif rpm >= 0 and requests >= rpm then
      local at = redis.call('ZRANGE', req, requests - rpm, requests - rpm, 'WITHSCORES')
      refused, kind, retry = i + 1, 2, tonumber(at[2]) + window - now
    elseif tpm >= 0 and used >= tpm then
      local left, free_at = used, tonumber(entries[#entries])
      for j = 1, #entries, 2 do
        left = left - amount(entries[j])
        if left < tpm then free_at = tonumber(entries[j+1]) break end
      end
      refused, kind, retry = i + 1, 3, free_at + window - now
    end
  end
  out[#out+1] = requests
  out[#out+1] = math.floor(req_reset * 1000)
  out[#out+1] = used
  out[#out+1] = math.floor(tok_reset * 1000)
end
if refused == 0 then
  for i = 0, n - 1 do
    local req, fly = KEYS[3*i+1], KEYS[3*i+3]
    redis.call('ZADD', req, now, id)
    redis.call('PEXPIRE', req, math.ceil(window * 1000))
    redis.call('ZADD', fly, now + lease, id)
    redis.call('PEXPIRE', fly, math.ceil(lease * 1000))
    out[4*i+1] = out[4*i+1] + 1
    if out[4*i+2] == 0 then out[4*i+2] = math.floor(window * 1000) end
  end
end
return {refused, kind, math.ceil(retry * 1000), unpack(out)}
"""
)

# KEYS: per subject (tokens, in flight). ARGV: now (-1: the server's clock), window, permit id, tokens used.
RELEASE = (
    _NOW
    + """
local window, id, tokens = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
for i = 0, #KEYS / 2 - 1 do
  local tok, fly = KEYS[2*i+1], KEYS[2*i+2]
  redis.call('ZREM', fly, id)
  if tokens > 0 then
    redis.call('ZADD', tok, 'NX', now, id .. ':' .. tokens)
    redis.call('PEXPIRE', tok, math.ceil(window * 1000))
  end
end
return 1
"""
)

# KEYS: the in-flight sets of one permit. ARGV: now (-1: the server's clock), lease, permit id.
RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[2])
for i = 1, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', now + lease, ARGV[3]) == 1 then
    redis.call('PEXPIRE', KEYS[i], math.ceil(lease * 1000))
  end
end
return 1
"""
)


class RedisRateLimiter:
    """`RateLimiter` with its counters in Redis. `clock` (seconds) replaces the server's clock in tests."""

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        lease: float = DEFAULT_LEASE,
        renew_every: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._settings = settings
        self._lease = lease
        self._renew_every = renew_every or lease / 3
        self._clock = clock
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)
        self._renew = redis.register_script(RENEW)
        self._live: dict[str, Permit] = {}  # admitted through Redis and not yet released
        self._renewer: asyncio.Task[None] | None = None
        self._fallback = MemoryRateLimiter(clock or time.monotonic)
        self._unreachable = False
        self._skip_redis_until = 0.0

    async def acquire(self, token: TokenAccess, user: UserAccess) -> Permit:
        subjects = subjects_of(token, user)
        if not subjects:
            return Permit("", (), local=True)  # no limit applies: nothing to count
        if time.monotonic() < self._skip_redis_until:
            return self._fallback.acquire_now(subjects)
        permit_id = new_permit_id()
        keys = [self._key(subject, name) for subject in subjects for name in ("requests", "tokens", "in_flight")]
        args: list[Any] = [self._now(), WINDOW, self._lease, permit_id]
        for subject in subjects:
            limits = subject.limits
            args += [_or_none(limits.rpm), _or_none(limits.tpm), _or_none(limits.max_concurrent)]
        try:
            reply = await self._acquire(keys=keys, args=args)
        except UNREACHABLE as exc:
            self._lost(exc)
            return self._fallback.acquire_now(subjects)
        self._found()
        refused, kind, retry_ms, *counts = (int(value) for value in reply)
        standings = tuple(
            Standing(subject, counts[4 * i], counts[4 * i + 1] / 1000, counts[4 * i + 2], counts[4 * i + 3] / 1000)
            for i, subject in enumerate(subjects)
        )
        if refused:
            raise refusal(subjects[refused - 1], KINDS[kind], retry_ms / 1000, standings)
        permit = Permit(permit_id, subjects, standings)
        self._hold(permit)
        return permit

    async def release(self, permit: Permit, tokens_used: int) -> None:
        if permit.released:
            return
        if permit.local:
            self._fallback.release_now(permit, tokens_used)
            return
        permit.released = True
        self._live.pop(permit.id, None)
        if not self._live and self._renewer is not None:
            self._renewer.cancel()  # nothing left to renew: no task outlives the last request
            self._renewer = None
        keys = [self._key(subject, name) for subject in permit.subjects for name in ("tokens", "in_flight")]
        try:
            await self._release(keys=keys, args=[self._now(), WINDOW, permit.id, max(0, tokens_used)])
        except (RedisError, OSError) as exc:
            # Best effort, so that settling the request never depends on it: the slot lapses with its
            # lease and the tokens go uncounted.
            self._lost(exc)

    def _hold(self, permit: Permit) -> None:
        """Keep the permit's slots from lapsing while it lives; the renewer ends when none is left."""
        self._live[permit.id] = permit
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_live())

    async def _renew_live(self) -> None:
        while self._live:
            await asyncio.sleep(self._renew_every)
            for permit in list(self._live.values()):
                keys = [self._key(subject, "in_flight") for subject in permit.subjects]
                try:
                    await self._renew(keys=keys, args=[self._now(), self._lease, permit.id])
                except (RedisError, OSError) as exc:
                    self._lost(exc)  # tried again on the next round, well before the lease ends
                    break

    def _key(self, subject: Subject, name: str) -> str:
        return key(self._settings, "rate", subject.scope, subject.id, name)

    def _now(self) -> float:
        return -1.0 if self._clock is None else self._clock()

    def _lost(self, exc: Exception) -> None:
        self._skip_redis_until = time.monotonic() + RETRY_REDIS_AFTER
        if not self._unreachable:
            self._unreachable = True
            log.warning(
                "Redis unreachable (%s): rate limits are counted per process until it answers again",
                type(exc).__name__,
            )

    def _found(self) -> None:
        if self._unreachable:
            self._unreachable = False
            log.info("Redis answers again: rate limits are counted over all processes")


def _or_none(limit: int | None) -> int:
    return -1 if limit is None else limit
