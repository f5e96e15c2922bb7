"""alerts: students' alerts for new matches, what each student has heard about, how often,
and a pause of alerts and the digest

Revision ID: 0014_alerts
Revises: 0013_coverage_objectives
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_alerts"
down_revision: str | None = "0013_coverage_objectives"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("words", sa.String(length=100), nullable=True),
        sa.Column("place", sa.String(length=60), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_alerts_person_id"), "alerts", ["person_id"], unique=False)
    op.create_table(
        "alerts_sent",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("person_id", "opportunity_id"),
    )
    op.create_index(
        op.f("ix_alerts_sent_opportunity_id"), "alerts_sent", ["opportunity_id"], unique=False
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("alert_every_days", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("alert_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("news_paused_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_people_alert_next_at"), ["alert_next_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_alert_next_at"))
        batch_op.drop_column("news_paused_until")
        batch_op.drop_column("alert_next_at")
        batch_op.drop_column("alert_every_days")
    op.drop_index(op.f("ix_alerts_sent_opportunity_id"), table_name="alerts_sent")
    op.drop_table("alerts_sent")
    op.drop_index(op.f("ix_alerts_person_id"), table_name="alerts")
    op.drop_table("alerts")
