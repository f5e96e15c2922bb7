"""/mydata shows everything stored about a person; /forget deletes it, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from storage.models import (
    Account,
    AuditEntry,
    Interest,
    InterestStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Reminder,
    ReminderKind,
    Role,
)
from storage.outbox import enqueue
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    join_with_invite,
    make_employer,
    onboard,
    person_id,
    row_counts,
)


@dataclass
class World:
    factory: sessionmaker[Session]
    clock: FakeClock
    bob: Chat
    bob_id: int
    internship: int
    mentoring: int


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    """Bob, an adult student, with two interests (one with a note), a saved listing, a
    reminder, a message waiting for him, and an employer with two members."""
    add_school(session_factory, clock.now)
    internship = add_opportunity(session_factory, clock.now, title="Software intern")
    mentoring = add_opportunity(session_factory, clock.now, title="Mentoring", organisation="Mo")
    for user, org in (("maya", "Acme Ltd"), ("raj", "Acme Ltd"), ("mo", "Mo")):
        make_employer(session_factory, clock.now, Chat(core, user), org)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False, tags=("Technology & IT", "Engineering"))
    bob.press_payload(f"int:{internship}")
    bob.send("I love robots")
    bob.press_payload(f"intn:{mentoring}")
    bob.press_payload(f"sv:{internship}")
    bob_id = person_id(session_factory, bob)
    assert bob_id is not None
    with session_factory.begin() as session:
        bob_person = session.get(Person, bob_id)
        assert bob_person is not None
        session.add(
            Reminder(
                person_id=bob_id,
                opportunity_id=internship,
                kind=ReminderKind.DEADLINE,
                text="Apply to Software intern",
                due_at=clock.now + timedelta(days=2),
                key="test-reminder",
                created_at=clock.now,
            )
        )
        enqueue(
            session, bob_person, "Hi Bob, come on Monday", kind="direct", key="d1", now=clock.now
        )
        # The mentoring match notification has gone out already.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.text.like("%Mentoring%"))
            .values(status=OutboxStatus.SENT)
        )
    return World(session_factory, clock, bob, bob_id, internship, mentoring)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def test_mydata_shows_profile_interests_notes_and_saved(world: World) -> None:
    world.bob.send("/mydata")
    text = world.bob.text
    for line in (
        "Everything I store about you:",
        "Name: Bob",
        "Family name: Smith",
        "Role: student",
        "Class: Year 11, Riverside High",
        "Grade: 11",
        "Age: 18 or over",
        "Fields: Engineering, Technology & IT",
        "Time zone: Europe/London",
        "First contact: 23 Nov 2026 15:00",
        "Accounts: console (Bob Smith)",
        'Applications:\n• Software intern — Acme Ltd: Interest sent — your note: "I love robots"\n'
        "• Mentoring — Mo: Interest sent",
        "Saved:\n• Software intern — Acme Ltd",
        "Reminders:\n• 25 Nov 2026 15:00: Apply to Software intern",
        "To delete all of this, send /forget.",
    ):
        assert line in text


def test_mydata_of_a_minor_mentions_consent(core: Core, world: World) -> None:
    ada = Chat(core, "ada")
    onboard(ada, under_18=True)
    ada.send("/mydata")
    assert "Age: 16 or 17\nGuardian's consent: not on file yet" in ada.text


def test_forget_asks_first_and_keeping_deletes_nothing(world: World) -> None:
    before = row_counts(world.factory)
    world.bob.send("/forget")
    assert "It can't be undone. Sure?" in world.bob.text
    world.bob.press("No, keep it")
    assert "nothing was deleted" in world.bob.text
    after = row_counts(world.factory)
    assert {**after, "processed_events": 0} == {**before, "processed_events": 0}


def test_forget_deletes_the_person_and_anonymises_interests(world: World) -> None:
    world.bob.send("/forget")
    world.bob.press("Yes, delete everything")
    assert "everything I stored about you is deleted" in world.bob.text

    with world.factory() as session:
        assert session.get(Person, world.bob_id) is None
        assert session.scalars(select(Account).where(Account.external_id == "bob")).all() == []
        interests = session.scalars(select(Interest)).all()
        assert [(i.person_id, i.note, i.status) for i in interests] == [
            (None, None, InterestStatus.WITHDRAWN),
            (None, None, InterestStatus.WITHDRAWN),
        ]
        outbox = session.execute(
            select(Account.external_id, OutboxMessage.kind, OutboxMessage.text)
            .join(Account, Account.id == OutboxMessage.account_id)
            .order_by(OutboxMessage.id)
        ).all()
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "forget"))
    # Nothing about Bob is left to send (the match notifications, his own message); each
    # employer hears only that a student withdrew.
    assert [tuple(row) for row in outbox] == [
        ("maya", "withdrawn", "A student has withdrawn their interest in Software intern."),
        ("raj", "withdrawn", "A student has withdrawn their interest in Software intern."),
        ("mo", "withdrawn", "A student has withdrawn their interest in Mentoring."),
    ]
    assert audit.subject_id == world.bob_id
    assert audit.detail == {"role": "student", "interests_withdrawn": 2}
    counts = row_counts(world.factory)
    for table in ("saved_opportunities", "person_tags", "conversation_state", "reminders"):
        assert counts[table] == 0, table


def test_forget_withdraws_a_placement_too(world: World) -> None:
    with world.factory.begin() as session:
        for interest in session.scalars(select(Interest)):
            interest.status = InterestStatus.PLACED
    world.bob.press_payload("fgy")
    with world.factory() as session:
        statuses = session.scalars(select(Interest.status)).all()
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert statuses == [InterestStatus.WITHDRAWN, InterestStatus.WITHDRAWN]
    assert sorted(kinds) == ["withdrawn", "withdrawn", "withdrawn"]


def test_after_forgetting_writing_again_starts_fresh(world: World) -> None:
    world.bob.press_payload("fgy")
    world.bob.send("/browse")
    assert "You haven't joined yet. Send /start" in world.bob.text
    new_id = person_id(world.factory, world.bob)
    assert new_id is not None
    with world.factory() as session:
        person = session.get(Person, new_id)
        assert person is not None
        assert (person.role, person.cohort_id, person.grade, person.onboarded_at) == (
            None,
            None,
            None,
            None,
        )
    world.bob.send("/mine")
    assert "You haven't joined yet" in world.bob.text
    world.bob.send("/start")
    assert "What's your first name?" in world.bob.text


def test_a_guest_can_forget_too(core: Core, session_factory: sessionmaker[Session]) -> None:
    guest = Chat(core, "guest")
    guest.send("/mydata")
    assert "Role: not joined yet" in guest.text
    guest.press_payload("fgy")
    assert person_id(session_factory, guest) is None
    with session_factory() as session:
        (audit,) = session.scalars(select(AuditEntry))
    assert (audit.action, audit.detail) == ("forget", {"role": None, "interests_withdrawn": 0})


def test_a_teacher_forgetting_keeps_their_invites(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    tess = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, tess, Role.TEACHER)
    tess.send("/invite teacher")
    tess.press_payload("fgy")
    counts = row_counts(session_factory)
    assert (counts["people"], counts["invite_codes"]) == (0, 2)


def test_mydata_shows_the_digest_and_the_conversation_with_employers(
    core: Core, world: World
) -> None:
    world.bob.send("/mydata")
    assert "Weekly digest: off" in world.bob.text
    assert "Messages with employers" not in world.bob.text
    world.bob.send("/digest")
    world.bob.press("Fri")
    with world.factory() as session:
        iid = session.scalars(
            select(Interest.id).where(Interest.opportunity_id == world.internship)
        ).one()
    maya = Chat(core, "maya")
    maya.press_payload(f"em:{iid}:ask")
    maya.send("When can you start? <b>soon</b>")
    world.bob.send("/mydata")
    assert "Weekly digest: every Friday" in world.bob.text
    assert (
        "Messages with employers:\n• 23 Nov 2026 15:00, Acme Ltd: When can you start? <b>soon</b>"
    ) in world.bob.text
