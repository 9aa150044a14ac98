"""audio token prices

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prices") as batch:
        batch.add_column(sa.Column("audio_input", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("audio_output", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prices") as batch:
        batch.drop_column("audio_output")
        batch.drop_column("audio_input")
