"""database ledger heartbeats: live processes, and the process that took each hold

Revision ID: 0011
Revises: 0007

Every database-ledger process beats in ledger_processes; a hold names its process, so the holds of
a process that stopped beating (SIGKILL, power) are released by the live ones within a minute
instead of when they expire an hour later. On PostgreSQL the hold function gains the process as its
first argument. The five-argument function of 0006 stays: instances of the previous version keep
calling it during a rolling upgrade (their holds name no process and still expire).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None

# SQLite rebuilds a table to drop a column: ids must still never be reused (a settled request would
# release a newer hold).
_KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}

HOLD = """
CREATE OR REPLACE FUNCTION relaygate_hold(
    p_process text, p_user bigint, p_token bigint, p_amount bigint, p_limit bigint, p_expires bigint
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    hold_id bigint;
BEGIN
    -- Users before tokens, as in every transaction of the ledger: one lock order, no deadlock.
    UPDATE users SET held = held + p_amount WHERE id = p_user AND balance - held >= p_amount;
    IF NOT FOUND THEN
        RETURN -1;  -- the balance does not cover the amount
    END IF;
    UPDATE tokens SET held = held + p_amount
        WHERE id = p_token AND (p_limit IS NULL OR p_limit - used_quota - held >= p_amount);
    IF NOT FOUND THEN
        UPDATE users SET held = held - p_amount WHERE id = p_user;
        RETURN -2;  -- the token's quota does not cover the amount
    END IF;
    INSERT INTO ledger_holds (user_id, token_id, amount, expires_at, process_id)
        VALUES (p_user, p_token, p_amount, p_expires, p_process) RETURNING id INTO hold_id;
    RETURN hold_id;
END;
$$;
"""


def upgrade() -> None:
    op.create_table(
        "ledger_processes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_processes")),
    )
    op.create_index(op.f("ix_ledger_processes_last_seen"), "ledger_processes", ["last_seen"])
    with op.batch_alter_table("ledger_holds", table_kwargs=_KEEP_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("process_id", sa.String(32), nullable=True))
        batch.create_index(op.f("ix_ledger_holds_process_id"), ["process_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HOLD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS relaygate_hold(text, bigint, bigint, bigint, bigint, bigint)")
    with op.batch_alter_table("ledger_holds", table_kwargs=_KEEP_AUTOINCREMENT) as batch:
        batch.drop_index(op.f("ix_ledger_holds_process_id"))
        batch.drop_column("process_id")
    op.drop_index(op.f("ix_ledger_processes_last_seen"), table_name="ledger_processes")
    op.drop_table("ledger_processes")
