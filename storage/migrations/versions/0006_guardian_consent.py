"""guardian consent: who confirmed it, and students' family names

Revision ID: 0006_guardian_consent
Revises: 0005_tenancy
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_guardian_consent"
down_revision: str | None = "0005_tenancy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing students are asked for their family name at their next /start, and codes used
    # before keep no record of who used them: both columns start empty.
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("family_name", sa.String(length=60), nullable=True))

    with op.batch_alter_table("guardian_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("guardian_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("guardian_relationship", sa.String(length=40), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_guardian_codes_used_by_id"), ["used_by_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_guardian_codes_used_by_id_people"),
            "people",
            ["used_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("guardian_codes", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_guardian_codes_used_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_guardian_codes_used_by_id"))
        batch_op.drop_column("guardian_relationship")
        batch_op.drop_column("guardian_name")
        batch_op.drop_column("used_by_id")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("family_name")
