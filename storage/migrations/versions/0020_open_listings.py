"""open listings: on PostgreSQL, the open listings as a page reads them, in a table of their own

A search reads every listing that has one of its words: with 60,000 listings, "software engineer
intern" has 9,230 of them among the 10,370 open ones. PostgreSQL's full-text index (GIN) cannot
be read alone: each match is fetched from the table, and ``opportunities`` keeps the open
listings scattered among five times as many closed ones and among wide rows, so one search
visited 3,400 table pages (two thirds of its time). ``open_listings`` holds one narrow row per
open listing: its search document and what eligibility, the filters and the order read, about
470 pages for the same listings. A page (the "for you" list, a search, their counts) is read
from it alone. It also keeps the location in lower case, which the "for you" score compares
with the student's place: ``lower()`` on every open listing was a third of that query's time.

A trigger after every insert or update of a listing writes its row (after the triggers before it
have computed the search document and the match keys), or deletes it once the listing is no
longer open; deleting a listing deletes its row. Tag and employer changes already touch the
listing (0012). The GIN index on ``opportunities.search_document`` is no longer read and is
dropped; the document itself stays, since ``search_words`` (typo correction) is fed from it.

SQLite needs none of this: its full-text index (FTS5) is a table of the open listings already,
the match index (0018) holds their keys and its LIKE ignores case without a copy.

Revision ID: 0020_open_listings
Revises: 0019_match_index_id
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_open_listings"
down_revision: str | None = "0019_match_index_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a page reads of a listing (storage.search.OPEN_LISTINGS describes the same table).
_COLUMNS = [
    "organisation_id",
    "title_key",
    "kind",
    "deadline",
    "min_age",
    "min_grade",
    "max_grade",
    "published_at",
    "paid",
    "remote",
    "tag_list",
    "location",
    "search_document",
]
_LIST = ", ".join([*_COLUMNS, "location_lower"])
_NEW = ", ".join([*(f"NEW.{c}" for c in _COLUMNS), "lower(NEW.location)"])
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_COLUMNS, "location_lower"])
_EXISTING = ", ".join([*_COLUMNS, "lower(location)"])

_UP = [
    """CREATE TABLE open_listings (
        id integer PRIMARY KEY REFERENCES opportunities (id) ON DELETE CASCADE,
        organisation_id integer NOT NULL,
        title_key varchar(200) NOT NULL,
        kind varchar(20) NOT NULL,
        deadline date,
        min_age integer,
        min_grade integer,
        max_grade integer,
        published_at timestamptz,
        paid boolean,
        remote boolean NOT NULL,
        tag_list varchar(500) NOT NULL,
        location varchar(300) NOT NULL,
        search_document tsvector NOT NULL,
        location_lower varchar(300) NOT NULL
    )""",
    f"""CREATE FUNCTION open_listings_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'open' THEN
            INSERT INTO open_listings (id, {_LIST}) VALUES (NEW.id, {_NEW})
            ON CONFLICT (id) DO UPDATE SET {_SET};
        ELSIF TG_OP = 'UPDATE' THEN
            DELETE FROM open_listings WHERE id = NEW.id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER open_listings_write AFTER INSERT OR UPDATE ON opportunities
        FOR EACH ROW EXECUTE FUNCTION open_listings_write()""",
    f"""INSERT INTO open_listings (id, {_LIST})
        SELECT id, {_EXISTING} FROM opportunities WHERE status = 'open'""",
    "CREATE INDEX ix_open_listings_document ON open_listings USING gin (search_document)",
    "DROP INDEX ix_opportunities_search_document",
]

_DOWN = [
    "CREATE INDEX ix_opportunities_search_document ON opportunities USING gin (search_document)"
    " WHERE status = 'open'",
    "DROP TRIGGER open_listings_write ON opportunities",
    "DROP FUNCTION open_listings_write()",
    "DROP TABLE open_listings",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWN:
            op.execute(statement)
