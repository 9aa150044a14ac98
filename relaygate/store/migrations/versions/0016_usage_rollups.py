"""usage rollups: the usage records summed per hour, UTC day and all time as they are written

Also per hour and day over everyone (user and token 0). Backfilled from usage_records and usage_daily (which the rollups replace: retention now keeps the days
and all-time totals of the records it deletes), so an upgraded database answers at once. The fold
point is the day after the last folded one.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HOUR, DAY = 3600, 86400
KEYS = 'user_id, token_id, channel_id, model, "group"'
SITE_KEYS = 'channel_id, model, "group"'
COUNTS = (
    "requests, served, errors, prompt_tokens, cached_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "completion_tokens, quota, overrun, overruns, latency_ms_total"
)
# One row per record, and one per folded day: the same columns, summed per span below.
RECORDS = (
    "SELECT created_at AS moment, user_id, COALESCE(token_id, 0) AS token_id, COALESCE(channel_id, 0) AS channel_id, "
    'model, "group", 1 AS requests, CASE WHEN status_code < 300 THEN 1 ELSE 0 END AS served, '
    "CASE WHEN status_code >= 400 THEN 1 ELSE 0 END AS errors, prompt_tokens, cached_tokens, cache_write_5m_tokens, "
    "cache_write_1h_tokens, completion_tokens, quota, overrun, CASE WHEN overrun > 0 THEN 1 ELSE 0 END AS overruns, "
    "latency_ms AS latency_ms_total FROM usage_records"
)
FOLDED = (
    "SELECT day AS moment, user_id, COALESCE(token_id, 0) AS token_id, COALESCE(channel_id, 0) AS channel_id, "
    'model, "group", requests, requests - errors AS served, errors, prompt_tokens, cached_tokens, '
    "0 AS cache_write_5m_tokens, 0 AS cache_write_1h_tokens, completion_tokens, quota, overrun, overruns, "
    "latency_ms_total FROM usage_daily"
)


def _sums() -> str:
    return ", ".join(f"SUM({name.strip()})" for name in COUNTS.split(","))


def _rolled(span: int) -> str:
    """The rows of one span of each user, in the shape of RECORDS."""
    return f"SELECT bucket AS moment, {KEYS}, {COUNTS} FROM usage_rollups WHERE span = {span} AND user_id > 0"  # noqa: S608


def _backfill(span: int, source: str, *, site: bool = False) -> str:
    """The rows of one span; `site`: those of everyone (user and token 0) per channel, model and group."""
    bucket = "0" if span == 0 else f"moment - moment % {span}"
    keys = SITE_KEYS if site else KEYS
    grouped = keys if span == 0 else f"{bucket}, {keys}"
    selected = f"0, 0, {SITE_KEYS}" if site else KEYS
    return (
        f"INSERT INTO usage_rollups (span, bucket, {KEYS}, {COUNTS}) "  # noqa: S608 - no input
        f"SELECT {span}, {bucket}, {selected}, {_sums()} FROM ({source}) AS unit GROUP BY {grouped}"
    )


def upgrade() -> None:
    op.create_table(
        "usage_rollups",
        sa.Column("span", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("group", sa.String(64), nullable=False),
        *(sa.Column(name.strip(), sa.BigInteger(), nullable=False, server_default="0") for name in COUNTS.split(",")),
        sa.PrimaryKeyConstraint(
            "span", "bucket", "user_id", "token_id", "channel_id", "model", "group", name=op.f("pk_usage_rollups")
        ),
    )
    op.create_table(
        "usage_folds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("before", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_folds")),
    )
    # One pass over the records for their hours; the days, all time and the site-wide rows from those.
    op.execute(_backfill(HOUR, RECORDS))
    op.execute(_backfill(DAY, f"{_rolled(HOUR)} UNION ALL {FOLDED}"))
    op.execute(_backfill(0, _rolled(DAY)))
    op.execute(_backfill(HOUR, _rolled(HOUR), site=True))
    op.execute(_backfill(DAY, _rolled(DAY), site=True))
    op.execute(
        f"INSERT INTO usage_folds (id, before) SELECT 1, (SELECT MAX(day) FROM usage_daily) + {DAY} "  # noqa: S608
        "WHERE EXISTS (SELECT 1 FROM usage_daily)"
    )
    op.create_index("ix_usage_rollups_user_span", "usage_rollups", ["user_id", "span", "bucket"])
    op.create_index("ix_usage_rollups_token_span", "usage_rollups", ["token_id", "span", "bucket"])
    op.create_index("ix_usage_records_created_at", "usage_records", ["created_at"])
    if op.get_bind().dialect.name == "postgresql":  # plans for the new rows now, not when autovacuum gets to them
        op.execute("ANALYZE usage_rollups")
    op.drop_index("ix_usage_daily_token_id", table_name="usage_daily")
    op.drop_index("ix_usage_daily_user_day", table_name="usage_daily")
    op.drop_table("usage_daily")


def downgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_id", Id, nullable=True),
        sa.Column("channel_id", Id, nullable=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("group", sa.String(64), nullable=False, server_default=""),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("overrun", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("overruns", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("latency_ms_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily")),
    )
    op.create_index("ix_usage_daily_user_day", "usage_daily", ["user_id", "day"])
    op.create_index("ix_usage_daily_token_id", "usage_daily", ["token_id"])
    # The days before the fold point are what the previous version kept as folded totals.
    op.execute(
        f"INSERT INTO usage_daily (day, {KEYS}, requests, errors, prompt_tokens, cached_tokens, completion_tokens, "  # noqa: S608
        "quota, overrun, overruns, latency_ms_total) "
        'SELECT bucket, user_id, NULLIF(token_id, 0), NULLIF(channel_id, 0), model, "group", requests, errors, '
        "prompt_tokens, cached_tokens, completion_tokens, quota, overrun, overruns, latency_ms_total "
        f"FROM usage_rollups WHERE span = {DAY} AND user_id > 0 "
        "AND bucket < (SELECT COALESCE(MAX(before), 0) FROM usage_folds)"
    )
    op.drop_index("ix_usage_records_created_at", table_name="usage_records")
    op.drop_table("usage_folds")
    op.drop_table("usage_rollups")
