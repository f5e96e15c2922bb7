"""search: a full-text index of opportunities kept in step by triggers, and its vocabulary;
where a student can get to and whether they want remote work

SQLite: an FTS5 table (porter stemming) with the title, organisation, tags, location and
description of every opportunity, and an ``fts5vocab`` view of its terms for typo correction.
The index keeps its own copy of the text rather than reading it from ``opportunities``
(external content): the organisation's name and the tags live in other tables, and an
external-content index can only forget a row when told the exact words it indexed, which a
trigger on a tag or an organisation cannot know any more. A copy is deleted by rowid.

PostgreSQL: a weighted ``tsvector`` column on ``opportunities`` with a GIN index, and a table
of the lexemes ever indexed with a trigram (pg_trgm) index for typo correction.

On both, triggers on opportunities, their tags and organisations keep the index in step with
every write (publishing, editing, imports, syncs, raw SQL). A later migration that rebuilds
``opportunities`` on SQLite (batch mode) drops its triggers and must create them again.

Revision ID: 0012_search
Revises: 0011_evidence
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_search"
down_revision: str | None = "0011_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_ROW = """
    SELECT o.id, o.title, coalesce(g.name, ''), o.description, o.location,
           coalesce((SELECT group_concat(t.tag, ' ') FROM opportunity_tags t
                     WHERE t.opportunity_id = o.id), '')
    FROM opportunities o LEFT JOIN organisations g ON g.id = o.organisation_id
"""
_SQLITE_COLUMNS = "rowid, title, organisation, description, location, tags"
_SQLITE_TAGS = """UPDATE opportunity_search SET tags = coalesce(
        (SELECT group_concat(tag, ' ') FROM opportunity_tags WHERE opportunity_id = {id}), '')
        WHERE rowid = {id};"""

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE opportunity_search USING fts5("
    "title, organisation, description, location, tags, tokenize='porter unicode61')",
    "CREATE VIRTUAL TABLE opportunity_search_vocab USING fts5vocab(opportunity_search, 'row')",
    f"INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW}",
    f"""CREATE TRIGGER opportunity_search_insert AFTER INSERT ON opportunities BEGIN
        INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW} WHERE o.id = new.id;
    END""",
    f"""CREATE TRIGGER opportunity_search_update
        AFTER UPDATE OF title, description, location, organisation_id ON opportunities BEGIN
        DELETE FROM opportunity_search WHERE rowid = old.id;
        INSERT INTO opportunity_search ({_SQLITE_COLUMNS}) {_SQLITE_ROW} WHERE o.id = new.id;
    END""",
    """CREATE TRIGGER opportunity_search_delete AFTER DELETE ON opportunities BEGIN
        DELETE FROM opportunity_search WHERE rowid = old.id;
    END""",
    f"""CREATE TRIGGER opportunity_search_tag_insert AFTER INSERT ON opportunity_tags BEGIN
        {_SQLITE_TAGS.format(id="new.opportunity_id")}
    END""",
    f"""CREATE TRIGGER opportunity_search_tag_delete AFTER DELETE ON opportunity_tags BEGIN
        {_SQLITE_TAGS.format(id="old.opportunity_id")}
    END""",
    """CREATE TRIGGER opportunity_search_organisation AFTER UPDATE OF name ON organisations BEGIN
        UPDATE opportunity_search SET organisation = new.name
        WHERE rowid IN (SELECT id FROM opportunities WHERE organisation_id = new.id);
    END""",
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS opportunity_search_organisation",
    "DROP TRIGGER IF EXISTS opportunity_search_tag_delete",
    "DROP TRIGGER IF EXISTS opportunity_search_tag_insert",
    "DROP TRIGGER IF EXISTS opportunity_search_delete",
    "DROP TRIGGER IF EXISTS opportunity_search_update",
    "DROP TRIGGER IF EXISTS opportunity_search_insert",
    "DROP TABLE IF EXISTS opportunity_search_vocab",
    "DROP TABLE IF EXISTS opportunity_search",
]

_POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE opportunities ADD COLUMN search_document tsvector",
    "CREATE TABLE search_words (word text PRIMARY KEY)",
    "CREATE INDEX ix_search_words_trigram ON search_words USING gin (word gin_trgm_ops)",
    # The title weighs most, then the employer and the fields, the place, the description.
    """CREATE FUNCTION opportunity_search_document() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_document :=
            setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A')
            || setweight(to_tsvector('english', coalesce(
                (SELECT name FROM organisations WHERE id = NEW.organisation_id), '')), 'B')
            || setweight(to_tsvector('english', coalesce(
                (SELECT string_agg(tag, ' ') FROM opportunity_tags
                 WHERE opportunity_id = NEW.id), '')), 'B')
            || setweight(to_tsvector('english', coalesce(NEW.location, '')), 'C')
            || setweight(to_tsvector('english', coalesce(NEW.description, '')), 'D');
        IF TG_OP = 'INSERT' OR NEW.search_document IS DISTINCT FROM OLD.search_document THEN
            -- Sorted, so that concurrent writers take the words' locks in the same order.
            INSERT INTO search_words (word)
            SELECT w FROM unnest(tsvector_to_array(NEW.search_document)) AS w ORDER BY w
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER opportunity_search_document BEFORE INSERT OR UPDATE ON opportunities
        FOR EACH ROW EXECUTE FUNCTION opportunity_search_document()""",
    # Setting the column to NULL makes the row trigger above compute it again.
    """CREATE FUNCTION opportunity_search_tags_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE opportunities SET search_document = NULL
        WHERE id IN (SELECT opportunity_id FROM changed_tags);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER opportunity_search_tags_added AFTER INSERT ON opportunity_tags
        REFERENCING NEW TABLE AS changed_tags
        FOR EACH STATEMENT EXECUTE FUNCTION opportunity_search_tags_added()""",
    """CREATE TRIGGER opportunity_search_tags_removed AFTER DELETE ON opportunity_tags
        REFERENCING OLD TABLE AS changed_tags
        FOR EACH STATEMENT EXECUTE FUNCTION opportunity_search_tags_added()""",
    """CREATE FUNCTION opportunity_search_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE opportunities SET search_document = NULL WHERE organisation_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER opportunity_search_organisation AFTER UPDATE OF name ON organisations
        FOR EACH ROW EXECUTE FUNCTION opportunity_search_organisation()""",
    "UPDATE opportunities SET search_document = NULL",
    "CREATE INDEX ix_opportunities_search_document ON opportunities USING gin (search_document)",
]

_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS opportunity_search_organisation ON organisations",
    "DROP FUNCTION IF EXISTS opportunity_search_organisation()",
    "DROP TRIGGER IF EXISTS opportunity_search_tags_removed ON opportunity_tags",
    "DROP TRIGGER IF EXISTS opportunity_search_tags_added ON opportunity_tags",
    "DROP FUNCTION IF EXISTS opportunity_search_tags_added()",
    "DROP TRIGGER IF EXISTS opportunity_search_document ON opportunities",
    "DROP FUNCTION IF EXISTS opportunity_search_document()",
    "DROP INDEX IF EXISTS ix_opportunities_search_document",
    "ALTER TABLE opportunities DROP COLUMN IF EXISTS search_document",
    "DROP TABLE IF EXISTS search_words",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("place", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("wants_remote", sa.Boolean(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _run(_POSTGRES_UP)
    else:
        _run(_SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(_POSTGRES_DOWN)
    else:
        _run(_SQLITE_DOWN)
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("wants_remote")
        batch_op.drop_column("place")
