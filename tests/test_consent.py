"""A guardian's consent: nothing identifying reaches an employer before it, details after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.i18n import FSI, LANGUAGES, PDI, PSEUDO, _, language
from handlers.common.membership import school_named
from handlers.people.consent import NOT_A_GUARDIAN_ACCOUNT, no_longer_works
from handlers.people.invites import create_invite
from storage.models import AuditEntry, GuardianCode, Interest, Person, Role
from tests.conftest import FakeClock, Snapshot
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
from tests.pseudo import leaks


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


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
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


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


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


def confirm(world: World, chat: Chat, code: str, name: str, relationship: str) -> None:
    """``chat`` goes through the guardian's questions with ``code``, up to "I confirm"."""
    chat.send(f"/consent {code}")
    assert "Which language would you like me to use?" in chat.text, chat.text
    chat.press("English")
    assert "what's your full name?" in chat.text, chat.text
    chat.send(name)
    assert "How are you related to Ada?" in chat.text
    if relationship in [b.label for b in chat.buttons]:
        chat.press(relationship)
    else:
        chat.send(relationship)
    chat.press("I confirm")


def test_the_guardian_confirms_with_the_code_and_the_employer_gets_the_details(
    world: World,
) -> None:
    register(world, world.ada, "I love robots")
    code = guardian_code(world)
    assert code.startswith("G-")
    world.clock.advance(days=1)
    world.gwen.send(f"/consent {code.lower()}")
    assert [b.label for b in world.gwen.buttons] == [
        "English",
        "Español",
        "العربية",
        "Polski",
        "Українська",
    ]
    world.gwen.press("English")
    assert "what's your full name?" in world.gwen.text
    world.gwen.send("Gwen   Lovelace")
    assert "How are you related to Ada?" in world.gwen.text
    assert [b.label for b in world.gwen.buttons] == [
        "Mother",
        "Father",
        "Parent",
        "Carer",
        "Guardian",
    ]
    world.gwen.press("Mother")
    assert world.gwen.text.startswith(
        "Please confirm: as Ada's mother, you, Gwen Lovelace, agree that Riverside High may "
        "share Ada's first name, class, chosen fields and notes with the employers Ada "
        "registers interest in."
    )
    assert "Riverside High's teachers will see your name" in world.gwen.text
    assert world.student(world.ada).guardian_consent_at is None
    world.gwen.press("I confirm")
    assert world.gwen.text == (
        "Thank you, Gwen Lovelace! Consent is recorded, and Ada's school is told."
    )

    ada = world.student(world.ada)
    assert ada.guardian_consent_at == world.clock.now
    (interest,) = world.interests()
    assert interest.details_shared_at == world.clock.now
    text, buttons = last_message(world.factory, world.maya, "match")
    assert text == (
        "A guardian's consent is now on file, so here are the student's details.\n\n"
        "Ada (Year 11, Riverside High) is interested in Software intern.\n"
        "Interested in: Technology & IT\nTheir note: I love robots\nStatus: New"
    )
    assert [b.label for b in buttons] == ["Invite", "Ask a question", "Decline"]
    assert last_message(world.factory, world.ada)[0].startswith(
        "Gwen Lovelace (mother) confirmed your guardian's consent."
    )
    assert last_message(world.factory, world.tina, "consent")[0].startswith(
        "Ada Lovelace (Year 11): Gwen Lovelace (mother) confirmed a guardian's consent through "
        "the bot with the student's code."
    )
    assert inbox(world.factory, world.tom) == []
    gwen = person_id(world.factory, world.gwen)
    assert world.audit() == [("consent_given", gwen, ada.id, {"via": "guardian"})]
    with world.factory() as session:
        used = session.scalars(select(GuardianCode).where(GuardianCode.code == code)).one()
        assert (used.used_by_id, used.guardian_name, used.guardian_relationship) == (
            gwen,
            "Gwen Lovelace",
            "mother",
        )

    # The teachers see who confirmed, and when.
    world.tina.send("/consent lovelace")
    assert world.tina.text == (
        "Students like “lovelace”:\n1. Ada Lovelace (Year 11): consent on file since "
        "24 Nov 2026, confirmed by Gwen Lovelace (mother)"
    )

    # The code works once: its buttons and the code itself change nothing any more.
    before = row_counts(world.factory)
    world.gwen.press_payload("gc:yes")
    assert "That button is from an earlier conversation" in world.gwen.text
    world.gwen.send(f"/consent {code}")
    assert world.gwen.text == no_longer_works()
    assert row_counts(world.factory)["outbox"] == before["outbox"]
    assert len(world.audit()) == 1


