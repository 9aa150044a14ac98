"""The ledger of several gateway processes and hosts sharing one Redis (RELAYGATE_REDIS_URL).

Admission is one Lua script per request on counters every process shares (see redis_scripts.py);
usage records are written to the database in batches with their balance deltas, as in the
single-process ledger, and each batch then reports its charges to Redis. Redis holds no money:
the books live in the database, so a lost Redis can refuse requests but never lose a charge.

Redis unreachable: requests are refused with 503 service_unavailable (never served unbilled);
settlements still write their records to the database. Redis back (or restarted empty): each
process sets its own shares of held and unwritten amounts back from what it knows, the hashes are
seeded again from the database, and admissions wait for a warm-up long enough for every live
process to have done so.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.billing import redis_scripts
from relaygate.billing.ledger import (
    Ref,
    Reservation,
    insufficient_balance,
    read_stored,
    token_quota_exceeded,
)
from relaygate.billing.usage_batch import RecordBatcher, Written
from relaygate.billing.usage_record import UsageRecord
from relaygate.errors import ServiceUnavailable
from relaygate.settings import Settings
from relaygate.single_flight import SingleFlight
from relaygate.store.redis import key

log = logging.getLogger(__name__)

SILENCE_LIMIT_MS = 30_000  # a process not heard of for this long has died: its shares are taken back
HEARTBEAT_SECONDS = 0.5
WARM_UP_MS = int(4 * HEARTBEAT_SECONDS * 1000)  # every live process beats (and resynchronises) in this time
GENERATION_KEY = "ledger:gen"  # under the deployment's prefix: the generation every process of a Redis joins


class _NewGeneration(Exception):
    """Redis was restarted (or emptied) since this process last spoke to it."""


class _Gate:
    """Many ordinary calls at once, or one resynchronisation alone (it must see no call half done)."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()
        self._open.set()
        self._exclusive = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        await self._open.wait()
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._exclusive:
            self._open.clear()
            try:
                await self._idle.wait()
                yield
            finally:
                self._open.set()


