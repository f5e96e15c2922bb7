"""Places reduced to keys: a student is near a listing when they share a whole place."""

from __future__ import annotations

import pytest

from storage.places import listing_keys, near, student_keys


@pytest.mark.parametrize(
    ("location", "keys"),
    [
        ("New York, NY, USA", "|new york |ny |usa |"),
        ("Leeds, UK", "|leeds |uk |"),
        # The importer's list of places, and how many it left out.
        ("NYC; Chicago, IL; and 3 more", "|nyc |chicago |il |"),
        # A street address has no key; its postcode gives its outward part and post town.
        ("12 Park Row, Leeds LS1 5HD", "|ls1 |leeds |"),
        ("LS6 2AB", "|ls6 |leeds |"),
        ("sw1a1aa", "|sw1a |london |"),
        # Words that merely look like an outward code, not at the end or in no known area.
        ("B2B sales team, Bristol", "|b2b sales team |bristol |"),
        ("A1 services", "|a1 services |"),
        ("Saint-Étienne, France", "|saint étienne |france |"),
        ("", ""),
    ],
)
def test_a_listing_s_location_becomes_the_keys_of_its_places(location: str, keys: str) -> None:
    assert listing_keys(location) == keys


@pytest.mark.parametrize(
    ("place", "keys"),
    [
        ("Leeds", ["leeds"]),
        (" leeds , UK", ["leeds"]),
        ("LS6 2AB", ["ls6", "leeds"]),
        ("ls6", ["ls6", "leeds"]),
        ("Leeds LS6", ["ls6", "leeds"]),
        ("New York", ["new york"]),
        ("Remote", ["remote"]),
        ("!!!", []),
    ],
)
def test_a_student_s_place_becomes_its_keys(place: str, keys: list[str]) -> None:
    assert student_keys(place) == keys


@pytest.mark.parametrize(
    ("location", "place", "is_near"),
    [
        ("New York, NY", "York", False),
        ("York, UK", "York", True),
        ("New York, NY", "new york", True),
        ("Leeds, UK", "LS6 2AB", True),
        ("Park Row, Leeds LS1 5HD", "Leeds", True),
        ("Leeds city centre", "Leeds", True),
        ("Leeds city centre", "Leeds city", True),
        ("Leedsbridge", "Leeds", False),
        ("LS10 1AB", "LS1", True),  # another district of the same post town
        ("Salisbury, UK", "Bury", False),
        ("Manchester, NH, USA", "York", False),
    ],
)
def test_near_is_a_whole_place_in_common(location: str, place: str, is_near: bool) -> None:
    assert near(listing_keys(location), student_keys(place)) is is_near
