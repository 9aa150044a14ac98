"""scale-out: per-user rate limits, database holds, ledger sequence numbers, cleared token usage

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("rpm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tpm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_concurrent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("held", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("quota_cleared", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("held", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "ledger_holds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_id", Id, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
        sqlite_autoincrement=True,  # ids never reused: a settled request must not release a newer hold
    )
    op.create_index(op.f("ix_ledger_holds_expires_at"), "ledger_holds", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_holds_expires_at"), table_name="ledger_holds")
    op.drop_table("ledger_holds")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("ledger_seq")
        batch.drop_column("held")
        batch.drop_column("quota_cleared")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("ledger_seq")
        batch.drop_column("held")
        batch.drop_column("max_concurrent")
        batch.drop_column("tpm")
        batch.drop_column("rpm")
