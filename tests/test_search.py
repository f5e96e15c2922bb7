"""Full-text search on the shared listings' real titles: word forms, typos, phrases, ranking,
filters, and an index that follows every write (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from handlers.common import also
from handlers.listings.importer import import_file
from storage.models import (
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    Person,
    Role,
)
from storage.queries import BrowseFilters, browse_page, elsewhere
from storage.search import closest, parse
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard

LISTINGS = Path(__file__).parent / "data" / "internship-listings-sample.json"
RECORDS = json.loads(LISTINGS.read_text())
TITLES = sorted({r["title"].strip() for r in RECORDS})
# One role: the same title (whatever its case and surrounding spaces) from the same employer.
ROLES = {(r["company_name"], r["title"].strip().lower()) for r in RECORDS}
# A role the sample lists four times, in four places.
LEIDOS = ("Leidos", "software engineer intern")


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
    research_roles = {role for role in ROLES if has_word(role[1], "research")}
    assert leading(researching, lambda t: has_word(t, "research")) == len(research_roles) > 8


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
    first = add_opportunity(session_factory, clock.now, title=" Pastry Chef", organisation="Bakes")
    assert found(session_factory, clock, "pastries") == [" Pastry Chef"]
    assert match_keys(session_factory, first) == ("pastry chef", [])
    with session_factory.begin() as session:
        session.execute(
            update(Opportunity).where(Opportunity.id == first).values(title="Bread Baker ")
        )
    assert found(session_factory, clock, "pastry") == []
    assert found(session_factory, clock, "bakers") == ["Bread Baker "]
    assert match_keys(session_factory, first) == ("bread baker", [])
    with session_factory.begin() as session:
        session.add_all(
            OpportunityTag(opportunity_id=first, tag=tag) for tag in ("trades", "hospitality")
        )
    assert found(session_factory, clock, "hospitality") == ["Bread Baker "]
    assert match_keys(session_factory, first) == ("bread baker", ["hospitality", "trades"])
    with session_factory.begin() as session:
        session.execute(delete(OpportunityTag).where(OpportunityTag.opportunity_id == first))
        session.execute(
            update(Organisation).where(Organisation.name == "Bakes").values(name="Crumbs Ltd")
        )
    assert found(session_factory, clock, "hospitality") == []
    assert found(session_factory, clock, "crumbs") == ["Bread Baker "]
    assert match_keys(session_factory, first) == ("bread baker", [])
    # Only the open listings are searched: closing one takes it out, reopening puts it back.
    for status, expected in (
        (OpportunityStatus.CLOSED, []),
        (OpportunityStatus.OPEN, ["Bread Baker "]),
    ):
        with session_factory.begin() as session:
            session.execute(
                update(Opportunity).where(Opportunity.id == first).values(status=status)
            )
        assert found(session_factory, clock, "bread") == expected
    with session_factory.begin() as session:
        session.execute(delete(Opportunity).where(Opportunity.id == first))
    assert found(session_factory, clock, "bread") == []


def match_keys(session_factory: sessionmaker[Session], listing: int) -> tuple[str, list[str]]:
    """What the "for you" page reads of a listing's role and fields (kept by triggers)."""
    with session_factory() as session:
        role, fields = session.execute(
            select(Opportunity.title_key, Opportunity.tag_list).where(Opportunity.id == listing)
        ).one()
    assert fields == (f" {fields.strip()} " if fields else "")
    return role, sorted(fields.split())


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


