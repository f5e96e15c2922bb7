"""place keys: a listing is near a student when they share a place, not a substring

The "for you" score gave +3 to a listing whose location contained the student's town as a
substring, so a student in York was told a New York listing was near, and one in LS6 was near
nothing in Leeds. ``opportunities.place_keys`` holds the keys of the places a location names
("|new york |ny |usa |", "|ls6 |leeds |": ``storage.places.listing_keys``, set by the model with
every location), and the score matches the keys that the student's keys begin in whole words.

The place filter (and a saved search's "near") matches the same keys. The match index (0018,
0019) holds them; on PostgreSQL ``open_listings`` (0020) holds them instead of the location and
the location in lower case, which no page reads any more.

On PostgreSQL ``open_listings`` is now written when the transaction commits, once for each
listing changed (``_write_at_commit``).

The existing listings get their keys from today's ``storage.places``: the same keys the model
writes from now on.

Revision ID: 0022_place_keys
Revises: 0021_listing_role
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.places import listing_keys

revision: str = "0022_place_keys"
down_revision: str | None = "0021_listing_role"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What eligibility and the "for you" score read of a listing, before this migration.
_KEYS = [
    "deadline",
    "min_age",
    "min_grade",
    "max_grade",
    "published_at",
    "paid",
    "remote",
    "tag_list",
]
# The match index's columns (0018, 0019), to which the place keys are added.
_MATCH = ["status", "organisation_id", "title_key", *_KEYS, "location"]
# open_listings' columns but its id and role (0020, 0021), and where it is: its place keys,
# or before this migration its location and the location in lower case.
_COPIED = ["organisation_id", "title_key", "kind", *_KEYS, "search_document"]
_LOCATION = {"location": "NEW.location", "location_lower": "lower(NEW.location)"}


def _write_at_commit() -> list[str]:
    """open_listings written once a transaction commits, from the listing as it is then.

    An import writes a listing, then each of its tags touches it (0012), and each write used
    to rewrite its row here at once: 16,620 updates of 10,370 rows for the 60,000 listings,
    which left the table two and a half times its size (1,172 pages, not 481) for every page
    to read. Deferred to the commit, the first event writes the row as it ends up and the
    others find nothing changed.
    """
    columns = ", ".join([*_COPIED, "place_keys"])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_COPIED, "place_keys"])
    kept = ", ".join(f"o.{c}" for c in [*_COPIED, "place_keys"])
    new = ", ".join(f"EXCLUDED.{c}" for c in [*_COPIED, "place_keys"])
    return [
        f"""CREATE OR REPLACE FUNCTION open_listings_write() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO open_listings AS o (id, {columns})
                SELECT id, {columns} FROM opportunities WHERE id = NEW.id AND status = 'open'
            ON CONFLICT (id) DO UPDATE SET {updates} WHERE ({kept}) IS DISTINCT FROM ({new});
            DELETE FROM open_listings WHERE id = NEW.id AND NOT EXISTS (
                SELECT 1 FROM opportunities WHERE id = NEW.id AND status = 'open');
            RETURN NULL;
        END $$""",
        "DROP TRIGGER open_listings_write ON opportunities",
        """CREATE CONSTRAINT TRIGGER open_listings_write AFTER INSERT OR UPDATE ON opportunities
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION open_listings_write()""",
    ]


def _write_at_once() -> list[str]:
    """0020's trigger, with the location and the location in lower case."""
    columns = ", ".join([*_COPIED, *_LOCATION])
    values = ", ".join([*(f"NEW.{c}" for c in _COPIED), *_LOCATION.values()])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_COPIED, *_LOCATION])
    return [
        "DROP TRIGGER open_listings_write ON opportunities",
        f"""CREATE OR REPLACE FUNCTION open_listings_write() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'open' THEN
                INSERT INTO open_listings (id, {columns}) VALUES (NEW.id, {values})
                ON CONFLICT (id) DO UPDATE SET {updates};
            ELSIF TG_OP = 'UPDATE' THEN
                DELETE FROM open_listings WHERE id = NEW.id;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER open_listings_write AFTER INSERT OR UPDATE ON opportunities
            FOR EACH ROW EXECUTE FUNCTION open_listings_write()""",
    ]


def _match_index(keys: list[str]) -> None:
    op.drop_index("ix_opportunities_match", table_name="opportunities")
    op.create_index(
        "ix_opportunities_match", "opportunities", [*_MATCH, *keys], postgresql_include=["id"]
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "opportunities",
        sa.Column("place_keys", sa.String(length=500), server_default="", nullable=False),
    )
    if postgres:
        op.drop_column("open_listings", "location_lower")
        op.drop_column("open_listings", "location")
        op.execute(
            "ALTER TABLE open_listings ADD COLUMN place_keys varchar(500) NOT NULL DEFAULT ''"
        )
        for statement in _write_at_commit():
            op.execute(statement)
    connection = op.get_bind()
    listings = connection.execute(sa.text("SELECT id, location FROM opportunities")).all()
    keyed = [{"id": i, "keys": listing_keys(location)} for i, location in listings]
    if keyed:
        # On PostgreSQL the trigger copies each open listing's keys into open_listings.
        connection.execute(
            sa.text("UPDATE opportunities SET place_keys = :keys WHERE id = :id"), keyed
        )
    if postgres:
        # The rows' writes to open_listings now, before the indexes are made: PostgreSQL
        # makes no index on a table with writes pending at commit.
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _match_index(["place_keys"])


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_column("open_listings", "place_keys")
        for column in _LOCATION:
            op.execute(
                f"ALTER TABLE open_listings ADD COLUMN {column} varchar(300) NOT NULL DEFAULT ''"
            )
        op.execute(
            "UPDATE open_listings o SET location = p.location, location_lower = lower(p.location)"
            " FROM opportunities p WHERE p.id = o.id"
        )
        for column in _LOCATION:
            op.execute(f"ALTER TABLE open_listings ALTER COLUMN {column} DROP DEFAULT")
        for statement in _write_at_once():
            op.execute(statement)
    _match_index([])
    op.drop_column("opportunities", "place_keys")
