"""accounts.menu: the command menu a chat was last given, so that it is set once, not once
per process

Revision ID: 0017_account_menu
Revises: 0016_questions
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_account_menu"
down_revision: str | None = "0016_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing accounts: not known (NULL), so each chat's menu is set once more, then recorded.
    op.add_column("accounts", sa.Column("menu", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("menu")
