"""announcement delivered: when the author was told how an announcement was delivered

Revision ID: 0010_announcement_delivered
Revises: 0009_outbox_lease
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_announcement_delivered"
down_revision: str | None = "0009_outbox_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivery_reported_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Announcements sent before this column existed are not reported after the fact.
    op.execute(
        "UPDATE announcements SET delivery_reported_at = sent_at "
        "WHERE status = 'sent' AND sent_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_column("delivery_reported_at")
