"""chat-completions-only channels: OpenAI-compatible upstreams without /v1/responses get Responses requests converted

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


# Never `batch_alter_table` on channels: on SQLite it recreates the table, and dropping the old one
# cascade-deletes every row of channel_keys (tests/store/test_channel_keys_migration.py).
def upgrade() -> None:
    op.add_column(
        "channels", sa.Column("chat_completions_only", sa.Boolean(), nullable=False, server_default=sa.text("false"))
    )


def downgrade() -> None:
    op.drop_column("channels", "chat_completions_only")
