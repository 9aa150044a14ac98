"""token groups: groups users may pick for their tokens, in the operator's order; the group that served each request

Revision ID: 0013
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("selectable", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("group", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("group")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("sort_order")
        batch.drop_column("selectable")
