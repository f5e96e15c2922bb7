"""outbox threads: where a sent message is, and rows that answer in its thread or edit it

Revision ID: 0015_outbox_threads
Revises: 0014_alerts
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_outbox_threads"
down_revision: str | None = "0014_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_chat_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sent_message_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("thread_of", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("edits", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_edits"), ["edits"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_edits"))
        batch_op.drop_column("edits")
        batch_op.drop_column("thread_of")
        batch_op.drop_column("sent_message_id")
        batch_op.drop_column("sent_chat_id")
