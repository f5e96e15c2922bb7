"""Employers propose, teachers approve, publish, edit and close; classes; who is interested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from handlers.common.membership import school_named
from handlers.people.invites import create_invite
from storage.models import (
    AuditEntry,
    Cohort,
    Interest,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    Person,
    Role,
)
from tests.conftest import FakeClock
from tests.helpers import (
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


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    opportunity: int
    maya: Chat  # Acme Ltd
    tina: Chat  # teacher at Riverside High
    tom: Chat  # teacher at Hillside Academy
    bob: Chat  # student at Riverside High

    def opportunities(self) -> list[Opportunity]:
        with self.factory() as session:
            return list(session.scalars(select(Opportunity).order_by(Opportunity.id)))

    def newest(self) -> Opportunity:
        return self.opportunities()[-1]


@pytest.fixture
def world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    cohort = add_school(session_factory, clock.now)
    with session_factory() as session:
        riverside = session.get_one(Cohort, cohort).school_id
    opportunity = add_opportunity(
        session_factory, clock.now, title="Software intern", owner_school_id=riverside
    )
    maya = Chat(core, "maya", name="Maya Jones")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    add_school(session_factory, clock.now, school="Hillside Academy", cohort="Y10", code="HILL-10")
    tom = Chat(core, "tom", name="Tom Teacher")
    with session_factory.begin() as session:
        school = school_named(session, "Hillside Academy", clock.now)
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    tom.send(f"/join {code}")
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    return World(core, session_factory, clock, opportunity, maya, tina, tom, bob)


def fill_form(chat: Chat, *, organisation: str | None = None, deadline: str = "2027-03-31") -> None:
    if organisation is not None:
        assert "Which organisation offers it?" in chat.text
        chat.send(organisation)
    assert "What's the title?" in chat.text
    chat.send("Robot lab  summer internship")
    assert "What kind of opportunity is it?" in chat.text
    chat.press("Internship")
    assert "Describe it for students" in chat.text
    chat.send("Build and test warehouse robots with our engineering team.")
    assert "Where is it?" in chat.text
    chat.send("Leeds")
    assert "What's the deadline" in chat.text
    chat.send(deadline)
    assert "Is it paid?" in chat.text
    chat.press("Paid")
    assert "Can students take part remotely?" in chat.text
    chat.press("In person")


def test_an_employer_proposes_and_a_teacher_approves(world: World) -> None:
    world.maya.send("/propose")
    assert "Let's describe the opportunity Acme Ltd offers" in world.maya.text
    fill_form(world.maya)
    assert world.maya.text.startswith(
        "Here's how students will see it:\n\n"
        "Robot lab summer internship — Acme Ltd\nInternship · Paid\nWhere: Leeds\n"
        "Apply by 31 Mar 2027"
    )
    assert len(world.opportunities()) == 1
    world.maya.press("Submit for approval")
    assert "Robot lab summer internship is waiting for a teacher's approval" in world.maya.text

    proposal = world.newest()
    assert proposal.status == OpportunityStatus.PENDING
    assert (proposal.kind, proposal.location, proposal.deadline, proposal.paid) == (
        OpportunityKind.INTERNSHIP,
        "Leeds",
        date(2027, 3, 31),
        True,
    )
    assert proposal.remote is False
    assert proposal.published_at is None
    with world.factory() as session:
        stored = session.get(Opportunity, proposal.id)
        assert stored is not None
        assert stored.tag_names == ["engineering", "science"]

    # Students don't see it yet.
    world.bob.send("/browse")
    assert "Robot lab" not in world.bob.text
    # Every teacher hears of it (proposals are for every school).
    for teacher in (world.tina, world.tom):
        text, buttons = last_message(world.factory, teacher, "proposal")
        assert text.startswith(f"Acme Ltd proposes a new opportunity (#{proposal.id}):")
        assert [(b.label, b.payload) for b in buttons] == [
            ("Approve", f"opa:{proposal.id}"),
            ("Reject", f"opr:{proposal.id}"),
        ]

    world.clock.advance(hours=2)
    world.tina.press_payload(f"opa:{proposal.id}")
    assert world.tina.text == (
        "Approved: Robot lab summer internship — Acme Ltd. Students can find it now."
    )
    approved = world.newest()
    assert approved.status == OpportunityStatus.OPEN
    assert approved.published_at == world.clock.now
    assert last_message(world.factory, world.maya, "proposal")[0] == (
        "Good news: Robot lab summer internship is approved, and students can find it now."
    )
    world.bob.send("/browse")
    assert "Robot lab summer internship" in world.bob.text
    # The other teacher's button is now stale.
    world.tom.press_payload(f"opr:{proposal.id}")
    assert "Robot lab summer internship was already approved" in world.tom.text


def test_a_teacher_rejects_with_a_reason(world: World) -> None:
    world.maya.send("/propose")
    fill_form(world.maya)
    world.maya.press("Submit for approval")
    proposal = world.newest()
    world.tina.send("/pending")
    assert world.tina.text.startswith(f"Proposal #{proposal.id}:\n\nRobot lab summer internship")
    world.tina.press("Reject")
    assert "Type a short reason: I'll pass it on to Acme Ltd" in world.tina.text
    world.tina.send("Our students are too young for warehouse work.")
    assert world.tina.text == "Rejected. I've told Acme Ltd why."
    assert world.newest().status == OpportunityStatus.DRAFT
    assert last_message(world.factory, world.maya, "proposal")[0] == (
        "Sorry, Robot lab summer internship wasn't approved. The school said: Our students are "
        "too young for warehouse work.\nYou're welcome to /propose it again with changes."
    )
    with world.factory() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "opportunity_rejected")
        ).one()
    assert audit.detail == {"reason": "Our students are too young for warehouse work."}
    world.tina.send("/pending")
    assert world.tina.text == "No proposals are waiting. Employers send them with /propose."
    world.tina.press_payload(f"opa:{proposal.id}")
    assert "was already dealt with" in world.tina.text


def test_only_teachers_review_proposals(world: World) -> None:
    world.maya.send("/propose")
    fill_form(world.maya)
    world.maya.press("Submit for approval")
    proposal = world.newest()
    for chat in (world.maya, world.bob):
        for payload in (f"opa:{proposal.id}", f"opr:{proposal.id}"):
            chat.press_payload(payload)
            assert "Sorry, that is only for admins or teachers" in chat.text
    world.tina.press_payload("opa:999999")
    assert world.tina.text == "That proposal no longer exists."
    world.bob.send("/propose")
    assert "Sorry, that is only for employers" in world.bob.text
    world.maya.send("/publish")
    assert "Sorry, that is only for admins or teachers" in world.maya.text
    assert world.newest().status == OpportunityStatus.PENDING


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("31/03/2027", "Please type the deadline as YYYY-MM-DD"),
        ("2027-02-30", "2027-02-30 isn't a date"),
        ("2026-11-22", "That deadline has passed"),
        ("2031-01-01", "That's more than two years ahead"),
    ],
)
def test_a_bad_deadline_is_refused_and_can_be_retyped(
    world: World, answer: str, expected: str
) -> None:
    world.maya.send("/propose")
    world.maya.send("Robot lab")
    world.maya.press("Internship")
    world.maya.send("Build and test warehouse robots with our engineering team.")
    world.maya.send("Leeds")
    world.maya.send(answer)
    assert expected in world.maya.text
    world.maya.send("2026-11-23")
    assert "Is it paid?" in world.maya.text


def test_form_answers_are_validated(world: World) -> None:
    world.maya.send("/propose")
    world.maya.send("AI")
    assert "Please type the title (at least 3 characters)" in world.maya.text
    world.maya.send("x" * 201)
    assert "Please keep the title to 200 characters or fewer (it has 201)." in world.maya.text
    world.maya.send("Robot lab")
    world.maya.send("a rocket")
    assert "The kind must be one of: internship, job shadowing" in world.maya.text
    world.maya.send("job shadowing")
    assert "Describe it for students" in world.maya.text
    # A button of an earlier question changes nothing.
    world.maya.press_payload("of:kind:event")
    assert "That button is from an earlier question" in world.maya.text
    world.maya.send("Too short")
    assert "at least 10 characters" in world.maya.text


def test_cancelling_the_form_saves_nothing(world: World) -> None:
    before = row_counts(world.factory)["opportunities"]
    world.maya.send("/propose")
    world.maya.send("Robot lab")
    world.maya.press("Cancel")
    assert world.maya.text == "OK, stopped. Nothing was saved."
    world.maya.send("Internship")
    assert "I'm not sure what you mean" in world.maya.text
    world.maya.press_payload("of:done")
    assert "That form was closed" in world.maya.text
    assert row_counts(world.factory)["opportunities"] == before


def test_a_teacher_publishes_directly_for_a_new_organisation(world: World) -> None:
    world.tina.send("/publish")
    fill_form(world.tina, organisation="Leeds  Robotics Co", deadline="none")
    assert "Robot lab summer internship — Leeds Robotics Co" in world.tina.text
    assert "No deadline" in world.tina.text
    world.tina.press("Publish")
    published = world.newest()
    assert world.tina.text == (
        f"Published (#{published.id}): students can find it with /browse now."
    )
    assert published.status == OpportunityStatus.OPEN
    assert published.published_at == world.clock.now
    assert published.deadline is None
    with world.factory() as session:
        stored = session.get(Opportunity, published.id)
        assert stored is not None
        assert stored.organisation.name == "Leeds Robotics Co"
    world.bob.send("/browse")
    assert "Robot lab summer internship" in world.bob.text


def test_close_and_edit(world: World) -> None:
    oid = world.opportunity
    world.tina.send(f"/edit {oid} deadline 2027-01-15")
    assert world.tina.text.startswith(f"Updated #{oid}:\n\nSoftware intern — Acme Ltd")
    assert "Apply by 15 Jan 2027" in world.tina.text
    world.tina.send(f"/edit #{oid} title Junior developer")
    world.tina.send(f"/edit {oid} kind mentoring")
    world.tina.send(f"/edit {oid} remote yes")
    edited = world.opportunities()[0]
    assert (edited.title, edited.kind, edited.remote, edited.deadline) == (
        "Junior developer",
        OpportunityKind.MENTORING,
        True,
        date(2027, 1, 15),
    )
    for args, expected in [
        ("", "Say which opportunity by its number"),
        ("abc title X", "Say which opportunity by its number"),
        ("999999 title X", "There's no opportunity #999999."),
        (f"{oid} colour blue", "Say what to change and the new value"),
        (f"{oid} title", "Say what to change and the new value"),
        (f"{oid} deadline soon", "Please type the deadline as YYYY-MM-DD"),
        (f"{oid} paid maybe", "Is it paid? Please answer yes, no or not sure."),
    ]:
        world.tina.send(f"/edit {args}")
        assert expected in world.tina.text, args
    assert world.opportunities()[0].title == "Junior developer"

    # Several fields at once, as the Slack form sends them: all or nothing.
    world.tina.send(f"/edit opportunity: {oid}\nlocation: Leeds\ndeadline: soon\npaid: maybe")
    assert world.tina.text.startswith("Nothing was changed. Please fix this and send it again:")
    assert "• deadline: Please type the deadline as YYYY-MM-DD" in world.tina.text
    assert "• paid: Is it paid? Please answer yes, no or not sure." in world.tina.text
    assert world.opportunities()[0].location != "Leeds"
    world.tina.send(f"/edit opportunity: #{oid}\nlocation: Leeds\npaid: no")
    assert world.tina.text.startswith(f"Updated #{oid}:")
    edited = world.opportunities()[0]
    assert (edited.location, edited.paid, edited.title) == ("Leeds", False, "Junior developer")

    world.tina.send(f"/close {oid}")
    assert world.tina.text == (
        f"Closed #{oid} Junior developer — Acme Ltd. Students no longer see it."
    )
    assert world.opportunities()[0].status == OpportunityStatus.CLOSED
    world.tina.send(f"/close {oid}")
    assert "is already closed" in world.tina.text
    world.bob.send(f"/close {oid}")
    assert "Sorry, that is only for admins or teachers" in world.bob.text


def test_listings_search_takes_percent_and_underscore_literally(world: World) -> None:
    for title in ("50% bursary", "500 club helper", "Data_base intern", "Database intern"):
        add_opportunity(world.factory, world.clock.now, title=title)
    world.tina.send("/listings 50%")
    assert "50% bursary" in world.tina.text
    assert "500 club helper" not in world.tina.text
    world.tina.send("/listings DATA_base")
    assert "Data_base intern" in world.tina.text
    assert "Database intern" not in world.tina.text


def test_cohorts_get_fresh_join_codes(world: World) -> None:
    world.tina.send("/cohort")
    assert world.tina.text == (
        "Classes at Riverside High:\n• Year 11: join code RIVER-11 (1 student)"
    )
    world.tina.send("/cohort  Year 12 ")
    assert world.tina.text.startswith("Created Year 12 at Riverside High. Students join with")
    with world.factory() as session:
        cohort = session.scalars(select(Cohort).where(Cohort.name == "Year 12")).one()
        assert cohort.school.name == "Riverside High"
    assert cohort.join_code.startswith("RIVER-") and len(cohort.join_code) == 10
    world.tina.send("/cohort year 12")
    assert f"There's already a class called Year 12: its join code is {cohort.join_code}" in (
        world.tina.text
    )
    world.tom.send("/cohort Year 12")
    assert "Created Year 12 at Hillside Academy" in world.tom.text
    # A student joins the new class with its code.
    sam = Chat(world.core, "sam", name="Sam")
    onboard(sam, code=cohort.join_code.lower())
    world.tina.send("/class")
    assert f"• Year 12: join code {cohort.join_code} (1 student)" in world.tina.text


def test_a_teacher_without_a_school_is_told_how_to_get_one(world: World) -> None:
    tess = Chat(world.core, "tess")
    join_with_invite(world.factory, world.clock.now, tess, Role.TEACHER)
    tess.send("/cohort Year 9")
    assert "You're not linked to a school yet" in tess.text
    with world.factory() as session:
        assert session.scalars(select(Cohort).where(Cohort.name == "Year 9")).all() == []


def test_interested_and_thread_show_only_the_teachers_own_students(world: World) -> None:
    ada = Chat(world.core, "ada", name="Ada Lovelace")
    onboard(ada, under_18=False)
    zed = Chat(world.core, "zed", name="Zed Hill")
    onboard(zed, code="HILL-10", under_18=False)
    for student in (world.bob, ada, zed):
        student.press_payload(f"int:{world.opportunity}")
        student.send(f"Hello from {student.name}")
    bob_interest = next(
        b.payload
        for text, buttons in inbox(world.factory, world.maya)
        for b in buttons
        if "Bob" in text and b.label == "Invite"
    )
    world.maya.press_payload(bob_interest)
    world.maya.send("Interview on Tuesday at 10?")
    iid = int(bob_interest.split(":")[1])
    world.clock.advance(hours=1)
    world.bob.press_payload(f"sr:{iid}")
    world.bob.send("Yes please!")

    world.tina.send(f"/interested {world.opportunity}")
    with world.factory() as session:
        ada_iid = session.scalars(
            select(Interest.id)
            .join(Person, Person.id == Interest.person_id)
            .where(Person.name == "Ada", Person.family_name == "Lovelace")
        ).one()
    assert world.tina.text == (
        f"Your students interested in #{world.opportunity} Software intern — Acme Ltd:\n"
        f"\n1. Bob Smith (Year 11): invited, application #{iid}\n"
        "   Last message: Bob replied: Yes please!\n"
        f"\n2. Ada Lovelace (Year 11): interest sent, application #{ada_iid}"
    )
    assert [(b.label, b.payload) for b in world.tina.buttons] == [
        ("Conversation 1", f"th:{iid}"),
        ("Mark 1 placed", f"tpl:{iid}"),
        ("Mark 2 placed", f"tpl:{ada_iid}"),
    ]
    world.tina.press("Conversation 1")
    assert world.tina.text == (
        "Bob Smith (Year 11) and Software intern — Acme Ltd.\n"
        "Status: Invited\n"
        "Bob's note: Hello from Bob Smith\n"
        "\n23 Nov 2026 15:00 Maya (Acme Ltd) invited: Interview on Tuesday at 10?\n"
        "\n23 Nov 2026 16:00 Bob replied: Yes please!"
    )
    world.tom.send(f"/interested {world.opportunity}")
    assert "1. Zed Hill (Y10): interest sent" in world.tom.text
    assert "Bob" not in world.tom.text and "Ada" not in world.tom.text
    world.tom.send(f"/thread {iid}")
    assert world.tom.text == "I can't find that application among your school's students."
    world.maya.press_payload(f"th:{iid}")
    assert "Sorry, that is only for admins or teachers" in world.maya.text
    world.tina.send("/thread")
    assert "Say which application" in world.tina.text


def test_import_asks_for_the_file(world: World) -> None:
    world.tina.send("/import")
    assert "Send me the file here: a .csv" in world.tina.text


def test_a_teacher_invites_a_colleague_to_their_own_school(world: World) -> None:
    world.tom.send("/invite teacher")
    code = world.tom.text.split("Here's a code for a teacher: ")[1].split()[0]
    tara = Chat(world.core, "tara", name="Tara")
    tara.send(f"/join {code}")
    with world.factory() as session:
        person = session.scalars(select(Person).where(Person.name == "Tara")).one()
        assert person.school is not None and person.school.name == "Hillside Academy"


def test_staff_set_their_time_zone(world: World) -> None:
    world.tina.send("/timezone")
    assert world.tina.text == "Your time zone is UTC. Change it: /timezone Europe/London"
    world.tina.send("/timezone mars/olympus")
    assert "I don't know that time zone" in world.tina.text
    world.tina.send("/timezone america/new york")
    assert world.tina.text == "Done: times are in America/New_York for you now."
    world.maya.send("/timezone Europe/London")
    assert "Europe/London" in world.maya.text
    world.bob.send("/timezone Europe/London")
    assert "Sorry, that is only for" in world.bob.text
