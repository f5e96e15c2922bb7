"""Full-text search on the shared listings' real titles: word forms, typos, phrases, ranking,
filters, and an index that follows every write (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from handlers.listings.importer import import_file
from storage.models import (
    Opportunity,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    Person,
    Role,
)
from storage.queries import BrowseFilters, browse_page
from storage.search import closest, parse
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard

LISTINGS = Path(__file__).parent / "data" / "internship-listings-sample.json"
TITLES = sorted({r["title"].strip() for r in json.loads(LISTINGS.read_text())})


def has_word(title: str, *stems: str) -> bool:
    words = re.findall(r"\w+", title.lower())
    return all(any(w.startswith(s) for w in words) for s in stems)


def leading(results: list[str], good: Callable[[str], bool]) -> int:
    """How many results ``good`` holds for, making sure they all come before the others."""
    flags = [good(t) for t in results]
    count = sum(flags)
    assert flags[:count] == [True] * count, results
    return count


@pytest.fixture
def imported(snapshot: Snapshot) -> None:
    snapshot(_import)


def _import(_core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    import_file(session_factory, LISTINGS, now=clock.now)
    with session_factory.begin() as session:
        # Most of the sample has closed; search looks only at open listings.
        session.execute(update(Opportunity).values(status=OpportunityStatus.OPEN))


def found(
    session_factory: sessionmaker[Session], clock: FakeClock, text: str, **filters: object
) -> list[str]:
    return [r.partition(" | ")[0] for r in found_in(session_factory, clock, text, **filters)]


def found_in(
    session_factory: sessionmaker[Session], clock: FakeClock, text: str, **filters: object
) -> list[str]:
    """What a search finds: each listing as "title | organisation | location | tags"."""
    with session_factory() as session:
        student = Person(name="S", role=Role.STUDENT, created_at=clock.now)
        items, total = browse_page(
            session,
            student,
            BrowseFilters(text=text, **filters),  # type: ignore[arg-type]
            clock.now.date(),
            page=0,
            page_size=1000,
        )
        assert total == len(items)
        return [
            " | ".join((o.title, o.organisation.name, o.location, " ".join(o.tag_names)))
            for o in items
        ]


@pytest.mark.usefixtures("imported")
def test_a_word_finds_its_other_forms(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    traders = found(session_factory, clock, "traders")
    expected = {t for t in TITLES if has_word(t, "trader")}
    assert expected == {
        "Campus: Quantitative Trader Intern - Summer 2024 - Chicago",
        "Trader Summer Internship London 2025",
    }
    assert set(traders[: len(expected)]) == expected
    researching = found(session_factory, clock, "researching")
    assert leading(researching, lambda t: has_word(t, "research")) > 10


@pytest.mark.usefixtures("imported")
def test_typos_are_corrected_to_indexed_words(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    results = found(session_factory, clock, "sofware enginer")
    # "Engineering" is a form of "engineer" too; listings tagged Engineering with "software"
    # in the title follow.
    assert all(has_word(t, "software", "engin") for t in results[:20])
    assert "Software Engineer Intern" in results[:20]
    assert found(session_factory, clock, "machin lerning")[0].startswith("Machine Learning")
    # Nothing near enough: nothing found, rather than something random.
    assert found(session_factory, clock, "zzyzzx") == []


@pytest.mark.usefixtures("imported")
def test_every_word_first_then_some(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    results = found_in(session_factory, clock, "machine learning remote")
    assert leading(results, lambda t: has_word(t, "machine", "learn", "remot")) >= 2
    assert all(
        has_word(t, "machine") or has_word(t, "remot") or has_word(t, "learn") for t in results
    )
    assert not all(has_word(t, "machine", "learn", "remot") for t in results)


@pytest.mark.usefixtures("imported")
def test_a_quoted_phrase_keeps_its_words_together(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    phrase = found(session_factory, clock, '"data science"')
    assert phrase and all("data science" in t.lower() for t in phrase)
    loose = found(session_factory, clock, "science data")
    assert set(phrase) <= set(loose)
    assert len(found(session_factory, clock, '"science data"')) < len(phrase)


@pytest.mark.usefixtures("imported")
def test_search_combines_with_filters_and_punctuation_finds_nothing(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    remote = found(session_factory, clock, "machine learning", remote=True)
    assert len(remote) >= 2
    with session_factory() as session:
        remote_titles = set(
            session.scalars(select(Opportunity.title).where(Opportunity.remote.is_(True)))
        )
    assert set(remote) <= remote_titles
    assert found(session_factory, clock, "% ! ?") == []
    healthy = found_in(session_factory, clock, "software", tag="health")
    assert healthy and all(has_word(t, "software", "health") for t in healthy)


def test_the_index_follows_every_write(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    first = add_opportunity(session_factory, clock.now, title="Pastry chef", organisation="Bakes")
    assert found(session_factory, clock, "pastries") == ["Pastry chef"]
    with session_factory.begin() as session:
        session.execute(
            update(Opportunity).where(Opportunity.id == first).values(title="Bread baker")
        )
    assert found(session_factory, clock, "pastry") == []
    assert found(session_factory, clock, "bakers") == ["Bread baker"]
    with session_factory.begin() as session:
        session.add(OpportunityTag(opportunity_id=first, tag="hospitality"))
    assert found(session_factory, clock, "hospitality") == ["Bread baker"]
    with session_factory.begin() as session:
        session.execute(delete(OpportunityTag).where(OpportunityTag.opportunity_id == first))
        session.execute(
            update(Organisation).where(Organisation.name == "Bakes").values(name="Crumbs Ltd")
        )
    assert found(session_factory, clock, "hospitality") == []
    assert found(session_factory, clock, "crumbs") == ["Bread baker"]
    with session_factory.begin() as session:
        session.execute(delete(Opportunity).where(Opportunity.id == first))
    assert found(session_factory, clock, "bread") == []


def test_eligibility_stays_a_hard_filter(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Welding apprentice", min_age=18)
    with session_factory() as session:
        young = Person(name="Y", role=Role.STUDENT, under_18=True, created_at=clock.now)
        items, total = browse_page(
            session, young, BrowseFilters(text="welding"), date(2026, 1, 1), page=0, page_size=5
        )
    assert (items, total) == ([], 0)


@pytest.mark.parametrize(
    ("typed", "stems", "expected"),
    [
        ("sofware", ["softwar", "hardwar", "engin"], "softwar"),
        ("enginer", ["engin", "energi"], "engin"),
        ("nurce", ["nurs", "nuanc"], "nurs"),
        ("leads", ["lead", "leed"], "lead"),
        ("xylophone", ["softwar", "engin"], None),
    ],
)
def test_closest_stem(typed: str, stems: list[str], expected: str | None) -> None:
    assert closest(typed, stems) == expected


def test_parse_keeps_phrases_and_drops_stopwords() -> None:
    terms = parse('jobs in "Data Science" London AI/ML -co-op "')
    assert [(t.words, t.typed, t.phrase) for t in terms] == [
        (("jobs",), "jobs", False),
        (("data", "science"), "data science", True),
        (("london",), "london", False),
        (("ai", "ml"), "ai/ml", True),
        (("co", "op"), "co-op", True),
    ]


def test_a_student_searches_with_a_typo_in_the_chat(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title="Software Engineer Intern")
    add_opportunity(session_factory, clock.now, title="Ward assistant", organisation="NHS")
    ada = Chat(core, "ada")
    onboard(ada)
    ada.send("/search sofware enginer")
    assert "1. Software Engineer Intern" in ada.text
    assert "Ward assistant" not in ada.text