def test_the_best_matches_a_student_may_not_take_do_not_hide_the_others(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """SQLite looks up only the leading matches first; when too few of them are eligible,
    the page still lists the eligible ones further down, in order."""
    for n in range(30):
        add_opportunity(
            session_factory,
            clock.now,
            title=f"Welding apprentice {n}",
            organisation=f"Forge {n}",
            min_age=18,
        )
    eligible = [
        add_opportunity(
            session_factory,
            clock.now,
            title=f"Workshop assistant {n}",
            organisation=f"Works {n}",
            description="Some welding.",
        )
        for n in range(7)
    ]
    student = Person(name="Y", role=Role.STUDENT, under_18=True, created_at=clock.now)
    pages = []
    with session_factory() as session:
        for page in (0, 1):
            items, total = browse_page(
                session,
                student,
                BrowseFilters(text="welding"),
                clock.now.date(),
                page=page,
                page_size=5,
            )
            pages.append([o.id for o in items])
    assert [len(p) for p in pages] == [5, 2] and total == 7
    assert sorted(pages[0] + pages[1]) == eligible


def test_a_search_sees_every_change_to_what_it_filters_on(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """PostgreSQL reads a search's eligibility, filters and order from a copy kept beside the
    search document (``search_listings``): each change to the listing shows at once."""
    listing = add_opportunity(
        session_factory, clock.now, title="Welding apprentice", location="Leeds", remote=False
    )
    student = Person(name="Y", role=Role.STUDENT, under_18=True, grade=9, created_at=clock.now)
    today = clock.now.date()

    def finds(**filters: object) -> bool:
        with session_factory() as session:
            items, total = browse_page(
                session,
                student,
                BrowseFilters(text="welding", **filters),  # type: ignore[arg-type]
                today,
                page=0,
                page_size=5,
            )
        assert total == len(items)
        return [o.id for o in items] == [listing]

    def change(**values: object) -> None:
        # Through the model, as the bot writes: a new location gives new place keys.
        with session_factory.begin() as session:
            changed = session.get_one(Opportunity, listing)
            for name, value in values.items():
                setattr(changed, name, value)

    assert finds(where="leeds") and not finds(where="york") and not finds(remote=True)
    change(location="York", remote=True, paid=True, kind=OpportunityKind.JOB_SHADOWING)
    assert finds(where="york") and finds(remote=True) and finds(paid=True)
    assert not finds(kind=OpportunityKind.INTERNSHIP) and finds(kind=OpportunityKind.JOB_SHADOWING)
    for ineligible in ({"min_age": 18}, {"min_grade": 10}, {"max_grade": 8}):
        change(**ineligible)
        assert not finds()
        change(min_age=None, min_grade=None, max_grade=None)
        assert finds()
    change(deadline=today - timedelta(days=1))
    assert not finds()
    change(deadline=today)
    assert finds()


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


def page_of(
    session: Session, clock: FakeClock, filters: BrowseFilters, order: str = "soonest"
) -> tuple[list[Opportunity], int]:
    student = Person(name="S", role=Role.STUDENT, created_at=clock.now)
    return browse_page(
        session, student, filters, clock.now.date(), page=0, page_size=1000, order=order
    )


@pytest.mark.usefixtures("imported")
@pytest.mark.parametrize("order", ["for_you", "soonest", "newest"])
def test_one_role_is_listed_once(
    session_factory: sessionmaker[Session], clock: FakeClock, order: str
) -> None:
    with session_factory() as session:
        items, total = page_of(session, clock, BrowseFilters(), order)
        listed = [(o.organisation.name, o.title.strip().lower()) for o in items]
        stored = session.execute(
            select(Organisation.name, Opportunity.title).join_from(Opportunity, Organisation)
        ).all()
        roles = {(name, title.strip().lower()) for name, title in stored}
        assert total == len(items) == len(set(listed)) == len(roles) < len(stored)
        assert set(listed) == roles
        student = Person(name="S", role=Role.STUDENT, created_at=clock.now)
        leidos = next(o for o in items if listed[items.index(o)] == LEIDOS)
        # The newest of Leidos' four listings stands for the role when nothing else decides.
        assert leidos.location == "San Diego, CA"
        other = elsewhere(session, student, clock.now.date(), [leidos])[leidos.id]
        assert set(other.places) == {"Remote, US", "Lynnwood, WA", "Arlington, VA"}
        assert other.listings == 3
        assert also(other) == f"also in {other.places[0]} and 2 more"


@pytest.mark.usefixtures("imported")
def test_a_search_or_a_place_lists_a_role_once_by_its_best_listing(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with session_factory() as session:
        items, total = page_of(session, clock, BrowseFilters(text="mobile software engineering"))
        apps = [o for o in items if o.organisation.name == "AppLovin"]
        assert len(apps) == 1 and total == len(items)
        items, _ = page_of(session, clock, BrowseFilters(text="software", where="Lynnwood"))
        assert [(o.organisation.name, o.location) for o in items] == [("Leidos", "Lynnwood, WA")]
        student = Person(name="S", role=Role.STUDENT, created_at=clock.now)
        other = elsewhere(session, student, clock.now.date(), items)[items[0].id]
        assert set(other.places) == {"Remote, US", "San Diego, CA", "Arlington, VA"}


def test_the_list_and_the_card_say_where_else_a_role_is(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title="Data intern", location="Leeds")
    add_opportunity(session_factory, clock.now, title="DATA intern ", location="York; Hull")
    # The same role in the same place from another source adds no place.
    add_opportunity(
        session_factory, clock.now, title="Data intern", location="Leeds", source="board"
    )
    add_opportunity(session_factory, clock.now, title="Data intern", organisation="Other Co")
    # Closed, or for adults only: not somewhere this student could go.
    add_opportunity(
        session_factory,
        clock.now,
        title="Data intern",
        location="Bath",
        status=OpportunityStatus.CLOSED,
    )
    add_opportunity(session_factory, clock.now, title="Data intern", location="Wells", min_age=18)
    ada = Chat(core, "ada")
    onboard(ada)
    ada.send("/browse soonest")
    assert "2 open opportunities" in ada.text
    assert ada.text.count("Data intern") + ada.text.count("DATA intern") == 2
    assert "also in" in ada.text and "Bath" not in ada.text and "Wells" not in ada.text
    lines = ada.text.splitlines()
    acme = next(n for n, line in enumerate(lines) if "Acme Ltd" in line)
    # Under the line, after why it is there ("new"): where else its role is.
    assert lines[acme + 1].strip().endswith(" · also in York and 1 more")
    ada.press(str(lines[acme].split(".")[0]))
    where = next(line for line in ada.text.splitlines() if line.startswith("Where: "))
    shown = set(where.removeprefix("Where: ").split("; "))
    also = next(line for line in ada.text.splitlines() if line.startswith("(also in "))
    first, _, more = also.removeprefix("(also in ").removesuffix(")").partition(" and ")
    assert shown | {first} <= {"Leeds", "York", "Hull"} and first not in shown
    assert more == ("1 more" if len(shown) == 1 else "")
    ada.send("/search data")
    assert "also in" in ada.text


def test_a_role_from_several_sources_in_one_place_says_so(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Nurse cadet", location="Leeds")
    add_opportunity(
        session_factory, clock.now, title="Nurse cadet", location="Leeds", source="board"
    )
    with session_factory() as session:
        items, total = page_of(session, clock, BrowseFilters(text="nurse"))
        assert total == 1
        student = Person(name="S", role=Role.STUDENT, created_at=clock.now)
        other = elsewhere(session, student, clock.now.date(), items)[items[0].id]
        assert also(other) == "also listed 1 more time"
