"""The one settings object: read once from `RELAYGATE_*` env vars or a TOML file, then passed down.

Only this module reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relaygate.store.database import PoolSizing

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Every knob of the gateway (SPEC section 7)."""

    model_config = SettingsConfigDict(env_prefix="RELAYGATE_", extra="ignore", frozen=True)

    data_dir: Path = Path("./data")
    database_url: str = ""
    redis_url: str = ""
    # Each process's PostgreSQL pool: instances x workers x (size + overflow) <= max_connections.
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_overflow: int = Field(default=5, ge=0)
    db_pool_timeout: float = Field(default=3.0, gt=0)  # a request waits this long for a connection, then 503
    redis_prefix: str = "relaygate:"  # every Redis key starts with it: several deployments can share a server
    timezone: str = "UTC"  # the operator's time zone (IANA name): when daily/weekly/monthly quota resets happen
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    flush_interval: float = Field(default=1.0, gt=0)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    # The HTTP edge (docs/security.md): request line + headers (431 beyond), the time they may take
    # to arrive, the idle time between requests on a connection, and open connections per process
    # (0: what the open-file limit leaves after a reserve for the database, Redis and upstreams).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    # Longer than the idle timeouts of clients (httpx 5 s, aiohttp 15 s) and proxies (nginx 60 s, AWS ALB
    # 60 s) and than a busy client's delay in reading an answer: the timer starts when the answer is
    # written, so a shorter one resets connections under requests already sent. Idle connections are
    # the first closed at the connection budget, so a long one costs no descriptors real requests need.
    keep_alive_timeout: int = Field(default=75, gt=0)
    max_connections: int = Field(default=0, ge=0)
    retries: int = Field(default=2, ge=0)
    root_password: str = ""
    # When set, GET /metrics requires `Authorization: Bearer <this>` (it shows revenue per model).
    metrics_token: str = ""
    upstream_timeout: float = Field(default=300.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    change_poll_interval: float = Field(default=0.25, gt=0)
    # The output limit of a request that sets none, for a model whose price names no max_output_tokens.
    default_max_output_tokens: int = Field(default=4096, ge=1)
    # A request whose output limit the quota left cannot pay for: served with its output capped to what
    # can be paid for (`cap`), or refused with 429 (`refuse`).
    hold_policy: Literal["cap", "refuse"] = "cap"
    log_level: str = "info"
    # Who may create an account through POST /api/auth/register: anyone, nobody, or holders of a code.
    registration: Literal["open", "closed", "invite"] = "closed"
    session_ttl: int = Field(default=7 * 24 * 3600, gt=0)
    # Channel health: auto-disabled channels and keys are probed this often (seconds); this many
    # failures in a row (5xx, timeouts) open a channel's circuit; every automatic change is POSTed here.
    channel_probe_interval: float = Field(default=300.0, gt=0)
    channel_failure_threshold: int = Field(default=3, ge=1)
    alert_webhook: str = ""
    # GET /api/pricing answers anonymous callers too (the default group's prices).
    public_pricing: bool = False
    # Usage records older than this many days are deleted, their daily rollups kept (0: kept for ever).
    usage_retention_days: int = Field(default=0, ge=0)
    # A new or rotated token key stays sealed (encrypted) this many hours, for one reveal from the token
    # list (POST /api/tokens/{id}/reveal); then only its hash is kept. 0: never sealed.
    key_reveal_hours: int = Field(default=24, ge=0, le=24 * 366)
    # Mark the session cookie Secure even when the gateway itself is reached over plain HTTP (TLS proxy).
    secure_cookies: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"RELAYGATE_TIMEZONE must be an IANA time zone name such as Asia/Shanghai, Europe/Berlin or UTC, not {value!r}"
            ) from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The operator's time zone: daily, weekly and monthly quota resets happen at its midnights."""
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the async driver SQLAlchemy needs."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'relaygate.db').resolve()}"
        return to_async_url(url)

    @property
    def pool(self) -> PoolSizing:
        return PoolSizing(self.db_pool_size, self.db_pool_overflow, self.db_pool_timeout)

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def as_environment(self) -> dict[str, str]:
        """These settings as RELAYGATE_* variables, for worker processes to read back the same."""
        env = {}
        for name, value in self.model_dump().items():
            if isinstance(value, list):
                value = ",".join(str(item) for item in value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            env[f"RELAYGATE_{name.upper()}"] = str(value)
        return env


def to_async_url(url: str) -> str:
    """Map `postgresql://` and `sqlite://` URLs onto their asyncio drivers."""
    for prefix, driver in (
        ("postgresql+asyncpg://", None),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite+aiosqlite://", None),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return url if driver is None else driver + url[len(prefix) :]
    raise ValueError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}: use sqlite:// or postgresql://")


# Found in the working directory when RELAYGATE_CONFIG names no file: the server and every CLI command run
# from that directory read the same settings without exporting anything.
LOCAL_CONFIG = "relaygate.toml"


def load_settings(**overrides: Any) -> Settings:
    """Read settings: a TOML file (`RELAYGATE_CONFIG`, else `relaygate.toml` in the working directory)
    first, env vars over it, explicit overrides last."""
    file_values: dict[str, Any] = {}
    config_path = os.environ.get("RELAYGATE_CONFIG") or (LOCAL_CONFIG if Path(LOCAL_CONFIG).is_file() else None)
    if config_path:
        with open(config_path, "rb") as handle:
            file_values = {key.lower(): value for key, value in tomllib.load(handle).items()}
    env_values = Settings().model_dump(exclude_unset=True)
    merged = {**file_values, **env_values, **{k: v for k, v in overrides.items() if v is not None}}
    settings = Settings(**merged)
    _private_directory(settings.data_dir)
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": _data_dir_secret(settings.data_dir)})
    return settings


def _private_directory(data_dir: Path) -> None:
    """The data dir holds the database and the secret key: only its owner may list or enter it
    (one made by an older version, or by hand, is tightened too)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if data_dir.stat().st_uid == os.getuid():
        data_dir.chmod(0o700)


def _data_dir_secret(data_dir: Path) -> str:
    """The generated secret key kept in the data dir, created on first use with owner-only access."""
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    elif path.stat().st_uid == os.getuid():
        path.chmod(0o600)
    return path.read_text().strip()
