"""/browse: ordering, paging, filters, search, eligibility and the opportunity card."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from storage.models import Opportunity, OpportunityKind, OpportunityStatus
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard

_LINE = re.compile(r"^\d+\. (.+?) — ", re.MULTILINE)


def titles(chat: Chat) -> list[str]:
    """The opportunity titles in the list ``chat`` was just shown, in order."""
    return _LINE.findall(chat.text)


def today(clock: FakeClock) -> date:
    return clock.now.date()


def _ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    """An onboarded student: under 18, grade 11, in London."""
    add_school(session_factory, clock.now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat, grade="11", under_18=True)
    return chat


@pytest.fixture
def ada(snapshot: Snapshot) -> Chat:
    return snapshot(_ada)


def test_soonest_deadline_first_then_no_deadline_newest_first(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    day = today(clock)
    earlier = clock.now - timedelta(days=2)
    add_opportunity(session_factory, clock.now, title="Ten days", deadline=day + timedelta(10))
    add_opportunity(session_factory, earlier, title="Three days old", deadline=day + timedelta(3))
    add_opportunity(session_factory, earlier, title="Open-ended old")
    add_opportunity(session_factory, clock.now, title="Open-ended new")
    add_opportunity(session_factory, clock.now, title="Three days new", deadline=day + timedelta(3))
    add_opportunity(session_factory, clock.now, title="Today", deadline=day)
    ada.send("/browse soonest")
    assert "6 open opportunities, soonest deadline first (page 1 of 2)" in ada.text
    assert titles(ada) == [
        "Today",
        "Three days new",
        "Three days old",
        "Ten days",
        "Open-ended new",
    ]
    assert "1. Today — Acme Ltd · apply by today" in ada.text
    assert "4. Ten days — Acme Ltd · apply by Thu 3 Dec" in ada.text
    ada.press("Next")
    assert titles(ada) == ["Open-ended old"]


def test_paging_with_next_and_previous_replaces_the_list(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ids = [
        add_opportunity(
            session_factory, clock.now, title=f"Opp {n:02}", deadline=today(clock) + timedelta(n)
        )
        for n in range(1, 13)
    ]
    ada.send("/browse")
    assert ada.replies[0].replace is False
    assert "12 open opportunities, best for you first (page 1 of 3)" in ada.text
    assert titles(ada) == [f"Opp {n:02}" for n in range(1, 6)]
    assert [b.payload for b in ada.replies[0].buttons[0]] == [f"opp:{i}" for i in ids[:5]]
    assert not any("Previous" in b.label for b in ada.buttons)

    ada.press("Next")
    assert ada.replies[0].replace is True
    assert "(page 2 of 3)" in ada.text
    assert titles(ada) == [f"Opp {n:02}" for n in range(6, 11)]
    assert ada.button("Previous").payload == "pg:0"
    assert ada.button("Next").payload == "pg:2"

    ada.press("Next")
    assert "(page 3 of 3)" in ada.text
    assert titles(ada) == ["Opp 11", "Opp 12"]
    assert not any("Next" in b.label for b in ada.buttons)

    ada.press("Previous")
    assert ada.replies[0].replace is True
    assert titles(ada) == [f"Opp {n:02}" for n in range(6, 11)]

    # The same, typed: the buttons' labels in any language the bot speaks, or plain words.
    for typed, first in (("more", "Opp 11"), ("go back", "Opp 06"), ("Anterior", "Opp 01")):
        ada.send(typed)
        assert titles(ada)[0] == first, typed
    ada.send("previous")  # on the first page: stays there
    assert titles(ada)[0] == "Opp 01"
    ada.send("Next »")
    assert titles(ada)[0] == "Opp 06"

    # Numbers run on across pages; a card's Back button returns to the page it came from.
    assert "7. Opp 07 — Acme Ltd" in ada.text
    ada.press("7")
    assert ada.text.startswith("Opp 07 — Acme Ltd")
    ada.press("Back")
    assert ada.replies[0].replace is True
    assert "(page 2 of 3)" in ada.text

    # A page beyond the end (an old button after listings closed) shows the last page.
    ada.press_payload("pg:40")
    assert "(page 3 of 3)" in ada.text


def test_a_malformed_page_button_is_refused(ada: Chat) -> None:
    ada.press_payload("pg:abc")
    assert "That button doesn't work any more" in ada.text
    ada.press_payload("pg:1:2")
    assert "That button doesn't work any more" in ada.text


def test_nothing_open_says_so(ada: Chat) -> None:
    ada.send("/browse")
    assert "There are no open opportunities right now" in ada.text
    assert ada.buttons == []


def test_past_deadline_closed_draft_and_pending_are_not_listed(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    day = today(clock)
    add_opportunity(session_factory, clock.now, title="Listed")
    add_opportunity(session_factory, clock.now, title="Expired", deadline=day - timedelta(1))
    add_opportunity(session_factory, clock.now, title="Closed", status=OpportunityStatus.CLOSED)
    add_opportunity(session_factory, clock.now, title="Draft", status=OpportunityStatus.DRAFT)
    add_opportunity(session_factory, clock.now, title="Pending", status=OpportunityStatus.PENDING)
    ada.send("/browse")
    assert titles(ada) == ["Listed"]
    assert "1 open opportunity, best for you first (page 1 of 1)" in ada.text


def test_only_opportunities_the_student_is_eligible_for_are_listed(
    core: Core, ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Anyone")
    add_opportunity(session_factory, clock.now, title="Adults", min_age=18)
    add_opportunity(session_factory, clock.now, title="Sixteen up", min_age=16)
    add_opportunity(session_factory, clock.now, title="Grade 12 up", min_grade=12)
    add_opportunity(session_factory, clock.now, title="Up to grade 10", max_grade=10)
    add_opportunity(session_factory, clock.now, title="Grades 9-12", min_grade=9, max_grade=12)
    ada.send("/browse")
    assert sorted(titles(ada)) == ["Anyone", "Grades 9-12", "Sixteen up"]

    bob = Chat(core, "bob", name="Bob")
    onboard(bob, grade="12", under_18=False)
    bob.send("/browse")
    assert sorted(titles(bob)) == ["Adults", "Anyone", "Grade 12 up", "Grades 9-12", "Sixteen up"]


@pytest.fixture
def listings(ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    """Listings added once Ada is onboarded (her snapshot is the database's first content)."""
    add_opportunity(
        session_factory,
        clock.now,
        title="Robot builder",
        organisation="Acme Robotics",
        tags=("technology",),
        location="Leeds",
        paid=True,
    )
    add_opportunity(
        session_factory,
        clock.now,
        title="Ward shadowing",
        organisation="City Hospital",
        kind=OpportunityKind.JOB_SHADOWING,
        tags=("health",),
        location="York",
        paid=False,
    )
    add_opportunity(
        session_factory,
        clock.now,
        title="Coding mentor",
        organisation="Codeclub",
        kind=OpportunityKind.MENTORING,
        tags=("technology",),
        remote=True,
    )
    add_opportunity(
        session_factory,
        clock.now,
        title="Studio visit",
        organisation="Leeds Arts",
        kind=OpportunityKind.SITE_VISIT,
        tags=("creative",),
        location="Leeds city centre",
        paid=True,
        description="See how robot arms paint.",
    )


def _do(chat: Chat, steps: tuple[str, ...]) -> None:
    """Run steps: "press:Label" presses a button, anything else is sent as text."""
    for step in steps:
        if step.startswith("press:"):
            chat.press(step.removeprefix("press:"))
        else:
            chat.send(step)


@pytest.mark.usefixtures("listings")
@pytest.mark.parametrize(
    ("steps", "expected", "heading"),
    [
        (("press:Kind", "press:Mentoring"), ["Coding mentor"], "for Mentoring"),
        (("press:Field", "press:Health & care"), ["Ward shadowing"], "for Health & care"),
        (("press:Place", "leeds"), ["Robot builder", "Studio visit"], "for in leeds"),
        (("press:Remote only",), ["Coding mentor"], "for remote"),
        (
            ("press:On site only",),
            ["Robot builder", "Studio visit", "Ward shadowing"],
            "for on site",
        ),
        (("press:Paid only",), ["Robot builder", "Studio visit"], "for paid"),
        (("press:Search words", "ROBOT"), ["Robot builder", "Studio visit"], 'for "ROBOT"'),
        (
            ("press:Field", "press:Technology & IT"),
            ["Coding mentor", "Robot builder"],
            "for Technology & IT",
        ),
        (
            ("press:Place", "Leeds", "/filter", "press:Paid only", "/search robot"),
            ["Robot builder", "Studio visit"],
            'for in Leeds, paid, "robot"',
        ),
        (
            ("press:Kind", "press:Site visit", "/filter", "press:Place", "leeds"),
            ["Studio visit"],
            "for Site visit, in leeds",
        ),
    ],
)
def test_filters_narrow_the_list_and_combine(
    ada: Chat, steps: tuple[str, ...], expected: list[str], heading: str
) -> None:
    ada.send("/filter")
    assert "Filters now: none" in ada.text
    _do(ada, steps)
    assert sorted(titles(ada)) == expected
    assert heading in ada.text
    assert ada.button("Clear filters").payload == "fclr"
    # The filters stay for the next /browse.
    ada.send("/browse")
    assert sorted(titles(ada)) == expected


@pytest.mark.usefixtures("listings")
def test_search_matches_organisation_and_field_and_puts_every_word_first(ada: Chat) -> None:
    ada.send("/search codeclub")
    assert titles(ada) == ["Coding mentor"]
    ada.send("/search health")
    assert titles(ada) == ["Ward shadowing"]
    ada.send("/search robot leeds")
    assert sorted(titles(ada)) == ["Robot builder", "Studio visit"]
    ada.send("/search robot york")
    assert sorted(titles(ada)) == ["Robot builder", "Studio visit", "Ward shadowing"]
    ada.send("/search robot builder york")
    assert titles(ada)[0] == "Robot builder"
    ada.send("/search lorry")
    assert "Nothing matches" in ada.text
    # Empty quotes are nothing typed yet.
    ada.send('/search ""')
    assert ada.text.startswith("What should I look for?")
    ada.send("robot builder")
    assert titles(ada)[0] == "Robot builder"
    # Punctuation alone is nothing to look for.
    ada.send("/search %")
    assert "Nothing matches" in ada.text
    ada.send("/search " + "x" * 101)
    assert "That search is too long" in ada.text


@pytest.mark.usefixtures("listings")
def test_a_quoted_search_is_quoted_once(ada: Chat) -> None:
    ada.send('/search "robot builder"')
    assert titles(ada) == ["Robot builder"]
    assert 'for "robot builder" (page 1 of 1)' in ada.text
    ada.send('/search "builder robot"')
    assert 'Nothing matches "builder robot". Try other words or check the spelling.' in ada.text
    assert [b.label for b in ada.buttons] == ["Show no search words"]
    ada.send('/search "robot builder" leeds')
    assert "for \"'robot builder' leeds\"" in ada.text


def test_search_takes_percent_underscore_and_slash_literally(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    for title in (
        "50% bursary",
        "500 club helper",
        "Data_base intern",
        "Database intern",
        "AI/ML taster",
        "AIML taster",
    ):
        add_opportunity(session_factory, clock.now, title=title)
    for search, expected in [
        ("50%", ["50% bursary"]),
        ("DATA_base", ["Data_base intern"]),
        ("ai/ml", ["AI/ML taster"]),
    ]:
        ada.send(f"/search {search}")
        assert titles(ada) == expected, search


@pytest.mark.usefixtures("listings")
def test_a_place_with_nothing_to_match_is_asked_again(ada: Chat) -> None:
    ada.send("/filter")
    ada.press("Place")
    ada.send("--")
    assert ada.text == "I don't know that place. Try a town or a postcode area, like Leeds or LS6."
    ada.send("Leeds")
    assert sorted(titles(ada)) == ["Robot builder", "Studio visit"]


@pytest.mark.usefixtures("listings")
def test_clearing_filters_shows_everything_again(ada: Chat) -> None:
    ada.send("/filter")
    _do(ada, ("press:Paid only",))
    assert len(titles(ada)) == 2
    ada.send("/clear")
    assert "Filters cleared." in ada.text
    assert len(titles(ada)) == 4
    assert not any(b.payload == "fclr" for b in ada.buttons)

    ada.send("/search robot")
    ada.press("Clear filters")
    assert ada.replies[0].replace is True
    assert "Filters cleared." in ada.text
    assert len(titles(ada)) == 4


@pytest.mark.usefixtures("listings")
def test_an_empty_result_suggests_widening_with_buttons(ada: Chat) -> None:
    ada.send("/filter")
    _do(ada, ("press:Kind", "press:Mentoring", "/filter", "press:Paid only"))
    assert titles(ada) == []
    assert "Nothing matches Mentoring, paid. Try removing a filter" in ada.text
    labels = [b.label for b in ada.buttons]
    assert labels == ["Show any kind", "Show paid or not", "Clear all filters"]
    ada.press("Show paid or not")
    assert titles(ada) == ["Coding mentor"]
    assert "for Mentoring" in ada.text

    ada.send("/filter")
    _do(ada, ("press:Paid only",))
    ada.press("Show any kind")
    assert sorted(titles(ada)) == ["Robot builder", "Studio visit"]


@pytest.mark.usefixtures("listings")
def test_free_text_right_after_browsing_is_a_search(ada: Chat, clock: FakeClock) -> None:
    ada.send("/browse")
    clock.advance(minutes=29)
    ada.send("hospital")
    assert titles(ada) == ["Ward shadowing"]
    assert 'for "hospital"' in ada.text


@pytest.mark.usefixtures("listings")
def test_a_typed_list_number_opens_that_line(ada: Chat) -> None:
    ada.send("/browse")
    listed = titles(ada)
    ada.send("2")
    assert ada.text.startswith(f"{listed[1]} — ")
    assert ada.button("I'm interested")
    ada.press("« Back")
    ada.send("99")  # no such line: searched for, like any other text
    assert 'Nothing matches "99"' in ada.text
    ada.send("/clear")
    ada.send("/saved")
    ada.send("2")  # the saved list's numbers are not the browse list's
    assert "Nothing matches" in ada.text


@pytest.mark.usefixtures("listings")
def test_free_text_long_after_browsing_is_not_a_search(ada: Chat, clock: FakeClock) -> None:
    ada.send("/browse")
    clock.advance(minutes=31)
    ada.send("hospital")
    assert titles(ada) == []
    assert "Send /help" in ada.text


@pytest.mark.usefixtures("listings")
def test_a_search_word_that_is_also_a_command_alias_is_searched_while_browsing(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Data analyst", organisation="Numbers Inc")
    ada.send("/browse")
    ada.send("data")
    assert titles(ada) == ["Data analyst"]
    assert "Everything I store about you" not in ada.text


def test_the_card_shows_the_facts_and_buttons(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    oid = add_opportunity(
        session_factory,
        clock.now,
        title="Robot builder",
        organisation="Acme Robotics",
        kind=OpportunityKind.COOP,
        deadline=today(clock) + timedelta(days=10),
        tags=("engineering", "technology"),
        location="Leeds",
        remote=True,
        paid=True,
        spots=3,
        start_date=date(2027, 1, 4),
        end_date=date(2027, 1, 29),
        url="https://acme.example/robots",
        min_age=16,
        min_grade=10,
        max_grade=12,
        description="Build and test small robots with our engineers.",
    )
    ada.send("/browse")
    ada.press("1")
    assert ada.replies[0].replace is True
    assert ada.text == (
        "Robot builder — Acme Robotics\n"
        "Co-op placement · Paid · Remote\n"
        "Where: Leeds\n"
        "When: 4 Jan 2027 to 29 Jan 2027\n"
        "Apply by 3 Dec 2026 (in 10 days)\n"
        "Places: 3\n"
        "Fields: Engineering, Technology & IT\n"
        "Who can apply: age 16+, grades 10–12\n"
        "Link: https://acme.example/robots\n"
        "\n"
        "Build and test small robots with our engineers."
    )
    assert [[b.label for b in row] for row in ada.replies[0].buttons] == [
        ["I'm interested", "Save"],
        ["Remind me", "Report a problem"],
        ["« Back"],
    ]
    assert [b.payload for b in ada.buttons] == [
        f"int:{oid}",
        f"sv:{oid}",
        f"rmd:{oid}",
        f"rep:{oid}",
        "back",
    ]


def test_a_card_for_a_missing_or_closed_opportunity_is_refused(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    closed = add_opportunity(session_factory, clock.now, status=OpportunityStatus.CLOSED)
    ada.press_payload(f"opp:{closed}")
    assert "no longer available" in ada.text
    ada.press_payload("opp:987654")
    assert "no longer available" in ada.text
    ada.press_payload("opp:x")
    assert "That button doesn't work any more" in ada.text
    ada.press_payload("opp")
    assert "That button doesn't work any more" in ada.text


@pytest.mark.usefixtures("listings")
@pytest.mark.parametrize(
    "chat",
    [
        "Hello, can I see stuff?",
        "hi",
        "thanks",
        "what can I do?",
        "Thank you!",
        "ok",
        "good morning",
        "I need help",
        "whats new",
        "lol",
        "stop",
    ],
)
def test_greetings_and_questions_while_browsing_get_help_not_a_search(ada: Chat, chat: str) -> None:
    ada.send("/browse")
    ada.send(chat)
    assert "Nothing matches" not in ada.text
    assert "type a word or two to search" in ada.text
    ada.press("Show the list")
    assert len(titles(ada)) == 4
    assert '"' not in ada.text.splitlines()[0]


@pytest.mark.usefixtures("listings")
@pytest.mark.parametrize(
    ("typed", "expected"),
    [("robot", ["Robot builder", "Studio visit"]), ("hospital york", ["Ward shadowing"])],
)
def test_a_few_words_while_browsing_are_still_a_search(
    ada: Chat, typed: str, expected: list[str]
) -> None:
    ada.send("/browse")
    ada.send(typed)
    assert sorted(titles(ada)) == expected


def test_for_you_puts_the_student_s_fields_and_place_first_and_says_why(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    day = today(clock)
    old = clock.now - timedelta(days=40)
    add_opportunity(
        session_factory,
        old,
        title="Hospitality taster week",
        tags=("hospitality",),
        deadline=day + timedelta(2),
    )
    add_opportunity(
        session_factory,
        old,
        title="Cloud intern",
        tags=("technology",),
        location="Leeds, UK",
        deadline=day + timedelta(3),
    )
    add_opportunity(
        session_factory, old, title="Data intern", tags=("technology",), location="London"
    )
    add_opportunity(session_factory, clock.now, title="Design intern", location="leeds", paid=True)
    ada = Chat(core, "ada")
    onboard(ada, tags=("Technology & IT",), place="Leeds")
    ada.send("/browse")
    # Scores: Cloud 4 (field) + 3 (near) + 2 (closes soon); Design 3 + 1 (paid) + 1 (new);
    # Data 4; Hospitality 2.
    assert titles(ada) == [
        "Cloud intern",
        "Design intern",
        "Data intern",
        "Hospitality taster week",
    ]
    assert "best for you first" in ada.text
    assert "Technology · near Leeds · closes in 3 days" in ada.text
    assert "near Leeds · paid · new" in ada.text
    ada.press("Soonest deadline")
    assert titles(ada) == [
        "Hospitality taster week",
        "Cloud intern",
        "Design intern",
        "Data intern",
    ]
    assert "soonest deadline first" in ada.text
    # In every order each line says why it is there.
    assert "Technology · near Leeds · closes in 3 days" in ada.text
    # A typed number opens that line of the list in the order it was shown.
    ada.send("1")
    assert ada.text.startswith("Hospitality taster week — ")
    ada.send("/browse newest")
    assert titles(ada)[0] == "Design intern"
    # An order typed in another language the bot speaks, or as its button reads there.
    for typed, first in (
        ("/browse para ti", "Cloud intern"),
        ("/browse Najnowsze", "Design intern"),
        ("/browse الأقرب موعدًا", "Hospitality taster week"),
    ):
        ada.send(typed)
        assert titles(ada)[0] == first, typed
    ada.press("For you")
    assert titles(ada)[0] == "Cloud intern"
    # A listing that moves is scored where it is now (PostgreSQL reads a copy kept by a
    # trigger, with the place's keys).
    with session_factory.begin() as session:
        moved = session.scalars(select(Opportunity).where(Opportunity.title == "Data intern"))
        moved.one().location = "LEEDS"
    ada.send("/browse")
    assert titles(ada) == [
        "Cloud intern",
        "Data intern",
        "Design intern",
        "Hospitality taster week",
    ]


def test_near_is_a_place_in_common_not_a_substring(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    old = clock.now - timedelta(days=40)
    for title, location in (
        ("Bank intern", "New York, NY, USA"),
        ("Minster guide", "York, UK"),
        ("Arcade intern", "12 Briggate, Leeds LS1 6HD"),
    ):
        add_opportunity(session_factory, old, title=title, location=location)
    add_opportunity(session_factory, old, title="Online tutor", location="Remote", remote=True)
    york = Chat(core, "york")
    onboard(york, tags=("Science",), place="York")
    york.send("/browse")
    assert titles(york)[0] == "Minster guide"
    assert "near York" in york.text
    assert york.text.count("near York") == 1
    # Remote work scores for a student who wants it, and only then is it a reason.
    assert "remote" not in york.text
    leeds = Chat(core, "leeds")
    onboard(leeds, tags=("Science",), place="LS6 2AB")
    leeds.send("/browse")
    assert titles(leeds)[0] == "Arcade intern"
    assert "near LS6 2AB" in leeds.text


def test_a_repeated_browse_takes_ten_statements_or_fewer(
    ada: Chat, session_factory: sessionmaker[Session], engine: Engine, clock: FakeClock
) -> None:
    """Each one is a database round trip on PostgreSQL and a slice of the CPU that bounds the
    updates one process answers per second (``bench.inbound``): the event id, the account
    (written, then read with the person and their fields), the state (read once, written
    once), the count, the ranked page, its lines and where else each role is."""
    for n in range(7):
        add_opportunity(session_factory, clock.now, title=f"Role {n}", location=f"Town {n}")
    ada.send("/browse")
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        ada.send("/browse")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert "7 open opportunities, best for you first (page 1 of 2)" in ada.text
    assert len(seen) <= 10, seen
    assert sum(s.startswith("SELECT conversation_state.") for s in seen) == 1
    assert not [s for s in seen if s.startswith("SELECT person_tags.")]  # joined to the account
