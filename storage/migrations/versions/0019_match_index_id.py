"""the match index carries the listing's id on PostgreSQL, so that pages are read from it alone

``ix_opportunities_match`` (0018) holds everything the "for you" page and a search's count read
of a listing except its id. SQLite's index entries carry the rowid, which is the id, so there
the page is read from the index alone; PostgreSQL's did not, and with 60,000 listings every page
visited the table for each of the 10,000 open ones (a bitmap heap scan of 3,800 pages instead of
an index-only scan of 90). The index is made again with ``INCLUDE (id)``. Nothing changes on
SQLite.

Revision ID: 0019_match_index_id
Revises: 0018_match_keys
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_match_index_id"
down_revision: str | None = "0018_match_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = [
    "status",
    "organisation_id",
    "title_key",
    "deadline",
    "min_age",
    "min_grade",
    "max_grade",
    "published_at",
    "paid",
    "remote",
    "tag_list",
    "location",
]


def _recreate(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_opportunities_match", table_name="opportunities")
    op.create_index("ix_opportunities_match", "opportunities", _COLUMNS, postgresql_include=include)


def upgrade() -> None:
    _recreate(["id"])


def downgrade() -> None:
    _recreate([])