def _classmate(world: World) -> Chat:
    cal = Chat(world.core, "cal", name="Cal Jones")
    onboard(cal)
    return cal


def _second_account(world: World) -> Chat:
    # Ada again, on Slack, in her own class under her own name.
    second = Chat(world.core, "U-ADA", platform="slack", name="Ada Lovelace")
    onboard(second)
    return second


@pytest.mark.parametrize(
    "who",
    ["the student", "a classmate", "the student's second account", "a teacher", "an employer"],
)
def test_only_a_guardians_account_may_use_the_code(world: World, who: str) -> None:
    register(world, world.ada)
    code = guardian_code(world)
    chat = {
        "the student": lambda: world.ada,
        "a classmate": lambda: _classmate(world),
        "the student's second account": lambda: _second_account(world),
        "a teacher": lambda: world.tina,
        "an employer": lambda: world.maya,
    }[who]()
    before = row_counts(world.factory)
    shared_before = inbox(world.factory, world.maya)
    chat.send(f"/consent {code}")
    assert chat.text == NOT_A_GUARDIAN_ACCOUNT
    for payload in ("gc:rel:mother", "gc:yes"):
        chat.press_payload(payload)
        assert "Ada" not in chat.text and "Lovelace" not in chat.text
    assert world.student(world.ada).guardian_consent_at is None
    after = row_counts(world.factory)
    assert {**after, "processed_events": 0} == {**before, "processed_events": 0}
    assert inbox(world.factory, world.maya) == shared_before
    # The code still works for the guardian.
    confirm(world, world.gwen, code, "Gwen Lovelace", "Mother")
    assert world.student(world.ada).guardian_consent_at is not None


def test_a_guest_who_joins_halfway_can_no_longer_confirm(world: World) -> None:
    code = guardian_code(world)
    cal = Chat(world.core, "cal", name="Cal Jones")
    cal.send(f"/consent {code}")
    cal.press("English")
    cal.send("Carol Jones")
    cal.press("Parent")
    assert "Please confirm" in cal.text
    with world.factory.begin() as session:
        person = session.get(Person, person_id(world.factory, cal))
        assert person is not None
        person.role = Role.STUDENT
    cal.press("I confirm")
    assert cal.text == NOT_A_GUARDIAN_ACCOUNT
    assert world.student(world.ada).guardian_consent_at is None


@pytest.mark.parametrize("arrange", ["expired", "expired midway", "replaced", "used", "unknown"])
def test_unusable_codes_are_refused(world: World, arrange: str) -> None:
    code = guardian_code(world)
    expected = no_longer_works()
    if arrange == "expired":
        world.clock.advance(days=14)
    elif arrange == "replaced":
        guardian_code(world)
    elif arrange == "used":
        confirm(world, Chat(world.core, "gus", name="Gus"), code, "Gus Lovelace", "Father")
        world.tina.press_payload(f"cw:{person_id(world.factory, world.ada)}")
        world.tina.press("Yes, withdraw consent")
    elif arrange == "unknown":
        code = "G-AAAA-AAAA"
        expected = "That code doesn't match anything. Check it and try again."
    if arrange == "expired midway":
        world.gwen.send(f"/consent {code}")
        world.gwen.press("English")
        world.gwen.send("Gwen Lovelace")
        world.clock.advance(days=15)
        world.gwen.press("Mother")
    else:
        world.gwen.send(f"/consent {code}")
    assert world.gwen.text == expected
    assert "Ada" not in world.gwen.text
    world.gwen.press_payload("gc:yes")
    assert world.student(world.ada).guardian_consent_at is None


def test_a_guardian_may_confirm_for_siblings(world: World) -> None:
    code = guardian_code(world)
    confirm(world, world.gwen, code, "Gwen Lovelace", "Mother")
    ben = Chat(world.core, "ben", name="Ben Lovelace")
    onboard(ben)
    ben.send("/guardian")
    line = next(li for li in ben.text.splitlines() if li.startswith("/consent "))
    world.gwen.send(line)
    world.gwen.press("English")
    world.gwen.send("Gwen Lovelace")
    assert "How are you related to Ben?" in world.gwen.text
    world.gwen.send("step-mother")
    assert "Please confirm: as Ben's step-mother, you, Gwen Lovelace" in world.gwen.text
    world.gwen.press("I confirm")
    assert world.student(ben).guardian_consent_at == world.clock.now


