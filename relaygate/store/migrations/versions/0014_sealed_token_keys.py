"""sealed token keys: a new or rotated key kept encrypted until it is revealed once or its time passes

Revision ID: 0014
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("sealed_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sealed_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("sealed_until")
        batch.drop_column("sealed_key")
