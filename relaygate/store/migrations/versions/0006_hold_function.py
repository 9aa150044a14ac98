"""PostgreSQL: the database ledger's hold as one function call

Revision ID: 0006
Revises: 0005

A hold touches the owner's row and the token's row; as one statement in its own transaction
the row locks last only while the server runs it, not across round trips from the gateway, so
many processes can hold against one busy account at once. SQLite needs nothing: it has one writer.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

HOLD = """
CREATE OR REPLACE FUNCTION relaygate_hold(
    p_user bigint, p_token bigint, p_amount bigint, p_limit bigint, p_expires bigint
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
    INSERT INTO ledger_holds (user_id, token_id, amount, expires_at)
        VALUES (p_user, p_token, p_amount, p_expires) RETURNING id INTO hold_id;
    RETURN hold_id;
END;
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HOLD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS relaygate_hold(bigint, bigint, bigint, bigint, bigint)")
