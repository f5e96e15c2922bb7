"""questions: students' questions passed on to their school's teachers, and the answers

Revision ID: 0016_questions
Revises: 0015_outbox_threads
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_questions"
down_revision: str | None = "0015_outbox_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_again_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_by_name", sa.String(length=100), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["answered_by_id"], ["people.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["student_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_questions_school_id_answered_at",
        "questions",
        ["school_id", "answered_at"],
        unique=False,
    )
    op.create_index(op.f("ix_questions_student_id"), "questions", ["student_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_questions_student_id"), table_name="questions")
    op.drop_index("ix_questions_school_id_answered_at", table_name="questions")
    op.drop_table("questions")
