"""place keys: a listing is near a student when they share a place, not a substring

The "for you" score gave +3 to a listing whose location contained the student's town as a
substring, so a student in York was told a New York listing was near, and one in LS6 was near
nothing in Leeds. ``opportunities.place_keys`` holds the keys of the places a location names
("|new york |ny |usa |", "|ls6 |leeds |": ``storage.places.listing_keys``, set by the model with
every location), and the score matches the keys that the student's keys begin in whole words.

The place filter (and a saved search's "near") matches the same keys. The match index (0018,
0019) holds them; on PostgreSQL ``open_listings`` and its page index (0020, 0021) hold them
instead of the location and the location in lower case, which no page reads any more.

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

_MATCH = [
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
_PAGE = [
    "deadline",
    "min_age",
    "min_grade",
    "max_grade",
    "published_at",
    "paid",
    "remote",
    "kind",
    "tag_list",
]
# open_listings' columns but its id and role (0020, 0021), and where it is: its place keys,
# or before this migration its location and the location in lower case.
_COPIED = [
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
    "search_document",
]
_PLACE = {"place_keys": "NEW.place_keys"}
_LOCATION = {"location": "NEW.location", "location_lower": "lower(NEW.location)"}


def _write_function(place: dict[str, str]) -> str:
    columns = ", ".join([*_COPIED, *place])
    values = ", ".join([*(f"NEW.{c}" for c in _COPIED), *place.values()])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_COPIED, *place])
    return f"""CREATE OR REPLACE FUNCTION open_listings_write() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'open' THEN
            INSERT INTO open_listings (id, {columns}) VALUES (NEW.id, {values})
            ON CONFLICT (id) DO UPDATE SET {updates};
        ELSIF TG_OP = 'UPDATE' THEN
            DELETE FROM open_listings WHERE id = NEW.id;
        END IF;
        RETURN NULL;
    END $$"""


def _match_index(keys: list[str]) -> None:
    op.drop_index("ix_opportunities_match", table_name="opportunities")
    op.create_index(
        "ix_opportunities_match", "opportunities", [*_MATCH, *keys], postgresql_include=["id"]
    )


def _page_index(place: str) -> None:
    op.create_index(
        "ix_open_listings_page",
        "open_listings",
        ["role"],
        postgresql_include=[*_PAGE, place, "id"],
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "opportunities",
        sa.Column("place_keys", sa.String(length=500), server_default="", nullable=False),
    )
    if postgres:
        op.drop_index("ix_open_listings_page", table_name="open_listings")
        op.drop_column("open_listings", "location_lower")
        op.drop_column("open_listings", "location")
        op.execute(
            "ALTER TABLE open_listings ADD COLUMN place_keys varchar(500) NOT NULL DEFAULT ''"
        )
        op.execute(_write_function(_PLACE))
    connection = op.get_bind()
    listings = connection.execute(sa.text("SELECT id, location FROM opportunities")).all()
    keyed = [{"id": i, "keys": listing_keys(location)} for i, location in listings]
    if keyed:
        # On PostgreSQL the trigger copies each open listing's keys into open_listings.
        connection.execute(
            sa.text("UPDATE opportunities SET place_keys = :keys WHERE id = :id"), keyed
        )
    _match_index(["place_keys"])
    if postgres:
        _page_index("place_keys")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_index("ix_open_listings_page", table_name="open_listings")
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
        op.execute(_write_function(_LOCATION))
        _page_index("location_lower")
    _match_index([])
    op.drop_column("opportunities", "place_keys")
