"""Everything a running gateway holds, built once from the settings and closed once.

The relay reads tokens, channels and prices from memory here; the change feed keeps them fresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.accounts.throttle import LoginThrottle
from relaygate.auth.access import AccessCache
from relaygate.billing.ledger import Ledger
from relaygate.billing.ledgers import build_ledger
from relaygate.billing.prices import PriceBook, list_groups, list_prices
from relaygate.channels.alerts import AlertWebhook
from relaygate.channels.crypto import SecretBox
from relaygate.channels.health import HealthMonitor
from relaygate.channels.prober import ChannelProber, Probe
from relaygate.channels.registry import ChannelRegistry
from relaygate.channels.service import load_channel_rows, load_disabled_channel_routes
from relaygate.limits.rate import MemoryRateLimiter, RateLimiter
from relaygate.metrics import RelayMetrics
from relaygate.settings import Settings
from relaygate.store.changes import ChangePoller
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.redis import connect_redis
from relaygate.tokens.resets import QuotaResetter
from relaygate.tokens.sealing import KeySeal, SealSweeper
from relaygate.upstream.client import UpstreamClient
from relaygate.usage.retention import UsageRetention

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from relaygate.store.change_bus import ChangeSubscriber

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    box: SecretBox
    key_seal: KeySeal
    access: AccessCache
    ledger: Ledger
    upstream: UpstreamClient
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    channels: ChannelRegistry = field(default_factory=ChannelRegistry)
    prices: PriceBook = field(default_factory=PriceBook)
    poller: ChangePoller | None = None
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    redis: Redis | None = None
    subscriber: ChangeSubscriber | None = None
    resetter: QuotaResetter | None = None
    alerts: AlertWebhook = field(default_factory=lambda: AlertWebhook(""))
    health: HealthMonitor | None = None
    prober: ChannelProber | None = None
    retention: UsageRetention | None = None
    seal_sweeper: SealSweeper | None = None

    @classmethod
    async def start(cls, settings: Settings, probe: Probe) -> Runtime:
        """Migrate, load what the relay reads from memory, and start the background tasks.

        `probe` is the relay's one-request channel check; the prober calls it on what health took out.
        """
        engine = create_engine(settings.sqlalchemy_url, settings.pool)
        await upgrade_to_head(engine)
        redis = connect_redis(settings)
        rt = cls(
            settings=settings,
            engine=engine,
            box=SecretBox(settings.secret_key),
            key_seal=KeySeal.create(settings.secret_key, settings.key_reveal_hours),
            access=AccessCache(engine),
            ledger=build_ledger(settings, engine, redis),
            upstream=UpstreamClient(settings),
            redis=redis,
        )
        await rt.reload_channels()
        await rt.reload_prices()
        await rt._start_health(probe)
        await rt.ledger.start()
        rt.poller = ChangePoller(engine, rt.on_change, settings.change_poll_interval)
        await rt.poller.start()
        if redis is not None:
            await rt._start_scale_out(redis)
        rt.resetter = QuotaResetter(engine, settings.zone)
        await rt.resetter.start()
        rt.retention = UsageRetention(engine, settings.usage_retention_days)
        await rt.retention.start()
        rt.seal_sweeper = SealSweeper(engine, settings.key_reveal_hours)
        await rt.seal_sweeper.start()
        return rt

    async def _start_health(self, probe: Probe) -> None:
        """Channel health: failures judged on the relay's answers, probes of what they took out."""
        self.alerts = AlertWebhook(self.settings.alert_webhook)
        self.health = HealthMonitor(self.engine, self.channels, self.alerts, self.settings.channel_failure_threshold)
        self.upstream.health = self.health
        self.prober = ChannelProber(self.engine, self.box, self.settings, self.alerts, probe)
        await self.prober.start()

    async def _start_scale_out(self, redis: Redis) -> None:
        """Shared rate limits and instant cache invalidation over Redis (imported only when configured)."""
        from relaygate.limits.redis_rate import RedisRateLimiter
        from relaygate.store.change_bus import ChangePublisher, ChangeSubscriber

        self.limiter = RedisRateLimiter(redis, self.settings)
        ChangePublisher(self.engine, redis, self.settings)
        self.subscriber = ChangeSubscriber(redis, self.settings, self.on_change)
        await self.subscriber.start()

    async def close(self) -> None:
        """Stop polling, write every pending usage record, close connections."""
        if self.resetter:
            await self.resetter.stop()
        if self.prober:
            await self.prober.stop()
        if self.retention:
            await self.retention.stop()
        if self.seal_sweeper:
            await self.seal_sweeper.stop()
        await self.alerts.drain()
        if self.poller:
            await self.poller.stop()
        if self.subscriber:
            await self.subscriber.stop()
        await self.ledger.close()
        await self.upstream.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()

    async def on_change(self, kind: str, ref_id: str) -> None:
        if kind == "channel":
            await self.reload_channels()
        elif kind in ("price", "group"):
            await self.reload_prices()
        else:
            await self.access.on_change(kind, ref_id)
            await self.ledger.on_change(kind, ref_id)

    async def reload_channels(self) -> None:
        async with self.engine.connect() as conn:
            rows, key_rows = await load_channel_rows(conn)
            disabled = await load_disabled_channel_routes(conn)
        self.channels.load(rows, key_rows, self.box, disabled)
        if self.health is not None:
            self.health.reloaded()

    async def reload_prices(self) -> None:
        async with self.engine.connect() as conn:
            price_rows = await list_prices(conn)
            group_rows = await list_groups(conn)
        self.prices.load(price_rows, group_rows)
