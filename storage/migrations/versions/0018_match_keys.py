"""match keys: what the "for you" page and the search read of a listing, kept at hand

``opportunities.title_key`` is the role a listing is for (its title without case or surrounding
spaces), so that "one role once" groups by a column rather than an expression.
``opportunities.tag_list`` holds the listing's tags separated by spaces, with a space at each end
(" business technology "), or "" without tags: the score asks whether a listing is in one of a
student's fields with a substring test on its own row instead of a lookup in
``opportunity_tags`` per listing. Triggers keep both in step with every write of the title or
the tags (publishing, editing, imports, syncs, raw SQL); existing rows are filled here.

``ix_opportunities_match`` holds, for each listing, its status, role and every column that
eligibility and the score read (``storage.models.MATCH_KEYS``): the page is read from the index
alone, and its roles are counted in the index's order.

The search index (0012) now holds the open listings only, which are all a search can show:
ranking the matches (bm25, ``ts_rank``) no longer spends time on the closed ones, five in six
of the shared listings.

SQLite: triggers after a listing is added or its title changes, and after each tag is added
or removed; 0012's triggers that write the full-text index are made again with the listing's
status as a condition, and the closed listings are taken out of it. PostgreSQL: a row trigger
before each insert or update of a listing, which 0012's tag triggers set off by touching the
listing (they do so to refresh its search document), and the search document's GIN index
becomes a partial index of the open listings.

Revision ID: 0018_match_keys
Revises: 0017_account_menu
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_match_keys"
down_revision: str | None = "0017_account_menu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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

_SQLITE_LIST = """coalesce(' ' || (SELECT group_concat(tag, ' ') FROM opportunity_tags
    WHERE opportunity_id = {id}) || ' ', '')"""
_SQLITE_SET = "UPDATE opportunities SET tag_list = " + _SQLITE_LIST + " WHERE id = {id};"
_SQLITE_TITLE = "UPDATE opportunities SET title_key = lower(trim(new.title)) WHERE id = new.id;"

# 0012's row of the full-text index and its triggers that write it, for the open listings only.
_SQLITE_ROW = """
    SELECT o.id, o.title, coalesce(g.name, ''), o.description, o.location,
           coalesce((SELECT group_concat(t.tag, ' ') FROM opportunity_tags t
                     WHERE t.opportunity_id = o.id), '')
    FROM opportunities o LEFT JOIN organisations g ON g.id = o.organisation_id
"""
_SQLITE_COLUMNS = "rowid, title, organisation, description, location, tags"


def _sqlite_search_triggers(where: str, columns: str) -> list[str]:
    return [
        "DROP TRIGGER opportunity_search_insert",
        "DROP TRIGGER opportunity_search_update",
        f"""CREATE TRIGGER opportunity_search_insert AFTER INSERT ON opportunities BEGIN
            INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW}
            WHERE o.id = new.id{where};
        END""",
        f"""CREATE TRIGGER opportunity_search_update AFTER UPDATE OF {columns} ON opportunities
        BEGIN
            DELETE FROM opportunity_search WHERE rowid = old.id;
            INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW}
            WHERE o.id = new.id{where};
        END""",
    ]


_SQLITE_UP = [
    f"""CREATE TRIGGER opportunity_match_insert AFTER INSERT ON opportunities BEGIN
        {_SQLITE_TITLE}
    END""",
    f"""CREATE TRIGGER opportunity_match_title AFTER UPDATE OF title ON opportunities BEGIN
        {_SQLITE_TITLE}
    END""",
    f"""CREATE TRIGGER opportunity_tag_list_insert AFTER INSERT ON opportunity_tags BEGIN
        {_SQLITE_SET.format(id="new.opportunity_id")}
    END""",
    f"""CREATE TRIGGER opportunity_tag_list_delete AFTER DELETE ON opportunity_tags BEGIN
        {_SQLITE_SET.format(id="old.opportunity_id")}
    END""",
    "UPDATE opportunities SET title_key = lower(trim(title)), tag_list = "
    + _SQLITE_LIST.format(id="opportunities.id"),
    *_sqlite_search_triggers(
        " AND o.status = 'open'", "title, description, location, organisation_id, status"
    ),
    "DELETE FROM opportunity_search"
    " WHERE rowid IN (SELECT id FROM opportunities WHERE status != 'open')",
]

_SQLITE_DOWN = [
    *_sqlite_search_triggers("", "title, description, location, organisation_id"),
    f"""INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW}
        WHERE o.status != 'open'""",
    "DROP TRIGGER IF EXISTS opportunity_tag_list_delete",
    "DROP TRIGGER IF EXISTS opportunity_tag_list_insert",
    "DROP TRIGGER IF EXISTS opportunity_match_title",
    "DROP TRIGGER IF EXISTS opportunity_match_insert",
]

_POSTGRES_UP = [
    """CREATE FUNCTION opportunity_match_keys() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.title_key := lower(btrim(NEW.title));
        NEW.tag_list := coalesce(' ' || (SELECT string_agg(tag, ' ' ORDER BY tag)
            FROM opportunity_tags WHERE opportunity_id = NEW.id) || ' ', '');
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER opportunity_match_keys BEFORE INSERT OR UPDATE ON opportunities
        FOR EACH ROW EXECUTE FUNCTION opportunity_match_keys()""",
    # Any update runs the trigger, which fills the columns.
    "UPDATE opportunities SET tag_list = ''",
    "DROP INDEX ix_opportunities_search_document",
    "CREATE INDEX ix_opportunities_search_document ON opportunities USING gin (search_document)"
    " WHERE status = 'open'",
]

_POSTGRES_DOWN = [
    "DROP INDEX ix_opportunities_search_document",
    "CREATE INDEX ix_opportunities_search_document ON opportunities USING gin (search_document)",
    "DROP TRIGGER IF EXISTS opportunity_match_keys ON opportunities",
    "DROP FUNCTION IF EXISTS opportunity_match_keys()",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of the table on SQLite would drop 0012's triggers.
    op.add_column(
        "opportunities",
        sa.Column("title_key", sa.String(length=200), server_default="", nullable=False),
    )
    op.add_column(
        "opportunities",
        sa.Column("tag_list", sa.String(length=500), server_default="", nullable=False),
    )
    _run(_POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else _SQLITE_UP)
    op.create_index(
        "ix_opportunities_match",
        "opportunities",
        ["status", "organisation_id", "title_key", *_MATCH_KEYS],
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_match", table_name="opportunities")
    _run(_POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN)
    # Not batch mode either (SQLite 3.35 drops a column in place), for the same reason.
    op.drop_column("opportunities", "tag_list")
    op.drop_column("opportunities", "title_key")
