"""match keys: what the "for you" page reads of a listing, in its own row and in one index

``opportunities.title_key`` is the role a listing is for (its title without case or surrounding
spaces), computed by the database from the title (a generated column: virtual on SQLite, stored
on PostgreSQL), so that "one role once" groups by a column rather than an expression.

``opportunities.tag_list`` holds the opportunity's tags separated by spaces, with a space at
each end (" business technology "), or "" without tags: the score asks whether a listing is in
one of a student's fields with a substring test on its own row instead of a lookup in
``opportunity_tags`` per listing. Triggers keep it in step with every write of the tags
(publishing, editing, imports, syncs, raw SQL); existing rows are filled here.

SQLite: a trigger after each tag is added or removed. PostgreSQL: a row trigger before each
insert or update of an opportunity, which 0012's tag triggers set off by touching the
opportunity (they do so to refresh its search document).

``ix_opportunities_match`` holds, for each listing, its status, role and every column that
eligibility and the score read (``storage.models.MATCH_KEYS``): the page is read from the index
alone, and its roles are counted in the index's order.

Revision ID: 0015_match_keys
Revises: 0014_alerts
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

_MATCH_KEYS = [
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

revision: str = "0015_match_keys"
down_revision: str | None = "0014_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_LIST = """coalesce(' ' || (SELECT group_concat(tag, ' ') FROM opportunity_tags
    WHERE opportunity_id = {id}) || ' ', '')"""
_SQLITE_SET = "UPDATE opportunities SET tag_list = " + _SQLITE_LIST + " WHERE id = {id};"

_SQLITE_UP = [
    f"""CREATE TRIGGER opportunity_tag_list_insert AFTER INSERT ON opportunity_tags BEGIN
        {_SQLITE_SET.format(id="new.opportunity_id")}
    END""",
    f"""CREATE TRIGGER opportunity_tag_list_delete AFTER DELETE ON opportunity_tags BEGIN
        {_SQLITE_SET.format(id="old.opportunity_id")}
    END""",
    "UPDATE opportunities SET tag_list = " + _SQLITE_LIST.format(id="opportunities.id"),
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS opportunity_tag_list_delete",
    "DROP TRIGGER IF EXISTS opportunity_tag_list_insert",
]

_POSTGRES_UP = [
    """CREATE FUNCTION opportunity_tag_list() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.tag_list := coalesce(' ' || (SELECT string_agg(tag, ' ' ORDER BY tag)
            FROM opportunity_tags WHERE opportunity_id = NEW.id) || ' ', '');
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER opportunity_tag_list BEFORE INSERT OR UPDATE ON opportunities
        FOR EACH ROW EXECUTE FUNCTION opportunity_tag_list()""",
    # Any update runs the trigger, which fills the column.
    "UPDATE opportunities SET tag_list = ''",
]

_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS opportunity_tag_list ON opportunities",
    "DROP FUNCTION IF EXISTS opportunity_tag_list()",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    # A plain ADD COLUMN on both backends: a batch rebuild on SQLite would drop 0012's triggers.
    op.add_column(
        "opportunities",
        sa.Column("tag_list", sa.String(length=500), server_default="", nullable=False),
    )
    # SQLite adds only virtual generated columns to a table; PostgreSQL 15 has only stored ones.
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "opportunities",
        sa.Column(
            "title_key",
            sa.String(length=200),
            sa.Computed("lower(trim(title))", persisted=True if postgres else None),
        ),
    )
    _run(_POSTGRES_UP if postgres else _SQLITE_UP)
    op.create_index(
        "ix_opportunities_match",
        "opportunities",
        ["status", "organisation_id", "title_key", *_MATCH_KEYS],
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_match", table_name="opportunities")
    _run(_POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN)
    # Not batch mode either (SQLite 3.35 drops a column in place), for the same reason.
    op.drop_column("opportunities", "title_key")
    op.drop_column("opportunities", "tag_list")
