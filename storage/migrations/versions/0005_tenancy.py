"""tenancy: opportunities owned by a school, membership requests of employers

Existing opportunities get the school that last approved or rejected them (as the audit log
records), else the school of the teacher who published them; in an installation with one
school, every opportunity still without an owner becomes that school's. Whatever is left
(imports and proposals in an installation with several schools) stays without an owner: no
teacher can change it until the operator imports it again with ``--school``, and a pending
proposal without one goes to the school whose teacher first approves or rejects it.

Revision ID: 0005_tenancy
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_tenancy"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_school_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_opportunities_owner_school_id"), ["owner_school_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_opportunities_owner_school_id_schools"),
            "schools",
            ["owner_school_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "membership_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "declined",
                name="membership_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["people.id"],
            name=op.f("fk_membership_requests_decided_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"],
            ["invite_codes.id"],
            name=op.f("fk_membership_requests_invite_id_invite_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_membership_requests_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_membership_requests_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_requests")),
    )
    with op.batch_alter_table("membership_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_requests_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_membership_requests_person_id"), ["person_id"], unique=False
        )

    # The school of the teacher who last decided on a proposal: the one that approved it.
    op.execute(
        """
        UPDATE opportunities SET owner_school_id = (
            SELECT p.school_id FROM audit_log a JOIN people p ON p.id = a.actor_id
            WHERE a.subject_id = opportunities.id
              AND a.action IN ('opportunity_approved', 'opportunity_rejected')
              AND p.school_id IS NOT NULL
            ORDER BY a.at DESC, a.id DESC
            LIMIT 1
        )
        """
    )
    # Else the school of the teacher who published it.
    op.execute(
        """
        UPDATE opportunities SET owner_school_id = (
            SELECT p.school_id FROM people p
            WHERE p.id = opportunities.created_by_id AND p.role IN ('teacher', 'admin')
        )
        WHERE owner_school_id IS NULL
        """
    )
    # With one school, everything is that school's (what its teachers could change before).
    op.execute(
        """
        UPDATE opportunities SET owner_school_id = (SELECT MIN(id) FROM schools)
        WHERE owner_school_id IS NULL AND (SELECT COUNT(*) FROM schools) = 1
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("membership_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_requests_person_id"))
        batch_op.drop_index(batch_op.f("ix_membership_requests_organisation_id"))

    op.drop_table("membership_requests")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_opportunities_owner_school_id_schools"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_opportunities_owner_school_id"))
        batch_op.drop_column("owner_school_id")
