"""reminders and digests: a person's weekly digest, an event reminder's event time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digest_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("digest_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_people_digest_next_at"), ["digest_next_at"], unique=False
        )

    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("event_at")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_digest_next_at"))
        batch_op.drop_column("digest_since")
        batch_op.drop_column("digest_next_at")
        batch_op.drop_column("digest_day")