def test_the_guardians_answers_are_checked(world: World) -> None:
    code = guardian_code(world)
    world.gwen.send(f"/consent {code}")
    world.gwen.send("English")
    world.gwen.send("<b>Gwen</b> 123")
    assert "Please type just your name, like Jane Patel" in world.gwen.text
    world.gwen.send("Gwen Lovelace")
    world.gwen.send("x" * 41)
    assert "Please type just how you're related" in world.gwen.text
    world.gwen.send("Grandmother")
    assert "as Ada's grandmother, you, Gwen Lovelace" in world.gwen.text
    world.gwen.press("Cancel")
    assert world.gwen.text == "OK, nothing was recorded."
    world.gwen.press_payload("gc:yes")
    assert "That button is from an earlier conversation" in world.gwen.text
    assert world.student(world.ada).guardian_consent_at is None


def test_a_guardian_sees_and_deletes_what_they_gave(world: World) -> None:
    code = guardian_code(world)
    confirm(world, world.gwen, code, "Gwen Lovelace", "Mother")
    world.gwen.send("/mydata")
    assert "Consent you confirmed as a guardian:" in world.gwen.text
    assert "you gave your name as Gwen Lovelace (mother)" in world.gwen.text
    world.ada.send("/mydata")
    assert "confirmed by Gwen Lovelace (mother)" in world.ada.text
    world.gwen.send("/forget")
    world.gwen.press("Yes, delete everything")
    with world.factory() as session:
        used = session.scalars(select(GuardianCode).where(GuardianCode.code == code)).one()
        assert (used.used_by_id, used.guardian_name, used.guardian_relationship) == (
            None,
            None,
            None,
        )
    world.tina.send("/consent ada")
    assert "confirmed by a guardian through the bot (no name on record)" in world.tina.text
    assert world.student(world.ada).guardian_consent_at is not None


def test_students_with_the_same_first_name_are_told_apart(world: World) -> None:
    umas = [Chat(world.core, f"uma{n}", name="Uma") for n in range(3)]
    for chat, family in zip(umas, ("Shah", "Shah", "Patel"), strict=True):
        onboard(chat, family=family)
    ids = [person_id(world.factory, chat) for chat in umas]
    world.tina.send("/consent uma")
    assert world.tina.text == (
        "Students like “uma”:\n"
        "1. Uma Patel (Year 11): no consent yet\n"
        f"2. Uma Shah (Year 11, student #{ids[0]}): no consent yet\n"
        f"3. Uma Shah (Year 11, student #{ids[1]}): no consent yet"
    )
    # Each button acts on the student of its line.
    world.tina.press("3: Consent on file")
    assert world.tina.text == f"Consent on file for Uma Shah (Year 11, student #{ids[1]})."
    assert [world.student(chat).guardian_consent_at is not None for chat in umas] == [
        False,
        True,
        False,
    ]
    world.tina.send("/consent uma patel")
    assert world.tina.text.startswith("Students like “uma patel”:\n1. Uma Patel (Year 11)")
    world.tina.press("1: Consent on file")
    assert world.tina.text == "Consent on file for Uma Patel (Year 11)."
    assert world.student(umas[2]).guardian_consent_at is not None
    assert world.student(umas[0]).guardian_consent_at is None
    # Employers still see only a first name, and only with consent.
    register(world, umas[0])
    assert "Shah" not in employer_texts(world) and "Uma" not in employer_texts(world)


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
        "Consent on file for Ada Lovelace (Year 11). I've sent the student's details to the "
        "employer for 1 waiting application."
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
    assert world.tina.text == (
        "Ada Lovelace (Year 11): consent on file since 23 Nov 2026, recorded by the school."
    )

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
        "Students like “smith”:\n1. Bob Smith (Year 11): 18 or over, no consent needed"
    )
    world.tina.send("/consent 100%_")
    assert "No student at your school is called anything like" in world.tina.text
    world.tina.press_payload(f"cf:{person_id(world.factory, world.ada)}")
    world.tina.send("/consent")
    assert world.tina.text == "Every student under 18 at your school has consent on file."
    world.tina.send("/consent ada")
    assert "consent on file since 23 Nov 2026, recorded by the school" in world.tina.text
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
    assert "Withdraw Ada Lovelace (Year 11)'s guardian's consent?" in world.tina.text
    world.tina.press("Yes, withdraw consent")
    assert world.tina.text == "Consent withdrawn for Ada Lovelace (Year 11)."
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


