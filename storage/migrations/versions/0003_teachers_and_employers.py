"""teachers and employers: match replies, consent, announcements

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "sent",
                "cancelled",
                name="announcement_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["people.id"],
            name=op.f("fk_announcements_author_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_announcements_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_announcements_status_scheduled_for", ["status", "scheduled_for"], unique=False
        )

    op.create_table(
        "guardian_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["people.id"],
            name=op.f("fk_guardian_codes_student_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_guardian_codes_code")),
    )
    with op.batch_alter_table("guardian_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardian_codes_student_id"), ["student_id"], unique=False
        )

    op.create_table(
        "interest_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interest_id", sa.Integer(), nullable=False),
        sa.Column("from_person_id", sa.Integer(), nullable=True),
        sa.Column(
            "from_role",
            sa.Enum(
                "student",
                "teacher",
                "employer",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_person_id"],
            ["people.id"],
            name=op.f("fk_interest_messages_from_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interest_id"],
            ["interests.id"],
            name=op.f("fk_interest_messages_interest_id_interests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_messages")),
    )
    with op.batch_alter_table("interest_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interest_messages_from_person_id"), ["from_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interest_messages_interest_id"), ["interest_id"], unique=False
        )

    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("details_shared_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("employer_replied_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_announcement_id"), ["announcement_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_announcement_id_announcements"),
            "announcements",
            ["announcement_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_people_school_id"), ["school_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_people_school_id_schools"),
            "schools",
            ["school_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # Interests registered before this revision reached the employer with the student's details
    # unless the student was a minor without consent: record that, so that consent given later
    # re-sends only what the employer has not seen.
    people = sa.table(
        "people",
        sa.column("id", sa.Integer()),
        sa.column("under_18", sa.Boolean()),
        sa.column("guardian_consent_at", sa.DateTime(timezone=True)),
    )
    interests = sa.table(
        "interests",
        sa.column("person_id", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("details_shared_at", sa.DateTime(timezone=True)),
    )
    shareable = sa.select(people.c.id).where(
        sa.or_(
            people.c.under_18.is_(None),
            people.c.under_18 == sa.false(),
            people.c.guardian_consent_at.is_not(None),
        )
    )
    op.execute(
        interests.update()
        .where(interests.c.person_id.in_(shareable))
        .values(details_shared_at=interests.c.created_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_people_school_id_schools"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_people_school_id"))
        batch_op.drop_column("school_id")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_announcement_id_announcements"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_announcement_id"))
        batch_op.drop_column("announcement_id")

    with op.batch_alter_table("interests", schema=None) as batch_op:
        batch_op.drop_column("nudged_at")
        batch_op.drop_column("employer_replied_at")
        batch_op.drop_column("details_shared_at")

    with op.batch_alter_table("interest_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interest_messages_interest_id"))
        batch_op.drop_index(batch_op.f("ix_interest_messages_from_person_id"))

    op.drop_table("interest_messages")
    with op.batch_alter_table("guardian_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardian_codes_student_id"))

    op.drop_table("guardian_codes")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_status_scheduled_for")

    op.drop_table("announcements")
