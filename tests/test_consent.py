"""A guardian's consent: nothing identifying reaches an employer before it, details after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from handlers.invites import create_invite
from handlers.schools import school_named
from storage.models import AuditEntry, GuardianCode, Interest, Person, Role
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
    person_id,
    row_counts,
)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    opportunity: int
    ada: Chat  # under 18, no consent yet
    bob: Chat  # 18 or over
    maya: Chat  # Acme Ltd
    tina: Chat  # teacher at Riverside High
    tom: Chat  # teacher at Hillside Academy
    gwen: Chat  # Ada's mother, on Telegram

    def student(self, chat: Chat) -> Person:
        with self.factory() as session:
            person = session.get(Person, person_id(self.factory, chat))
            assert person is not None
            return person

    def interests(self) -> list[Interest]:
        with self.factory() as session:
            return list(session.scalars(select(Interest).order_by(Interest.id)))

    def audit(self) -> list[tuple[str, int | None, int | None, dict[str, object]]]:
        with self.factory() as session:
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("consent%")).order_by(AuditEntry.id)
            )
            return [(a.action, a.actor_id, a.subject_id, a.detail) for a in rows]


@pytest.fixture
def world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(
        session_factory,
        clock.now,
        title="Software intern",
        deadline=clock.now.date() + timedelta(days=7),
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
    ada = Chat(core, "ada", name="Ada Lovelace")
    onboard(ada, under_18=True)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    gwen = Chat(core, "gwen", platform="telegram", name="Gwen Lovelace")
    return World(core, session_factory, clock, opportunity, ada, bob, maya, tina, tom, gwen)


def register(world: World, chat: Chat, note: str | None = None) -> None:
    chat.press_payload(f"int:{world.opportunity}")
    if note is None:
        chat.press("Send without a note")
    else:
        chat.send(note)
    assert "Done!" in chat.text, chat.text


def guardian_code(world: World) -> str:
    world.ada.send("/guardian")
    assert "Ask your parent or guardian to send me this from their own account" in world.ada.text
    line = next(li for li in world.ada.text.splitlines() if li.startswith("/consent "))
    return line.removeprefix("/consent ")


def employer_texts(world: World) -> str:
    return "\n".join(text for text, _ in inbox(world.factory, world.maya))


def test_nothing_identifying_reaches_the_employer_before_consent(world: World) -> None:
    register(world, world.ada, "I'm Ada from Year 11 and I love robots")
    texts = employer_texts(world)
    for secret in ("Ada", "Lovelace", "Year 11", "Riverside", "robots", "Technology"):
        assert secret not in texts
    assert all(buttons == [] for _, buttons in inbox(world.factory, world.maya))


def test_the_guardian_confirms_with_the_code_and_the_employer_gets_the_details(
    world: World,
) -> None:
    register(world, world.ada, "I love robots")
    code = guardian_code(world)
    assert code.startswith("G-")
    world.clock.advance(days=1)
    world.gwen.send(f"/consent {code.lower()}")
    assert world.gwen.text.startswith(
        "Please confirm: as Ada's parent or guardian, you agree that Riverside High may share "
        "Ada's first name, class, chosen fields and notes"
    )
    world.gwen.press("I confirm")
    assert world.gwen.text == "Thank you! Consent is recorded, and Ada's school is told."

    ada = world.student(world.ada)
    assert ada.guardian_consent_at == world.clock.now
    (interest,) = world.interests()
    assert interest.details_shared_at == world.clock.now
    text, buttons = last_message(world.factory, world.maya, "match")
    assert text == (
        "A guardian's consent is now on file, so here are the student's details.\n\n"
        "Ada (Year 11, Riverside High) is interested in Software intern.\n"
        "Interested in: Technology & IT\nTheir note: I love robots"
    )
    assert [b.label for b in buttons] == ["Invite", "Ask a question", "Decline"]
    assert "Your guardian confirmed their consent" in last_message(world.factory, world.ada)[0]
    assert (
        "a guardian confirmed consent through the bot"
        in (last_message(world.factory, world.tina, "consent")[0])
    )
    assert inbox(world.factory, world.tom) == []
    gwen = person_id(world.factory, world.gwen)
    assert world.audit() == [("consent_given", gwen, ada.id, {"via": "guardian"})]

    # The code works once; consent given again changes nothing.
    before = row_counts(world.factory)
    world.gwen.press_payload(f"gcy:{code}")
    assert "consent for this student is already on file" in world.gwen.text
    assert row_counts(world.factory)["outbox"] == before["outbox"]
    assert len(world.audit()) == 1


def test_a_student_cannot_confirm_their_own_code(world: World) -> None:
    code = guardian_code(world)
    world.ada.send(f"/consent {code}")
    assert "This code is for your parent or guardian" in world.ada.text
    world.ada.press_payload(f"gcy:{code}")
    assert "This code is for your parent or guardian" in world.ada.text
    assert world.student(world.ada).guardian_consent_at is None


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        ("expired", "That code has expired"),
        ("replaced", "That code has expired"),
        ("unknown", "That code doesn't match anything"),
    ],
)
def test_unusable_codes_are_refused(world: World, arrange: str, expected: str) -> None:
    code = guardian_code(world)
    if arrange == "expired":
        world.clock.advance(days=15)
    elif arrange == "replaced":
        guardian_code(world)
    else:
        code = "G-AAAA-AAAA"
    world.gwen.send(f"/consent {code}")
    assert expected in world.gwen.text
    world.gwen.press_payload(f"gcy:{code}")
    assert expected in world.gwen.text
    assert world.student(world.ada).guardian_consent_at is None


def test_consent_needs_a_code_that_looks_like_one(world: World) -> None:
    world.gwen.send("/consent")
    assert "Send /consent followed by the code the student gave you" in world.gwen.text
    world.gwen.send("/consent please")
    assert "That doesn't look like a consent code" in world.gwen.text
    world.ada.send("/consent")
    assert "send /guardian to get one" in world.ada.text
    world.bob.send("/guardian")
    assert "You're 18 or over" in world.bob.text


def test_the_teacher_records_consent_from_the_follow_up(world: World) -> None:
    register(world, world.ada)
    text, buttons = last_message(world.factory, world.tina, "consent_followup")
    assert text.startswith("Ada Lovelace (Year 11) registered interest in Software intern")
    world.tina.press_payload(buttons[0].payload)
    assert world.tina.text == (
        "Consent on file for Ada Lovelace. I've sent the student's details to the employer for "
        "1 waiting application."
    )
    ada = world.student(world.ada)
    assert ada.guardian_consent_at == world.clock.now
    assert last_message(world.factory, world.maya, "match")[0].startswith(
        "A guardian's consent is now on file"
    )
    assert (
        "Your school has your guardian's consent on file"
        in (last_message(world.factory, world.ada)[0])
    )
    tina = person_id(world.factory, world.tina)
    assert world.audit() == [("consent_given", tina, ada.id, {"via": "teacher"})]
    world.tina.press_payload(buttons[0].payload)
    assert "Consent for Ada Lovelace is already on file" in world.tina.text

    # From now on Ada is introduced at once.
    other = add_opportunity(world.factory, world.clock.now, title="Robot lab tour")
    world.ada.press_payload(f"int:{other}")
    world.ada.press("Send without a note")
    assert last_message(world.factory, world.maya, "match")[0].startswith(
        "Ada (Year 11, Riverside High) is interested in Robot lab tour."
    )


def test_the_teacher_lists_and_finds_students(world: World) -> None:
    world.tina.send("/consent")
    assert world.tina.text == (
        "Students under 18 without a guardian's consent on file:\n"
        "1. Ada Lovelace (Year 11): no consent yet"
    )
    assert [b.label for b in world.tina.buttons] == ["1: Consent on file"]
    world.tina.send("/consent smith")
    assert world.tina.text == (
        "Students like 'smith':\n1. Bob Smith (Year 11): 18 or over, no consent needed"
    )
    world.tina.send("/consent 100%_")
    assert "No student at your school is called anything like" in world.tina.text
    world.tina.press_payload(f"cf:{person_id(world.factory, world.ada)}")
    world.tina.send("/consent")
    assert world.tina.text == "Every student under 18 at your school has consent on file."
    world.tina.send("/consent ada")
    assert "consent on file since 23 Nov 2026" in world.tina.text
    assert [b.label for b in world.tina.buttons] == ["1: Withdraw consent"]


def test_only_the_students_own_teachers_may_record_consent(world: World) -> None:
    ada = person_id(world.factory, world.ada)
    before = row_counts(world.factory)
    world.tom.press_payload(f"cf:{ada}")
    assert world.tom.text == "I can't find that student at your school."
    world.tom.send("/consent ada")
    assert "No student at your school" in world.tom.text
    world.bob.press_payload(f"cf:{ada}")
    assert "Sorry, that is only for admins or teachers" in world.bob.text
    world.maya.press_payload(f"cf:{ada}")
    assert "Sorry, that is only for admins or teachers" in world.maya.text
    world.tina.press_payload("cf:999999")
    assert world.tina.text == "I can't find that student at your school."
    after = row_counts(world.factory)
    assert {k: v for k, v in after.items() if k != "processed_events"} == {
        k: v for k, v in before.items() if k != "processed_events"
    }
    assert world.student(world.ada).guardian_consent_at is None


def test_the_student_withdraws_consent_and_new_interest_is_anonymous(world: World) -> None:
    world.tina.press_payload(f"cf:{person_id(world.factory, world.ada)}")
    world.clock.advance(days=1)
    world.ada.send("/guardian")
    assert "Your guardian's consent is on file (since 23 Nov 2026)" in world.ada.text
    world.ada.press("Withdraw consent")
    world.ada.press("Keep it")
    assert world.student(world.ada).guardian_consent_at is not None
    world.ada.send("/guardian")
    world.ada.press("Withdraw consent")
    world.ada.press("Yes, withdraw consent")
    assert "Consent withdrawn" in world.ada.text
    assert world.student(world.ada).guardian_consent_at is None
    assert (
        "Ada Lovelace (Year 11) withdrew their guardian's consent"
        in (last_message(world.factory, world.tina, "consent")[0])
    )
    ada = person_id(world.factory, world.ada)
    tina = person_id(world.factory, world.tina)
    assert [(a, actor, detail) for a, actor, _, detail in world.audit()] == [
        ("consent_given", tina, {"via": "teacher"}),
        ("consent_withdrawn", ada, {"via": "student"}),
    ]
    register(world, world.ada, "Hello from Ada")
    text, buttons = last_message(world.factory, world.maya, "match")
    assert "Ada" not in text and buttons == []


def test_the_teacher_withdraws_consent(world: World) -> None:
    ada = person_id(world.factory, world.ada)
    world.tina.press_payload(f"cf:{ada}")
    world.bob.press_payload(f"cwy:{ada}")
    assert "You can only withdraw consent for yourself" in world.bob.text
    world.tom.press_payload(f"cwy:{ada}")
    assert "I can't find that student at your school" in world.tom.text
    assert world.student(world.ada).guardian_consent_at is not None
    world.tina.send("/consent ada")
    world.tina.press("Withdraw consent")
    assert "Withdraw Ada Lovelace's guardian's consent?" in world.tina.text
    world.tina.press("Yes, withdraw consent")
    assert world.tina.text == "Consent withdrawn for Ada Lovelace."
    assert (
        "Your school withdrew your guardian's consent"
        in (last_message(world.factory, world.ada)[0])
    )
    world.tina.press_payload(f"cwy:{ada}")
    assert "There's no guardian's consent on file to withdraw" in world.tina.text
    assert [a for a, *_ in world.audit()] == ["consent_given", "consent_withdrawn"]


def test_a_new_code_replaces_the_old_one(world: World) -> None:
    first = guardian_code(world)
    second = guardian_code(world)
    assert first != second
    with world.factory() as session:
        codes = {c.code: c.expires_at for c in session.scalars(select(GuardianCode))}
    assert codes[first] == world.clock.now
    assert codes[second] == world.clock.now + timedelta(days=14)


def test_after_consent_is_withdrawn_the_relay_no_longer_names_the_student(world: World) -> None:
    world.tina.press_payload(f"cf:{person_id(world.factory, world.ada)}")
    register(world, world.ada)
    (interest,) = world.interests()
    world.maya.press_payload(f"em:{interest.id}:ask")
    assert "Type your question for Ada" in world.maya.text
    world.maya.send("Which robots do you build?")
    world.ada.send("/guardian")
    world.ada.press("Withdraw consent")
    world.ada.press("Yes, withdraw consent")
    world.ada.press_payload(f"sr:{interest.id}")
    world.ada.send("Line followers, mostly.")
    assert last_message(world.factory, world.maya)[0] == (
        "The student replies about Software intern: Line followers, mostly."
    )