def test_the_guardian_chooses_their_language_first_and_others_read_theirs(
    world: World,
) -> None:
    register(world, world.ada, "I love robots")
    code = guardian_code(world)
    with world.factory.begin() as session:
        tina = session.get(Person, person_id(world.factory, world.tina))
        assert tina is not None
        tina.language = "pl"
    rosa = Chat(world.core, "rosa", name="Rosa Lovelace", language="es-ES")
    rosa.send(f"/consent {code}")
    # Asked first in the language Rosa's app speaks, then in each of the others.
    lines = rosa.text.splitlines()
    assert lines[0] == "¿En qué idioma prefiere que le escriba?"
    assert "Which language would you like me to use?" in lines
    assert "بأي لغة تفضّل أن أتواصل معك؟" in lines
    assert len(lines) == len(LANGUAGES)
    rosa.press("العربية")
    assert rosa.text.startswith("شكرًا لك. قبل التأكيد: ما اسمك الكامل؟")
    rosa.send("Rosa Lovelace")
    assert rosa.text.startswith(f"شكرًا لك يا {FSI}Rosa Lovelace{PDI}. ما صلتك بـ{FSI}Ada{PDI}؟")
    assert [b.label for b in rosa.buttons] == [
        "الأم",
        "الأب",
        "أحد الوالدين",
        "مقدّم الرعاية",
        "الوصي",
    ]
    rosa.press("الأم")
    assert f"{FSI}Riverside High{PDI}" in rosa.text
    assert f"وصلتك بـ{FSI}Ada{PDI}: {FSI}الأم{PDI}،" in rosa.text
    rosa.press("أؤكد")
    assert rosa.text == (
        f"شكرًا لك يا {FSI}Rosa Lovelace{PDI}! تم تسجيل الموافقة، وأُبلغت مدرسة {FSI}Ada{PDI}."
    )
    # Ada and Tina read it in their own languages, whatever Rosa's.
    assert last_message(world.factory, world.ada, "consent")[0].startswith(
        "Rosa Lovelace (mother) confirmed your guardian's consent."
    )
    assert last_message(world.factory, world.tina, "consent")[0].startswith(
        "Ada Lovelace (Year 11): Rosa Lovelace (matka) potwierdza zgodę opiekuna"
    )
    # The guardian's choice stays with them.
    rosa.send("/cancel")
    assert rosa.text == "لا يوجد ما يمكن إلغاؤه. أرسل /help لترى ما يمكنني فعله."


def test_the_guardians_journey_in_the_pseudo_language_lets_no_english_through(
    world: World,
) -> None:
    code = guardian_code(world)
    gus = Chat(world.core, "gus", name="Gus Lovelace", language=PSEUDO)
    seen = []
    for step in (
        lambda: gus.send("/consent"),
        lambda: gus.send("/consent NOT-A-CODE"),
        lambda: gus.send("/consent G-AAAA-AAAA"),
        lambda: gus.send(f"/consent {code}"),
        lambda: gus.send("Esperanto"),
        lambda: gus.press_payload(f"gc:lang:{PSEUDO}"),
    ):
        seen += step()
    # The pseudo-language is no choice a person has: English is chosen, then swapped for it.
    gus.send("English")
    assert "what's your full name?" in gus.text
    with world.factory.begin() as session:
        person = session.get(Person, person_id(world.factory, gus))
        assert person is not None
        person.language = PSEUDO
    for step in (
        lambda: gus.send("<b>Gus</b> 1"),
        lambda: gus.send("Gus Lovelace"),
        lambda: gus.press_payload("gc:rel:father"),
        lambda: gus.press_payload("gc:yes"),
    ):
        seen += step()
    assert "Consent" not in "\n".join(r.text for r in seen)
    typed = ("Gus Lovelace", "<b>Gus</b> 1", "Ada", "Riverside High", "G-ABCD-EFGH")
    # The language question is asked in every language, each in its own words.
    question = "Which language would you like me to use?"
    others = []
    for code in LANGUAGES:
        with language(code):
            others.append(_(question))
    assert leaks(seen, allowed=(*typed, *LANGUAGES.values(), *others)) == []
    with language(PSEUDO):
        assert _(question) in seen[3].text