class RedisLedger:
    def __init__(self, engine: AsyncEngine, redis: Redis, settings: Settings):
        self._engine = engine
        self._redis = redis
        self._settings = settings
        self._process = secrets.token_hex(8)
        self._gen_key = key(settings, GENERATION_KEY)
        self._registry = key(settings, "ledger", "processes")
        self._keyset_prefix = key(settings, "ledger", "keys", "")
        self._keyset = self._keyset_prefix + self._process
        self._generation: str | None = None
        self._dirty = True  # until the first resynchronisation
        self._reseed: set[Ref] = set()
        self._seeds: SingleFlight[tuple[Ref, ...], None] = SingleFlight()
        # This process's own shares, per hash key: what it holds for requests in flight, and what it
        # charged but has not yet written (or reported). The truth that a resynchronisation restores.
        self._held: defaultdict[str, int] = defaultdict(int)
        self._unwritten: defaultdict[str, int] = defaultdict(int)
        self._open = 0
        self._settling: list[tuple[Reservation, UsageRecord]] = []
        self._reporting: asyncio.Future[None] | None = None
        self._gate = _Gate()
        self.batcher = RecordBatcher(engine, settings.flush_interval, self._written, read_seqs=True)
        self._beating: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        scripts = redis_scripts
        self._reserve_script = redis.register_script(scripts.RESERVE)
        self._settle_script = redis.register_script(scripts.SETTLE)
        self._flushed_script = redis.register_script(scripts.FLUSHED)
        self._seed_script = redis.register_script(scripts.SEED)
        self._resync_script = redis.register_script(scripts.RESYNC)
        self._adopt_script = redis.register_script(scripts.ADOPT)
        self._heartbeat_script = redis.register_script(scripts.HEARTBEAT)
        self._warming_script = redis.register_script(scripts.WARMING)

    # -- the Ledger interface

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        user_key, token_key = self._hash("user", user_id), self._hash("token", token_id)
        for _ in range(6):
            try:
                await self._recover_if_needed()
                async with self._gate.shared():
                    reply = await self._reserve_script(
                        keys=[self._gen_key, user_key, token_key, self._keyset],
                        args=[
                            self._generation or "",
                            self._process,
                            amount,
                            "" if token_limit is None else token_limit,
                        ],
                    )
                    status = reply[0]
                    if status == b"OK":
                        self._held[user_key] += amount
                        self._held[token_key] += amount
                        self._open += 1
                        return Reservation(token_id, user_id, amount)
                if status == b"LOAD":
                    cold = tuple(
                        (kind, user_id if kind == "user" else token_id) for kind in map(bytes.decode, reply[1:])
                    )
                    # one seed, from one read, for every request that found these cold hashes at once
                    await self._seeds.run(cold, functools.partial(self._seed, cold))
                elif status == b"TOKEN":
                    raise token_quota_exceeded(int(reply[1]), amount)
                elif status == b"BALANCE":
                    raise insufficient_balance(int(reply[1]), amount)
                elif status == b"WARM":
                    raise _unavailable("the quota counters are being rebuilt after a Redis restart")
                else:
                    self._generation = None
            except _NewGeneration:
                self._generation = None
            except (RedisError, OSError) as exc:
                self._dirty = True  # a lost reply may have held the amount: our share is set back later
                raise _unavailable("the quota counters (Redis) are unreachable") from exc
        raise _unavailable("the quota counters keep changing generation")

    async def settle(self, reservation: Reservation, record: UsageRecord) -> None:
        """Queued, and reported to Redis with the others settled in the same turn of the event loop."""
        reservation.close(record)
        self._settling.append((reservation, record))
        if self._reporting is None:
            self._reporting = asyncio.ensure_future(self._report_settlements())

    async def _settled(self) -> None:
        """Wait until every queued settlement is in the batch of records."""
        while self._reporting is not None:
            await asyncio.shield(self._reporting)  # a cancelled flush must not cancel the report

    async def _report_settlements(self) -> None:
        await asyncio.sleep(0)  # let the settlements of this turn join the batch
        batch, self._settling = self._settling, []
        self._reporting = None
        changes: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        try:
            # Inside the gate: a resynchronisation sees these settlements either wholly or not at all.
            async with self._gate.shared():
                for reservation, record in batch:
                    charge = record.quota
                    for hash_key in (
                        self._hash("user", reservation.user_id),
                        self._hash("token", reservation.token_id),
                    ):
                        self._held[hash_key] -= reservation.amount
                        self._unwritten[hash_key] += charge
                        changes[hash_key][0] -= reservation.amount
                        changes[hash_key][1] += charge
                    self.batcher.add(record)  # billed in the database whatever Redis does
                if self._generation is None or self._dirty:
                    return  # the next resynchronisation carries these settlements
                keys = [self._gen_key, self._keyset, *changes]
                args: list[Any] = [self._generation, self._process]
                for held, unwritten in changes.values():
                    args += [held, unwritten]
                reply = await self._settle_script(keys=keys, args=args)
                if reply[0] != b"OK":
                    self._generation = None
        except (RedisError, OSError):
            self._dirty = True
            log.warning("reporting settlements to Redis failed; they will be resynchronised")
        finally:
            self._open -= len(batch)

    async def on_change(self, kind: str, ref_id: str) -> None:
        if kind not in ("user", "token"):
            return
        self._reseed.add((kind, int(ref_id)))
        with contextlib.suppress(RedisError, OSError, _NewGeneration):
            if self._generation is not None and not self._dirty:
                await self._reseed_pending()

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            if await self._recover_if_needed():
                # This process started the generation (a new or restarted Redis): wait out the warm-up
                # so that the first requests are not refused while other processes resynchronise.
                await asyncio.sleep(WARM_UP_MS / 1000)
        await self.batcher.start()
        self._beating = asyncio.create_task(self._beat(), name="ledger-heartbeat")

    async def flush(self) -> int:
        await self._settled()
        return await self.batcher.flush()

    async def close(self) -> None:
        await self._settled()
        self._stopping.set()
        if self._beating:
            await self._beating
        await self.batcher.close()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(self._registry, self._process)

    def pending_records(self) -> int:
        return len(self.batcher.entries) + len(self._settling)

    async def unready(self) -> str | None:
        if self._generation is None or self._dirty:
            return "the quota counters are being resynchronised with Redis"
        try:
            reply = await self._warming_script(keys=[self._gen_key], args=[self._generation])
        except (RedisError, OSError) as exc:
            return f"the quota counters (Redis) are unreachable: {type(exc).__name__}"
        if reply[0] == b"GEN":
            return "Redis was restarted or emptied: the quota counters are being rebuilt"
        if reply[0] == b"WARM":
            return f"the quota counters are warming up after a new Redis generation ({int(reply[1])} ms left)"
        return None

    def open_holds(self) -> int:
        return self._open

    # -- keeping Redis in step

    async def _written(self, written: Written) -> None:
        touched = [("user", ref_id) for ref_id in written.user_charges]
        touched += [("token", ref_id) for ref_id in written.token_charges]
        async with self._gate.shared():
            keys: list[str] = [self._gen_key]
            args: list[Any] = [self._generation or "", self._process]
            for kind, charges, seqs, sign in (
                ("user", written.user_charges, written.user_seqs, -1),
                ("token", written.token_charges, written.token_seqs, 1),
            ):
                for ref_id, charge in charges.items():
                    hash_key = self._hash(kind, ref_id)
                    self._unwritten[hash_key] -= charge
                    keys.append(hash_key)
                    args += [charge, sign * charge, seqs[ref_id]]
            if self._generation is None or self._dirty:
                self._reseed.update(touched)  # their bases miss these charges: seed them from the database
                return
            try:
                reply = await self._flushed_script(keys=keys, args=args)
            except (RedisError, OSError):
                # Maybe applied, maybe not: seeding these hashes from the database settles it either way.
                self._dirty = True
                self._reseed.update(touched)
                return
            if reply[0] != b"OK":
                self._generation = None
                self._reseed.update(touched)

    async def _beat(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), HEARTBEAT_SECONDS)
            await self._heartbeat()

    async def _heartbeat(self) -> None:
        try:
            await self._recover_if_needed()
            reply = await self._heartbeat_script(
                keys=[self._gen_key, self._registry],
                args=[self._generation or "", self._process, SILENCE_LIMIT_MS, self._keyset_prefix],
            )
            if reply[0] == b"GEN":
                self._generation = None
                await self._recover_if_needed()
            elif reply[0] == b"NEW":
                self._dirty = True  # first beat, or this process was taken for dead: set its shares back
                await self._recover_if_needed()
            if self._reseed:
                await self._reseed_pending()
        except (RedisError, OSError, _NewGeneration):
            self._dirty = True

    async def _recover_if_needed(self) -> bool:
        """Get in step with Redis if out of it; True when this process started a new generation."""
        if self._generation is not None and not self._dirty:
            return False
        async with self._gate.exclusive():
            if self._generation is not None and not self._dirty:
                return False
            proposed = secrets.token_hex(8)
            generation: str = (await self._adopt_script(keys=[self._gen_key], args=[proposed, WARM_UP_MS])).decode()
            if generation != self._generation:
                log.info("quota counters: Redis generation %s", generation)
            self._generation = generation
            await self._resync()
            self._dirty = False
        await self._reseed_pending()
        return generation == proposed

    async def _resync(self) -> None:
        hash_keys = sorted(set(self._held) | set(self._unwritten))
        keys = [self._gen_key, self._keyset]
        args: list[Any] = [self._generation, self._process]
        for hash_key in hash_keys:
            keys.append(hash_key)
            args += [self._held[hash_key], self._unwritten[hash_key]]
        reply = await self._resync_script(keys=keys, args=args)
        if reply[0] != b"OK":
            raise _NewGeneration
        for hash_key in hash_keys:  # forget what no longer holds anything
            if not self._held[hash_key] and not self._unwritten[hash_key]:
                del self._held[hash_key]
                del self._unwritten[hash_key]

    async def _reseed_pending(self) -> None:
        while self._reseed:
            ref = self._reseed.pop()
            try:
                await self._seed((ref,))
            except BaseException:
                self._reseed.add(ref)
                raise

    async def _seed(self, refs: tuple[Ref, ...]) -> None:
        """Seed these hashes from one read of the database; read again those a charge landed on meanwhile."""
        for _ in range(8):
            stored = await read_stored(self._engine, refs)
            args: list[Any] = [self._generation or ""]
            for ref in refs:
                args += stored[ref]
            async with self._gate.shared():
                reply = await self._seed_script(keys=[self._gen_key, *(self._hash(*ref) for ref in refs)], args=args)
            if reply[0] == b"GEN":
                raise _NewGeneration
            refs = tuple(refs[int(index) - 1] for index in reply[1:])  # SEED answers the hashes to read again
            if not refs:
                return
        # Charges keep landing between our read and our write; the next change or flush seeds them.
        self._reseed.update(refs)

    def _hash(self, kind: str, ref_id: int) -> str:
        return key(self._settings, "ledger", kind, ref_id)


def _unavailable(reason: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Billing is unavailable: {reason}. Nothing was charged; retry in a few seconds.",
        headers={"Retry-After": "1"},
    )
