"""coverage objectives: an objective's year group; an invited student's "Did you go?"

``objectives.grade`` is the year group of an objective on the evidence's coverage ("90% of
Year 10 with a workplace experience"); existing objectives are partnership metrics, None.
``interests.attendance_asked_at`` and ``not_attended_at``: when the one question after an
employer's event or site visit went out, and the student's "no". Existing interests start
unasked: only events of the last few days are ever asked about.

Revision ID: 0013_coverage_objectives
Revises: 0012_search
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_coverage_objectives"
down_revision: str | None = "0012_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grade", sa.Integer(), nullable=True))
    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attendance_asked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("not_attended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.drop_column("not_attended_at")
        batch_op.drop_column("attendance_asked_at")
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_column("grade")
