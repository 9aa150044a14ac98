"""The database schema (SQLAlchemy Core). Times are integer Unix seconds; money is integer quota units."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER PRIMARY KEY

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, server_default="user"),
    Column("group", String(64), nullable=False, server_default="default"),
    Column("status", String(16), nullable=False, server_default="enabled"),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("request_count", BigInteger, nullable=False, server_default="0"),
    # Limits over all of the user's tokens together (None: no limit).
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("max_concurrent", Integer, nullable=True),
    # Held by requests in flight (the database ledger of several workers without Redis).
    Column("held", BigInteger, nullable=False, server_default="0"),
    # Bumped by every write to balance: lets a Redis counter tell an older snapshot from a newer one.
    Column("ledger_seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(128), nullable=False, server_default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="enabled"),
    Column("expires_at", BigInteger, nullable=True),
    Column("unlimited", Boolean, nullable=False, server_default="0"),
    Column("quota_limit", BigInteger, nullable=False, server_default="0"),
    Column("used_quota", BigInteger, nullable=False, server_default="0"),
    Column("models", JSON, nullable=False),
    Column("allow_ips", JSON, nullable=False),
    Column("group", String(64), nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("max_concurrent", Integer, nullable=True),
    Column("reset_period", String(16), nullable=True),
    Column("last_reset_at", BigInteger, nullable=True),
    # Usage cleared by periodic resets so far: the books check used_quota + quota_cleared = charges.
    Column("quota_cleared", BigInteger, nullable=False, server_default="0"),
    Column("held", BigInteger, nullable=False, server_default="0"),
    Column("ledger_seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    # A new or rotated key, encrypted with the secret key, until it is revealed once or `sealed_until`
    # passes (`tokens.sealing`); then only the hash is left.
    Column("sealed_key", Text, nullable=True),
    Column("sealed_until", BigInteger, nullable=True),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("type", String(32), nullable=False),
    Column("base_url", String(512), nullable=False),
    # The first key, as the previous version reads it (the keys are in `channel_keys`): kept filled so
    # that a rolling upgrade runs both versions on one database. A later release drops these two.
    Column("key_encrypted", Text, nullable=False),
    Column("key_hint", String(32), nullable=False),
    Column("models", JSON, nullable=False),
    Column("model_map", JSON, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("weight", Integer, nullable=False, server_default="1"),
    # enabled | disabled (by an admin, never undone automatically) | auto_disabled (by channel health).
    Column("status", String(16), nullable=False, server_default="enabled"),
    Column("disabled_reason", String(255), nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
    Column("last_probe_at", BigInteger, nullable=True),
    Column("last_probe_error", String(255), nullable=True),
    # What the upstream charges the operator, {model: {input, cached_input, output, per_call}} in USD
    # decimal strings per 1M tokens (or per call): the cost beside the charge in analytics.
    Column("cost_prices", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # An OpenAI-compatible upstream that has /v1/chat/completions but no /v1/responses: Responses
    # requests for its models are converted to chat completions, as for Anthropic and Gemini channels.
    Column("chat_completions_only", Boolean, nullable=False, server_default=false()),
)

# The upstream keys of a channel (one or many), encrypted; requests spread over its enabled ones.
channel_keys = Table(
    "channel_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("key_encrypted", Text, nullable=False),
    Column("key_hint", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="enabled"),
    Column("disabled_reason", String(255), nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

prices = Table(
    "prices",
    metadata,
    Column("model", String(128), primary_key=True),
    # Decimal strings, USD per 1M tokens (or per call): exact, and portable across databases.
    Column("input", String(32), nullable=True),
    Column("cached_input", String(32), nullable=True),
    Column("output", String(32), nullable=True),
    Column("per_call", String(32), nullable=True),
    Column("audio_input", String(32), nullable=True),
    Column("audio_output", String(32), nullable=True),
    Column("cache_write_5m", String(32), nullable=True),  # prompt-cache writes (null: 1.25 x input)
    Column("cache_write_1h", String(32), nullable=True),  # (null: 2 x input)
    # The most output tokens the model writes in one answer: requests go upstream with no larger limit.
    Column("max_output_tokens", Integer, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("multiplier", String(32), nullable=False, server_default="1"),
    Column("description", String(255), nullable=False, server_default=""),
    # Any user may give a token a selectable group (besides their own); `auto` tries them by sort_order.
    Column("selectable", Boolean, nullable=False, server_default=false()),
    Column("sort_order", Integer, nullable=False, server_default="0"),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("user_id", Id, nullable=False),
    Column("token_id", Id, nullable=True),
    Column("channel_id", Id, nullable=True),
    Column("endpoint", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("upstream_model", String(128), nullable=False),
    Column(
        "group", String(64), nullable=False, server_default=""
    ),  # the group that served it, whose multiplier billed it
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("cached_tokens", Integer, nullable=False, server_default="0"),
    Column("cache_write_5m_tokens", Integer, nullable=False, server_default="0"),
    Column("cache_write_1h_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("quota", BigInteger, nullable=False),
    # What the reported usage would have cost beyond the hold: never billed, counted against the channel.
    Column("overrun", BigInteger, nullable=False, server_default="0"),
    Column("latency_ms", Integer, nullable=False, server_default="0"),
    Column("status_code", Integer, nullable=False),
    Column("stream", Boolean, nullable=False, server_default="0"),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_usage_records_user_created", "user_id", "created_at"),
    Index("ix_usage_records_token_created", "token_id", "created_at"),
    Index("ix_usage_records_created_at", "created_at"),  # the partial hours at a range's ends
)

# The usage records summed as they are written (`relaygate.usage.rollups`, in the records' own
# transaction): one row per span (an hour, a UTC day, or all time: `span` 3600, 86400 or 0), its start
# (`bucket`, Unix seconds; 0 for all time), user, token, channel, model and serving group. No token or
# channel is 0 (not NULL: a unique key needs values). Records older than RELAYGATE_USAGE_RETENTION_DAYS are
# deleted with their hours; their days and all-time rows stay, and still count as charges in the books.
usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("span", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("token_id", Id, primary_key=True),
    Column("channel_id", Id, primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("group", String(64), primary_key=True),
    Column("requests", BigInteger, nullable=False, server_default="0"),
    Column("served", BigInteger, nullable=False, server_default="0"),  # status < 300: billed per call
    Column("errors", BigInteger, nullable=False, server_default="0"),  # status >= 400
    Column("prompt_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cached_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cache_write_5m_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cache_write_1h_tokens", BigInteger, nullable=False, server_default="0"),
    Column("completion_tokens", BigInteger, nullable=False, server_default="0"),
    Column("quota", BigInteger, nullable=False, server_default="0"),
    Column("overrun", BigInteger, nullable=False, server_default="0"),  # as in usage_records, summed
    Column("overruns", BigInteger, nullable=False, server_default="0"),  # records with an overrun
    Column("latency_ms_total", BigInteger, nullable=False, server_default="0"),
    Index("ix_usage_rollups_user_span", "user_id", "span", "bucket"),
    Index("ix_usage_rollups_token_span", "token_id", "span", "bucket"),
)

# Where retention has folded to: records created before `before` (a UTC midnight) were deleted, with
# their hours; what happened before it is known per UTC day only. One row (id 1), absent until a fold.
usage_folds = Table(
    "usage_folds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("before", BigInteger, nullable=False),
)

# Every credit to a balance (initial, top-up, redemption, adjustment); charges are the usage records.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(255), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)

# Holds of requests in flight under the database ledger (several workers, no Redis). Each names the
# process that took it; the holds of a process that stopped beating in ledger_processes are released
# by the live ones, and a hold that outlives its expiry (one taken by a version without heartbeats)
# is released then, so a crash cannot lock a balance for good.
ledger_holds = Table(
    "ledger_holds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False),
    Column("token_id", Id, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("process_id", String(32), nullable=True, index=True),
    sqlite_autoincrement=True,  # never reuse an id: a settled request must not release a newer hold
)

# The database ledger's live processes: each beats (last_seen, milliseconds on the database's clock,
# so hosts' clocks need not agree) every few seconds and deletes its row on a clean shutdown.
ledger_processes = Table(
    "ledger_processes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("last_seen", BigInteger, nullable=False, index=True),
)

# The change feed: every write that a running server must see (token revoked, channel added, ...)
# appends a row here in its own transaction; servers poll it (or Redis carries it) to drop caches.
changes = Table(
    "changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("ref_id", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Console sessions, kept server-side so that logout, a disabled account or a new password end them at once.
# `id` is the SHA-256 of the cookie's secret; the CSRF token is sent back on every cookie-authenticated write.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# Management credentials for scripts (`ak-...`): only a hash and a hint are kept.
access_keys = Table(
    "access_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(128), nullable=False, server_default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
)

# Top-up codes: redeemed at most once (a conditional UPDATE on redeemed_at), also the invitations to register.
redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("hint", String(32), nullable=False),
    Column("quota", BigInteger, nullable=False),
    Column("created_by", Id, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("redeemed_by", Id, nullable=True),
    Column("redeemed_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),  # None: never (codes imported from new-api may expire)
)

# `relaygate import`: which row of a source database (new-api, one-api) became which relaygate row, so
# that a second import of the same source adds nothing. `source` names the database, never its password.
import_map = Table(
    "import_map",
    metadata,
    Column("source", String(255), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("source_id", String(128), primary_key=True),
    Column("target_id", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Who did what to which object, when and from where. Never a secret in `detail`.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("actor_id", Id, nullable=True),
    Column("actor_name", String(64), nullable=False, server_default=""),
    Column("action", String(64), nullable=False),
    Column("target", String(160), nullable=False, server_default=""),
    Column("detail", JSON, nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False, index=True),
)

# Asynchronous tasks (Midjourney, Suno) submitted through the relay: who owns each upstream task id,
# which channel holds it, and the upstream's last answer about it, so fetches reach the same channel
# and only the owner reads them.
tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("task_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("user_id", Id, nullable=False),
    Column("token_id", Id, nullable=True),
    Column("channel_id", Id, nullable=True),
    Column("status", String(32), nullable=False, server_default=""),
    Column("data", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("uq_tasks_platform_task_id", "platform", "task_id", unique=True),
    Index("ix_tasks_user_id", "user_id"),
)
