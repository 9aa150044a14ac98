"""running a relay as a business: many keys per channel, channel health, cost prices, folded usage

Revision ID: 0009
Revises: 0013

A channel's key moves into `channel_keys` (one row per upstream key, each with its own status);
channels gain the reason and time of an automatic disable and of the last probe, and optional
cost prices; usage records past the retention period are folded into `usage_daily`.

Additive, as every migration: `channels.key_encrypted` and `key_hint` stay, holding the channel's
first key, so that the previous version keeps running during a rolling upgrade. (Nothing here
recreates `channels` on SQLite: that would cascade-delete the new key rows.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_keys",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("key_encrypted", sa.Text(), nullable=False),
        sa.Column("key_hint", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="enabled"),
        sa.Column("disabled_reason", sa.String(255), nullable=True),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_keys_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_keys")),
    )
    op.create_index(op.f("ix_channel_keys_channel_id"), "channel_keys", ["channel_id"])
    op.execute(
        "INSERT INTO channel_keys (channel_id, key_encrypted, key_hint, status, created_at) "
        "SELECT id, key_encrypted, key_hint, 'enabled', created_at FROM channels"
    )
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("disabled_reason", sa.String(255), nullable=True))
        batch.add_column(sa.Column("disabled_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_probe_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_probe_error", sa.String(255), nullable=True))
        batch.add_column(sa.Column("cost_prices", sa.JSON(), nullable=True))
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


def downgrade() -> None:
    op.drop_index("ix_usage_daily_token_id", table_name="usage_daily")
    op.drop_index("ix_usage_daily_user_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("cost_prices")
        batch.drop_column("last_probe_error")
        batch.drop_column("last_probe_at")
        batch.drop_column("disabled_at")
        batch.drop_column("disabled_reason")
    op.drop_index(op.f("ix_channel_keys_channel_id"), table_name="channel_keys")
    op.drop_table("channel_keys")
