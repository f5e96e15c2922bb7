"""Placements and their hours: dates, supervisor, expected hours; logging, confirming, querying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Timing, WorkLimits
from handlers import build_registry
from handlers.placements.feedback import ask_due_feedback
from storage.models import (
    Account,
    Feedback,
    HoursEntry,
    HoursStatus,
    Interest,
    InterestStatus,
    Person,
    Placement,
    Role,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    APOLOGY,
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    last_message,
    make_employer,
    onboard,
    row_counts,
)

# A Wednesday afternoon in London (UTC in winter).
START = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    opportunity: int
    bob: Chat  # 18 or over
    cat: Chat  # under 16, guardian's consent on file
    maya: Chat  # Acme Ltd, places students
    raj: Chat  # Acme Ltd
    olga: Chat  # Other Org
    tina: Chat  # teacher at Riverside High

    def placement(self, chat: Chat) -> Placement:
        with self.factory() as session:
            return session.scalars(
                select(Placement)
                .join(Account, Account.person_id == Placement.student_id)
                .where(Account.external_id == chat.user)
            ).one()

    def entries(self) -> list[tuple[date, int, HoursStatus, bool]]:
        with self.factory() as session:
            rows = session.scalars(select(HoursEntry).order_by(HoursEntry.work_date))
            return [(e.work_date, e.minutes, e.status, e.over_limit) for e in rows]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _world(core: Core, factory: sessionmaker[Session], clock: FakeClock) -> World:
    add_school(factory, clock.now)
    opportunity = add_opportunity(
        factory,
        clock.now,
        title="Software intern",
        deadline=date(2026, 12, 20),
        start_date=date(2026, 11, 23),
        end_date=date(2026, 12, 18),
    )
    add_opportunity(factory, clock.now, title="Elsewhere", organisation="Other Org")
    maya, raj = Chat(core, "maya", name="Maya Jones"), Chat(core, "raj", name="Raj Patel")
    for employer in (maya, raj):
        make_employer(factory, clock.now, employer, "Acme Ltd")
    olga = Chat(core, "olga", name="Olga")
    make_employer(factory, clock.now, olga, "Other Org")
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(factory, clock.now, tina, Role.TEACHER)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    cat = Chat(core, "cat", name="Cat Jones")
    onboard(cat, under_18=True, under_16=True)
    with factory.begin() as session:
        account = session.scalars(select(Account).where(Account.external_id == "cat")).one()
        account.person.guardian_consent_at = clock.now
    return World(core, factory, clock, opportunity, bob, cat, maya, raj, olga, tina)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def place(world: World, student: Chat) -> int:
    """``student`` registers interest; Maya invites, then marks them placed."""
    student.press_payload(f"int:{world.opportunity}")
    student.press("Send without a note")
    with world.factory() as session:
        iid = session.scalars(
            select(Interest.id)
            .join(Account, Account.person_id == Interest.person_id)
            .where(Account.external_id == student.user)
        ).one()
    world.maya.press_payload(f"em:{iid}:inv")
    world.maya.send("Come on Monday at 9")
    world.maya.press_payload(f"em:{iid}:pl")
    return world.placement(student).id


def test_placing_a_student_records_the_listing_dates_and_the_member_as_supervisor(
    world: World,
) -> None:
    pid = place(world, world.bob)
    assert "Marked Bob as placed for Software intern" in world.maya.text
    assert "Dates: 23 Nov 2026 to 18 Dec 2026" in world.maya.text
    assert "Supervisor: Maya Jones" in world.maya.text
    assert "Expected hours: not set yet" in world.maya.text
    placement = world.placement(world.bob)
    assert (placement.start_date, placement.end_date) == (date(2026, 11, 23), date(2026, 12, 18))
    assert placement.expected_hours is None
    text, _ = last_message(world.factory, world.raj)
    assert text == (
        "Maya marked Bob as placed for Software intern. "
        f"Set the dates and supervisor with /placements {pid}."
    )


def test_the_employer_changes_dates_supervisor_and_expected_hours(world: World) -> None:
    pid = place(world, world.bob)
    world.maya.press("Dates")
    world.maya.send("2026-12-18 to 2026-12-04")
    assert "The end date is before the start date" in world.maya.text
    world.maya.send("next week")
    assert "Please send a start and an end date" in world.maya.text
    world.maya.send("2026-12-07 to 2026-12-18")
    assert "Dates set: 7 Dec 2026 to 18 Dec 2026." in world.maya.text
    world.maya.press("Expected hours")
    world.maya.send("lots")
    assert "whole number of hours" in world.maya.text
    world.maya.send("40")
    assert "Expected hours set: 40h." in world.maya.text
    world.maya.press("Supervisor")
    assert [b.label for b in world.maya.buttons] == ["Maya Jones", "Raj Patel", "Cancel"]
    world.maya.press("Raj Patel")
    assert "Raj Patel now supervises this placement." in world.maya.text
    placement = world.placement(world.bob)
    assert (placement.start_date, placement.end_date) == (date(2026, 12, 7), date(2026, 12, 18))
    assert placement.expected_hours == 40
    text, _ = last_message(world.factory, world.bob, "placement")
    assert text == (
        "Your placement Software intern at Acme Ltd was updated. Dates: 7 Dec 2026 to "
        "18 Dec 2026; supervisor: Raj Patel; expected hours: 40."
    )
    # Another organisation's member, or one who is not a member, is refused.
    before = row_counts(world.factory)
    world.olga.press_payload(f"plc:{pid}:dates")
    assert "I can't find that placement" in world.olga.text
    with world.factory() as session:
        olga_id = session.scalars(
            select(Account.person_id).where(Account.external_id == "olga")
        ).one()
    world.maya.press_payload(f"plsv:{pid}:{olga_id}")
    assert "isn't a member of Acme Ltd" in world.maya.text
    world.bob.press_payload(f"plc:{pid}:dates")
    assert "Sorry, that is only for" in world.bob.text
    assert {k: v for k, v in row_counts(world.factory).items() if k != "processed_events"} == {
        k: v for k, v in before.items() if k != "processed_events"
    }


def test_a_teacher_marks_their_own_student_placed(world: World) -> None:
    world.bob.press_payload(f"int:{world.opportunity}")
    world.bob.press("Send without a note")
    with world.factory() as session:
        iid = session.scalars(select(Interest.id)).one()
    world.bob.send(f"/place {iid}")
    assert "Sorry, that is only for" in world.bob.text
    world.tina.send("/place 999")
    assert "I can't find that application" in world.tina.text
    world.tina.send(f"/place {iid}")
    assert "Marked Bob Smith (Year 11) as placed for Software intern" in world.tina.text
    assert "Supervisor: not chosen" in world.tina.text
    text, buttons = last_message(world.factory, world.bob)
    assert text.startswith(
        "Great news: your teacher confirmed your place for Software intern at Acme Ltd."
    )
    assert buttons == []  # the employer hasn't written yet: nobody to reply to
    with world.factory() as session:
        assert session.get(Interest, iid).status == InterestStatus.PLACED  # type: ignore[union-attr]
    for member in (world.maya, world.raj):
        text, _ = last_message(world.factory, member)
        assert text.startswith("Tina Teacher (the student's teacher) marked Bob as placed")
    world.tina.send(f"/place {iid}")
    assert "already has a place" in world.tina.text


def test_a_teacher_at_another_school_cannot_place_or_see_the_student(
    core: Core, world: World
) -> None:
    add_school(world.factory, world.clock.now, school="Hill School", cohort="Y12", code="HILL-12")
    hugo = Chat(core, "hugo", name="Hugo")
    with world.factory.begin() as session:
        from handlers.common.membership import school_named
        from handlers.people.invites import create_invite

        school = school_named(session, "Hill School", world.clock.now)
        code = create_invite(session, Role.TEACHER, now=world.clock.now, school=school).code
    hugo.send(f"/join {code}")
    pid = place(world, world.bob)
    with world.factory() as session:
        iid = session.scalars(select(Interest.id)).one()
    hugo.send(f"/place {iid}")
    assert "I can't find that application" in hugo.text
    hugo.send(f"/placements {pid}")
    assert "I can't find that placement" in hugo.text
    hugo.send("/hours")
    assert "No placements yet" in hugo.text


def test_hours_are_logged_confirmed_and_shown_in_totals(world: World) -> None:
    pid = place(world, world.bob)
    world.bob.send("/hours yesterday 3h")
    assert world.bob.text.startswith(
        "Logged: 3h on Tue 1 Dec 2026 for Software intern at Acme Ltd."
    )
    text, buttons = last_message(world.factory, world.maya, "hours")
    assert text == "Bob logged 3h on Tue 1 Dec 2026 for Software intern. Is that right?"
    assert [b.label for b in buttons] == ["Confirm", "Query"]
    # Only the supervisor answers; a student pressing the employer's button changes nothing.
    world.raj.press_payload(buttons[0].payload)
    assert "Only the placement's supervisor, Maya Jones" in world.raj.text
    world.bob.press_payload(buttons[0].payload)
    assert "Sorry, that is only for employers" in world.bob.text
    assert world.entries() == [(date(2026, 12, 1), 180, HoursStatus.PENDING, False)]
    world.maya.press_payload(buttons[0].payload)
    assert world.maya.text == "Confirmed 3h on Tue 1 Dec 2026 for Bob."
    assert last_message(world.factory, world.bob, "hours")[0] == (
        "Maya confirmed your 3h on Tue 1 Dec 2026 at Acme Ltd."
    )
    world.maya.press_payload(buttons[0].payload)
    assert "already confirmed" in world.maya.text
    world.bob.send("/hours 1 dec 5h")
    assert "already confirmed by your supervisor" in world.bob.text
    world.bob.send("/log 2h 30m today")
    world.tina.send("/hours")
    assert "Bob Smith (Year 11): 3h confirmed" in world.tina.text
    assert f"#{pid} Software intern at Acme Ltd: 3h confirmed, 2.5h waiting" in world.tina.text
    world.tina.send(f"/hours {pid}")
    assert "• Tue 1 Dec 2026: 3h, confirmed" in world.tina.text
    assert "• Wed 2 Dec 2026: 2.5h, pending" in world.tina.text
    world.olga.send("/hours")
    assert "No placements yet" in world.olga.text
    world.bob.send("/hours")
    assert "3h confirmed, 2.5h waiting" in world.bob.text
    assert "• Wed 2 Dec 2026: 2.5h, waiting for your supervisor" in world.bob.text


def test_a_queried_day_is_corrected_and_the_old_buttons_go_stale(world: World) -> None:
    place(world, world.bob)
    world.bob.send("/hours today 6h")
    _, buttons = last_message(world.factory, world.maya, "hours")
    world.maya.press_payload(buttons[1].payload)
    assert "What would you like to ask Bob" in world.maya.text
    world.maya.send("You left at 2pm, didn't you?")
    assert world.entries() == [(date(2026, 12, 2), 360, HoursStatus.QUERIED, False)]
    text, _ = last_message(world.factory, world.bob, "hours")
    assert "has a question about the 6h you logged on Wed 2 Dec 2026: You left at 2pm" in text
    world.bob.send("/hours today 5h")
    assert world.bob.text.startswith("Corrected: 5h on Wed 2 Dec 2026")
    assert world.entries() == [(date(2026, 12, 2), 300, HoursStatus.PENDING, False)]
    text, fresh = last_message(world.factory, world.maya, "hours")
    assert (
        text
        == "Bob corrected their hours to 5h on Wed 2 Dec 2026 for Software intern. Is that right?"
    )
    world.maya.press_payload(buttons[0].payload)
    assert "Those hours were changed since" in world.maya.text
    world.maya.press_payload(fresh[0].payload)
    assert world.entries() == [(date(2026, 12, 2), 300, HoursStatus.CONFIRMED, False)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/hours tomorrow 3h", "hasn't happened yet"),
        ("/hours today 25h", "only 24 hours in a day"),
        ("/hours today 0h", "no time at all"),
        ("/hours today lots", "Say the day and the hours"),
        ("/hours 2026-02-30 3h", "There's no such date as 2026-02-30"),
        ("/hours 2026-11-20 3h", "outside your placement (23 Nov 2026 to 18 Dec 2026)"),
        ("/hours 2026-01-05 3h", "too long ago"),
    ],
)
def test_bad_hours_get_a_clear_answer_and_change_nothing(
    world: World, text: str, expected: str
) -> None:
    place(world, world.bob)
    before = len(inbox(world.factory, world.maya))
    world.bob.send(text)
    assert expected in world.bob.text
    assert world.entries() == []
    assert len(inbox(world.factory, world.maya)) == before


def test_a_student_without_a_placement_is_told_how_it_works(world: World) -> None:
    world.bob.send("/hours today 3h")
    assert "You don't have a placement yet" in world.bob.text
    world.bob.send("/hours")
    assert "You don't have a placement yet" in world.bob.text


def test_an_under_16_over_the_day_limit_is_logged_and_the_teacher_warned(world: World) -> None:
    pid = place(world, world.cat)
    world.cat.send("/hours today 4h")
    assert "Careful: 4h on a school day is over the 3h limit" in world.cat.text
    assert world.entries() == [(date(2026, 12, 2), 240, HoursStatus.PENDING, True)]
    text, _ = last_message(world.factory, world.tina, "hours-limit")
    assert text == (
        "Please check: Cat Jones (Year 11), who is under 16, logged 4h on Wed 2 Dec 2026 at "
        f"Acme Ltd: 4h on a school day is over the 3h limit. See /hours {pid}."
    )
    # A Saturday is not a school day; the week's total is what counts then.
    world.cat.send("/hours 2026-11-28 6h")
    assert "Careful" not in world.cat.text
    world.tina.send("/hours")
    assert "10h waiting; 1 day over the under-16 limit" in world.tina.text


def test_an_under_16_over_the_week_limit_warns_and_corrections_count_once(
    world: World,
) -> None:
    place(world, world.cat)
    for day in ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"):
        world.cat.send(f"/hours {day} 3h")
        assert "Careful" not in world.cat.text
    world.cat.send("/hours 2026-11-28 3h")
    assert "Careful" not in world.cat.text  # 18h: at the limit, not over it
    world.cat.send("/hours 2026-11-28 2h")  # a correction replaces, it does not add
    assert "Careful" not in world.cat.text
    world.cat.send("/hours 2026-11-29 4h")
    assert "Careful: 21h in the week of 23 Nov 2026 is over the 18h limit" in world.cat.text
    assert len(inbox(world.factory, world.tina, "hours-limit")) == 1


@pytest.mark.slow
def test_adults_have_no_limit_and_the_limits_are_settings(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    strict = Timing(work_limits=WorkLimits(school_day_hours=2, school_week_hours=10))
    core = Core(session_factory, build_registry(), clock=clock, timing=strict)
    world = _world(core, session_factory, clock)
    place(world, world.bob)
    world.bob.send("/hours today 8h")
    assert "Careful" not in world.bob.text
    place(world, world.cat)
    world.cat.send("/hours today 2.5h")
    assert "over the 2h limit" in world.cat.text


def test_a_student_with_two_placements_chooses_which(world: World) -> None:
    place(world, world.bob)
    second = add_opportunity(
        world.factory, world.clock.now, title="Weekend shadowing", deadline=date(2026, 12, 20)
    )
    world.bob.press_payload(f"int:{second}")
    world.bob.press("Send without a note")
    with world.factory() as session:
        iid = session.scalars(select(Interest.id).where(Interest.opportunity_id == second)).one()
    world.maya.press_payload(f"em:{iid}:inv")
    world.maya.send("Saturday?")
    world.maya.press_payload(f"em:{iid}:pl")
    world.bob.send("/hours today 2h")
    assert world.bob.text == "Which placement were the 2h for?"
    world.bob.press("Weekend shadowing")
    assert "Logged: 2h on Wed 2 Dec 2026 for Weekend shadowing at Acme Ltd." in world.bob.text
    world.bob.press_payload("hrp:99999:20261202:120")
    assert "I can't find that placement" in world.bob.text
    world.bob.press_payload("hrp:1:20261399:120")
    assert "That button doesn't work any more" in world.bob.text


def test_placing_schedules_feedback_for_both_sides(world: World) -> None:
    pid = place(world, world.bob)
    with world.factory() as session:
        rows = session.scalars(
            select(Feedback).where(Feedback.placement_id == pid).order_by(Feedback.id)
        ).all()
        assert sorted((r.stage.value, r.respondent_role.value, r.due_at) for r in rows) == [
            ("end", "employer", datetime(2026, 12, 18, 16, 0, tzinfo=UTC)),
            ("end", "student", datetime(2026, 12, 18, 16, 0, tzinfo=UTC)),
            ("midpoint", "employer", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
            ("midpoint", "student", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ]


def test_mydata_shows_placements_and_hours_and_forget_keeps_the_figures(world: World) -> None:
    pid = place(world, world.bob)
    world.bob.send("/hours today 3h")
    world.bob.send("/mydata")
    assert "Placements:\n• Software intern at Acme Ltd: 23 Nov 2026 to 18 Dec 2026" in (
        world.bob.text
    )
    assert "Hours logged:\n• 2026-12-02: 3h, pending" in world.bob.text
    world.bob.send("/forget")
    world.bob.press("Yes, delete everything")
    with world.factory() as session:
        placement = session.get(Placement, pid)
        assert placement is not None and placement.student_id is None
        assert session.scalars(select(HoursEntry.minutes)).all() == [180]
        # Nobody is asked about a student who has left.
        assert session.scalars(select(Feedback)).all() == []


def _person(world: World, chat: Chat) -> int:
    with world.factory() as session:
        return session.scalars(
            select(Account.person_id).where(Account.external_id == chat.user)
        ).one()


def test_an_employer_never_sees_the_name_of_a_minor_without_consent(world: World) -> None:
    place(world, world.cat)
    with world.factory.begin() as session:
        session.get(Person, _person(world, world.cat)).guardian_consent_at = None  # type: ignore[union-attr]
    world.cat.send("/hours today 2h")
    text, _ = last_message(world.factory, world.maya, "hours")
    assert text == "The student logged 2h on Wed 2 Dec 2026 for Software intern. Is that right?"
    world.maya.send("/placements")
    assert "Cat" not in world.maya.text
    # Their teacher still knows who it is.
    world.tina.send("/hours")
    assert "Cat Jones" in world.tina.text


def test_a_teacher_cannot_place_a_minor_without_consent(core: Core, world: World) -> None:
    dan = Chat(core, "dan", name="Dan")
    onboard(dan, under_18=True)
    dan.press_payload(f"int:{world.opportunity}")
    dan.press("Send without a note")
    with world.factory() as session:
        iid = session.scalars(select(Interest.id)).one()
    world.tina.send(f"/place {iid}")
    assert "guardian's consent isn't on file yet" in world.tina.text
    with world.factory() as session:
        assert session.scalars(select(Placement)).all() == []


def test_forget_removes_the_words_and_the_questions_about_the_student(world: World) -> None:
    pid = place(world, world.bob)
    world.bob.send("/hours today 6h")
    _, buttons = last_message(world.factory, world.maya, "hours")
    world.maya.press_payload(buttons[1].payload)
    world.maya.send("Did you stay until 6, Bob Smith?")
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    ask_due_feedback(world.factory, world.clock.now, Timing())
    (_, rating), *_ = inbox(world.factory, world.bob, "feedback")
    world.bob.press_payload(rating[3].payload)
    world.bob.send("Loved it, thanks Maya!")
    assert inbox(world.factory, world.maya, "feedback")  # Maya's question about Bob, queued
    # Maya starts another query, then Bob leaves before she sends it.
    world.bob.send("/hours yesterday 2h")
    _, buttons = last_message(world.factory, world.maya, "hours")
    world.maya.press_payload(buttons[1].payload)
    world.bob.send("/forget")
    world.bob.press("Yes, delete everything")
    world.maya.send("Is that right, Bob Smith?")
    assert "That student has left" in world.maya.text
    with world.factory() as session:
        assert session.scalars(select(HoursEntry.query)).all() == [None, None]
        (answered,) = session.scalars(select(Feedback)).all()
        assert (answered.rating, answered.comment) == (4, None)
        assert session.get(Placement, pid).student_id is None  # type: ignore[union-attr]
    assert inbox(world.factory, world.maya, "feedback") == []


def test_the_school_day_limit_counts_every_placement(world: World) -> None:
    place(world, world.cat)
    second = add_opportunity(
        world.factory, world.clock.now, title="Evening mentoring", deadline=date(2026, 12, 20)
    )
    world.cat.press_payload(f"int:{second}")
    world.cat.press("Send without a note")
    with world.factory() as session:
        iid = session.scalars(select(Interest.id).where(Interest.opportunity_id == second)).one()
    world.maya.press_payload(f"em:{iid}:inv")
    world.maya.send("See you")
    world.maya.press_payload(f"em:{iid}:pl")
    world.cat.send("/hours today 2h")
    world.cat.press("Software intern")
    assert "Careful" not in world.cat.text
    world.cat.send("/hours today 2h")
    world.cat.press("Evening mentoring")
    assert "Careful: 4h on a school day is over the 3h limit" in world.cat.text


def test_students_who_never_said_if_under_16_get_the_limits(world: World) -> None:
    place(world, world.cat)
    with world.factory.begin() as session:
        session.get(Person, _person(world, world.cat)).under_16 = None  # type: ignore[union-attr]
    world.cat.send("/hours today 4h")
    assert "Careful" in world.cat.text
    text, _ = last_message(world.factory, world.tina, "hours-limit")
    assert "who is under 18 and hasn't said if under 16" in text
    world.cat.send("/mydata")
    assert "Age: under 18" in world.cat.text


@pytest.mark.parametrize(
    "payload",
    ["hrp:{pid}:20200101:1440", "hrp:{pid}:20261120:180", "hrp:{pid}:20270101:60"],
)
def test_a_forged_choice_button_is_checked_like_typed_hours(world: World, payload: str) -> None:
    pid = place(world, world.bob)
    world.bob.press_payload(payload.format(pid=pid))
    assert "Logged" not in world.bob.text
    assert world.entries() == []


@pytest.mark.parametrize("text", ["/placements ²", "/hours ²", "/place ²", "/placements 9" * 3])
def test_odd_numbers_get_a_polite_answer(world: World, text: str) -> None:
    world.tina.send(text)
    assert world.tina.text != APOLOGY
    assert "number" in world.tina.text or "can't find" in world.tina.text


def test_the_hours_without_an_amount_are_asked_for(world: World) -> None:
    place(world, world.bob)
    world.bob.send("/hours 2026-12-01")
    assert world.bob.text == "How many hours? For example: /hours 2026-12-01 3h."


def test_interested_offers_a_teacher_to_mark_a_student_placed(core: Core, world: World) -> None:
    world.bob.press_payload(f"int:{world.opportunity}")
    world.bob.press("Send without a note")
    dan = Chat(core, "dan", name="Dan")
    onboard(dan, under_18=True)  # no guardian's consent: nobody may place him yet
    dan.press_payload(f"int:{world.opportunity}")
    dan.press("Send without a note")
    world.tina.send(f"/interested {world.opportunity}")
    assert [b.label for b in world.tina.buttons] == ["Mark 1 placed"]
    world.tina.press("Mark 1 placed")
    assert "Marked Bob Smith (Year 11) as placed for Software intern" in world.tina.text
    world.tina.press_payload("tpl:99999")
    assert "I can't find that application" in world.tina.text
    world.bob.press_payload("tpl:1")
    assert "Sorry, that is only for" in world.bob.text
