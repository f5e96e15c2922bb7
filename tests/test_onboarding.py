"""/start onboarding, class codes, and invite codes for teachers and employers."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import DIALOG, Core
from storage.models import AuditEntry, ConversationState, InviteCode, Person, Role
from tests.conftest import FakeClock
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    join_with_invite,
    onboard,
    person_id,
    row_counts,
)


@pytest.fixture
def school(session_factory: sessionmaker[Session], clock: FakeClock) -> int:
    return add_school(session_factory, clock.now)


def _person(session_factory: sessionmaker[Session], chat: Chat) -> Person:
    pid = person_id(session_factory, chat)
    assert pid is not None
    with session_factory() as session:
        return session.scalars(
            select(Person).where(Person.id == pid).options(selectinload(Person.tags))
        ).one()


def _step(session_factory: sessionmaker[Session], chat: Chat) -> str | None:
    """The onboarding question ``chat`` is waiting on (None when no dialog is open)."""
    pid = person_id(session_factory, chat)
    with session_factory() as session:
        row = session.get(ConversationState, (pid, DIALOG))
        return None if row is None else row.data.get("step")


def _audits(session_factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_full_onboarding_makes_a_student_and_audits_it(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace")
    ada.send("/start")
    assert "What's your first name?" in ada.text
    ada.press("I'm Ada")
    assert "And your family name? Just its first letter is fine" in ada.text
    ada.press("Lovelace")
    assert "class join code" in ada.text
    ada.send("river-11")
    assert "Which grade" in ada.text
    ada.press("12")
    assert "Are you under 18?" in ada.text
    ada.press("No, I'm 18 or over")
    assert "Which fields interest you?" in ada.text
    ada.press("Technology & IT")
    ada.press("Health & care")
    ada.press("Done (2 chosen)")
    assert "Which time zone" in ada.text
    ada.send("america/new york")
    assert "where can you get to?" in ada.text
    ada.send("Leeds, UK")
    assert "Welcome, Ada!" in ada.text
    assert "Year 11 (Riverside High), grade 12" in ada.text
    assert "Fields: Health & care, Technology & IT" in ada.text
    assert "Time zone: America/New_York. Near: Leeds, UK." in ada.text
    ada.send("/mydata")
    assert "Where: Leeds, UK" in ada.text

    person = _person(session_factory, ada)
    assert person.role == Role.STUDENT
    assert (person.name, person.family_name) == ("Ada", "Lovelace")
    assert person.cohort_id == school
    assert person.grade == 12
    assert person.under_18 is False
    assert person.tag_names == ["health", "technology"]
    assert person.timezone == "America/New_York"
    assert (person.place, person.wants_remote) == ("Leeds, UK", None)
    assert person.onboarded_at is not None
    assert _step(session_factory, ada) is None

    (audit,) = _audits(session_factory, "role_granted")
    assert audit.subject_id == person.id
    assert audit.detail == {"role": "student", "via": "cohort_code", "cohort_id": school}


@pytest.mark.parametrize(
    ("answers", "bad", "expected", "step"),
    [
        ([], "R2-D2 <script>", "Please type just your name", "name"),
        ([], "x" * 61, "keep it under 60 characters", "name"),
        (["Ada"], "R2-D2", "Please type your family name, or just its first letter", "family"),
        (["Ada"], "L" * 61, "keep it under 60 characters", "family"),
        (["Ada", "L"], "no spaces allowed!", "Join codes are 3 to 32 letters", "cohort"),
        (["Ada", "L"], "NOPE-99", "doesn't match any class", "cohort"),
        (["Ada", "L", "RIVER-11"], "99", "number from 1 to 13", "grade"),
        (["Ada", "L", "RIVER-11"], "eleven", "number from 1 to 13", "grade"),
        (["Ada", "L", "RIVER-11"], "²", "number from 1 to 13", "grade"),
        (["Ada", "L", "RIVER-11", "11"], "maybe", "tap one of the buttons", "age"),
        (["Ada", "L", "RIVER-11", "11", "15"], "pizza", "tap the fields", "tags"),
        (["Ada", "L", "RIVER-11", "11", "15"], "technology, pizza", "tap the fields", "tags"),
    ],
)
def test_an_invalid_answer_is_explained_and_does_not_advance(
    core: Core,
    session_factory: sessionmaker[Session],
    school: int,
    answers: list[str],
    bad: str,
    expected: str,
    step: str,
) -> None:
    sam = Chat(core, "sam")
    sam.send("/start")
    for answer in answers:
        sam.send(answer)
    assert _step(session_factory, sam) == step
    sam.send(bad)
    assert expected in sam.text
    assert _step(session_factory, sam) == step
    assert _person(session_factory, sam).role is None


@pytest.mark.parametrize(
    ("typed", "zone"),
    [("london", "Europe/London"), ("New York", "America/New_York"), ("kolkata", "Asia/Kolkata")],
)
def test_a_time_zone_may_be_typed_as_its_city(
    core: Core, session_factory: sessionmaker[Session], school: int, typed: str, zone: str
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "9", "14", "skip", typed, "skip"):
        sam.send(text)
    assert "Welcome, Sam!" in sam.text
    assert _person(session_factory, sam).timezone == zone


def test_unknown_time_zone_is_refused_then_a_typed_zone_is_taken(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "9", "14"):
        sam.send(text)
    sam.press("Skip for now")
    sam.send("Mars/Olympus_Mons")
    assert "I don't know that time zone" in sam.text
    assert _step(session_factory, sam) == "timezone"
    sam.send("Europe/Paris")
    sam.send("remote")
    assert "Welcome, Sam!" in sam.text
    assert "Remote only." in sam.text
    person = _person(session_factory, sam)
    assert (person.timezone, person.grade, person.under_18) == ("Europe/Paris", 9, True)
    assert person.tag_names == []


def test_interrupted_onboarding_resumes_at_the_same_step(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    sam.send("/start")
    sam.send("Sam Patel")
    sam.send("Patel")
    sam.send("RIVER-11")
    sam.send("/help")
    assert "/start" in sam.text
    sam.send("/browse")
    assert "You haven't joined yet" in sam.text
    sam.send("/start")
    assert "pick up where we left off" in sam.text
    assert "Which grade" in sam.text
    assert _step(session_factory, sam) == "grade"
    # The answer typed after the interruption still goes to the open question.
    sam.send("10")
    assert "Are you under 18?" in sam.text


def test_cancelled_onboarding_starts_over(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    sam.send("/start")
    sam.send("Sam")
    sam.send("/cancel")
    assert "OK, stopped" in sam.text
    assert _step(session_factory, sam) is None
    sam.send("/start")
    assert "What's your first name?" in sam.text


@pytest.mark.parametrize("typed", ["cancel", "Cancelar!", "anuluj", "скасувати", "إلغاء"])
def test_a_way_out_typed_in_any_language_cancels_mid_question(
    core: Core, session_factory: sessionmaker[Session], school: int, typed: str
) -> None:
    sam = Chat(core, "sam")
    sam.send("/start")
    sam.send(typed)  # not taken as the first name
    assert "OK, stopped" in sam.text
    assert _step(session_factory, sam) is None
    sam.send(typed)
    assert "There's nothing to cancel" in sam.text


def test_tags_toggle_on_and_off(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "11", "no"):
        sam.send(text)
    sam.press("Engineering")
    assert sam.replies[0].replace is True
    assert sam.button("Engineering").label == "✓ Engineering"
    sam.press("Education")
    assert sam.button("Done").label == "Done (2 chosen)"
    sam.press("✓ Engineering")
    assert sam.button("Engineering").label == "Engineering"
    assert sam.button("Done").label == "Done (1 chosen)"
    sam.press("Done")
    sam.press("Berlin")
    sam.press("Skip")
    assert _person(session_factory, sam).tag_names == ["education"]


def test_fields_and_done_may_be_typed(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "11", "no"):
        sam.send(text)
    sam.send("Engineering, health & care and education")
    assert sam.button("Done").label == "Done (3 chosen)"
    sam.send("education")  # typing a ticked field unticks it, as tapping it would
    assert sam.button("Done").label == "Done (2 chosen)"
    sam.send("Done")
    assert "time zone" in sam.text
    sam.send("Europe/Berlin")
    sam.press("Skip")
    assert _person(session_factory, sam).tag_names == ["engineering", "health"]


def test_a_refused_answer_comes_with_the_question_buttons(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "11", "no"):
        sam.send(text)
    sam.send("pizza")
    assert "tap the fields" in sam.text
    sam.press("Skip for now")  # still there to tap, though the refusal replaced the question
    assert "time zone" in sam.text
    sam.send("Mars/Olympus")
    assert "don't know that time zone" in sam.text
    sam.press("London")
    sam.send("x" * 61)
    assert "up to 60 characters" in sam.text
    sam.press("Skip")
    assert _person(session_factory, sam).timezone == "Europe/London"


def test_rerunning_start_offers_keep_buttons_and_updates_answers(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    add_school(session_factory, clock.now, school="Hillside", cohort="Year 12", code="HILL-12")
    ada = Chat(core, "ada", name="Ada")
    onboard(ada, grade="11", under_18=True, tags=("Technology & IT",), zone="London")
    ada.send("/start")
    assert "You're all set up, Ada" in ada.text
    ada.press("Change my answers")
    assert "What's your first name?" in ada.text
    ada.press("I'm Ada")
    ada.press("Keep A")
    ada.press("Keep Year 11")
    assert "Which grade" in ada.text
    ada.press("Keep grade 11")
    assert "Are you under 18?" in ada.text
    ada.press("Keep 16 or 17")
    # The current fields are already ticked; Done keeps them.
    assert ada.button("Technology").label == "✓ Technology & IT"
    ada.press("Done (1 chosen)")
    ada.press("Keep Europe/London")
    ada.press("Skip")
    assert "Your answers are updated." in ada.text
    person = _person(session_factory, ada)
    assert (person.cohort_id, person.grade, person.under_18) == (school, 11, True)
    assert (person.timezone, person.tag_names) == ("Europe/London", ["technology"])

    ada.send("/start")
    ada.press("Change my answers")
    ada.send("Ada King")
    ada.press("King")
    ada.send("HILL-12")
    ada.send("12")
    ada.press("No, I'm 18 or over")
    ada.press("✓ Technology & IT")
    ada.press("Science & research")
    ada.press("Done")
    ada.press("Chicago")
    ada.press("Remote only")
    assert "Your answers are updated." in ada.text
    assert _person(session_factory, ada).wants_remote is True
    assert "Year 12 (Hillside), grade 12" in ada.text
    person = _person(session_factory, ada)
    assert (person.name, person.family_name, person.grade) == ("Ada", "King", 12)
    assert person.under_18 is False
    assert (person.timezone, person.tag_names) == ("America/Chicago", ["science"])
    assert person.cohort_id != school
    # Changing answers is not a new role: one audit row, from the first time.
    assert len(_audits(session_factory, "role_granted")) == 1


def test_a_half_finished_rerun_changes_nothing(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    ada = Chat(core, "ada", name="Ada")
    onboard(ada, grade="11")
    ada.send("/start")
    ada.press("Change my answers")
    ada.send("Someone Else")
    ada.send("/cancel")
    person = _person(session_factory, ada)
    assert (person.name, person.grade) == ("Ada", 11)


def test_a_guest_cannot_browse(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    guest = Chat(core, "guest")
    guest.send("/browse")
    assert "You haven't joined yet. Send /start" in guest.text
    guest.send("/mine")
    assert "You haven't joined yet" in guest.text
    assert _person(session_factory, guest).role is None


@pytest.mark.parametrize("command", ["/start river-11", "/join RIVER-11"])
def test_start_or_join_with_a_class_code_skips_the_code_question(
    core: Core, session_factory: sessionmaker[Session], school: int, command: str
) -> None:
    sam = Chat(core, "sam")
    sam.send(command)
    assert "joining Year 11" in sam.text
    assert "What's your first name?" in sam.text
    sam.send("Sam")
    sam.send("Patel")
    assert "Which grade" in sam.text
    for text in ("8", "17"):
        sam.send(text)
    sam.press("Skip")
    sam.press("Dublin")
    sam.press("Skip")
    person = _person(session_factory, sam)
    assert (person.role, person.cohort_id) == (Role.STUDENT, school)


@pytest.mark.parametrize("command", ["/start NOPE-1", "/join NOPE-1", "/start ??"])
def test_a_wrong_code_is_refused_and_nothing_is_stored(
    core: Core, session_factory: sessionmaker[Session], school: int, command: str
) -> None:
    before = row_counts(session_factory)
    sam = Chat(core, "sam")
    sam.send(command)
    assert "code" in sam.text
    assert "What's your first name?" not in sam.text
    assert row_counts(session_factory) == before


def _invite_code(text: str) -> str:
    match = re.search(r"/join ([A-Z0-9-]+)", text)
    assert match, text
    return match.group(1)


def test_teacher_invites_an_employer_who_joins_their_organisation(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    teacher = Chat(core, "tess", name="Tess Teacher")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    assert _person(session_factory, teacher).role == Role.TEACHER

    teacher.send("/invite employer   Acme   Robotics ")
    assert "someone at Acme Robotics" in teacher.text
    code = _invite_code(teacher.text)

    maya = Chat(core, "maya", name="Maya")
    maya.send(f"/join {code.lower()}")
    assert "You're now set up as an employer for Acme Robotics" in maya.text
    maya.send("/start")
    assert maya.text.startswith("You're set up as an employer, Maya.")
    person = _person(session_factory, maya)
    assert person.role == Role.EMPLOYER
    assert person.name == "Maya"
    teacher_id = person_id(session_factory, teacher)
    with session_factory() as session:
        invite = session.scalars(select(InviteCode).where(InviteCode.code == code)).one()
        assert invite.uses == 1
        assert invite.created_by_id == teacher_id
        assert invite.organisation is not None
        assert person.organisation_id == invite.organisation_id
        assert invite.organisation.name == "Acme Robotics"
    grants = {a.subject_id: a.detail for a in _audits(session_factory, "role_granted")}
    assert grants[person.id] == {"role": "employer", "via": "invite", "invite_id": invite.id}
    assert grants[teacher_id]["role"] == "teacher"

    teacher.send("/invite teacher")
    assert "a teacher" in teacher.text
    colleague = Chat(core, "colin")
    colleague.send(f"/join {_invite_code(teacher.text)}")
    assert _person(session_factory, colleague).role == Role.TEACHER


def test_invite_needs_to_say_for_whom(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    before = row_counts(session_factory)
    for text in ("/invite", "/invite employer", "/invite admin", "/invite student"):
        teacher.send(text)
        assert "Say who it's for" in teacher.text
    teacher.send("/invite employer " + "A" * 201)
    assert "under 200 characters" in teacher.text
    after = row_counts(session_factory)
    assert after["invite_codes"] == before["invite_codes"]
    assert after["organisations"] == before["organisations"]


def _teacher_code(session_factory: sessionmaker[Session], clock: FakeClock, core: Core) -> str:
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    teacher.send("/invite teacher")
    return _invite_code(teacher.text)


def test_a_used_code_is_refused(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    code = _teacher_code(session_factory, clock, core)
    Chat(core, "first").send(f"/join {code}")
    second = Chat(core, "second")
    second.send(f"/join {code}")
    assert "already been used" in second.text
    assert person_id(session_factory, second) is None


def test_an_expired_code_is_refused(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    code = _teacher_code(session_factory, clock, core)
    clock.advance(days=15)
    late = Chat(core, "late")
    late.send(f"/join {code}")
    assert "expired" in late.text
    assert person_id(session_factory, late) is None


def test_a_revoked_code_is_refused(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    code = _teacher_code(session_factory, clock, core)
    with session_factory.begin() as session:
        invite = session.scalars(select(InviteCode).where(InviteCode.code == code)).one()
        invite.revoked_at = clock.now
    chat = Chat(core, "someone")
    chat.send(f"/join {code}")
    assert "expired" in chat.text
    with session_factory() as session:
        assert session.scalars(select(InviteCode).where(InviteCode.code == code)).one().uses == 0


def test_a_student_cannot_invite(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    ada = Chat(core, "ada")
    onboard(ada)
    before = row_counts(session_factory)
    ada.send("/invite teacher")
    assert "only for admins or teachers" in ada.text
    assert row_counts(session_factory)["invite_codes"] == before["invite_codes"]


def test_someone_with_a_role_cannot_take_another(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    code = _teacher_code(session_factory, clock, core)
    ada = Chat(core, "ada")
    onboard(ada)
    ada.send(f"/join {code}")
    assert "You're already set up as a student" in ada.text
    assert _person(session_factory, ada).role == Role.STUDENT
    with session_factory() as session:
        assert session.scalars(select(InviteCode).where(InviteCode.code == code)).one().uses == 0
    # Nor can a teacher re-join as a student of a class.
    teacher = Chat(core, "tess")
    teacher.send("/join RIVER-11")
    assert "doesn't match anything" in teacher.text
    assert _person(session_factory, teacher).role == Role.TEACHER


def test_joining_with_an_invite_ends_an_unfinished_student_onboarding(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    code = _teacher_code(session_factory, clock, core)
    colin = Chat(core, "colin")
    colin.send("/start")
    colin.send("Colin")
    colin.send(f"/join {code}")
    assert "You're now set up as a teacher" in colin.text
    assert _step(session_factory, colin) is None
    colin.send("hello")
    assert "class join code" not in colin.text
    assert "doesn't match" not in colin.text
    person = _person(session_factory, colin)
    assert (person.role, person.cohort_id) == (Role.TEACHER, None)


def test_an_abandoned_change_of_answers_does_not_swallow_later_text(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    add_opportunity(session_factory, clock.now, title="Robot builder")
    ada = Chat(core, "ada", name="Ada")
    onboard(ada)
    ada.send("/start")
    ada.press("Change my answers")
    ada.send("/browse")
    ada.send("robot")
    assert '1 open opportunity for "robot"' in ada.text
    assert _step(session_factory, ada) is None
    assert _person(session_factory, ada).name == "Ada"
    ada.send("/start")
    assert "You're all set up, Ada" in ada.text


def test_yes_to_under_18_asks_which_band(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam")
    for text in ("/start", "Sam", "Patel", "RIVER-11", "11", "yes"):
        sam.send(text)
    assert sam.text.startswith("Are you under 16, or 16 or 17?")
    assert "Yes, under 16" in [b.label for b in sam.buttons]
    sam.send("15")
    assert _step(session_factory, sam) == "tags"


def test_onboarding_asks_for_the_family_name_or_its_initial(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    sam = Chat(core, "sam", name="Sam")
    sam.send("/start")
    sam.send("Sam")
    assert "And your family name? Just its first letter is fine" in sam.text
    assert sam.buttons == []  # nothing to suggest: the display name has no family name
    assert _step(session_factory, sam) == "family"
    sam.send("p.")
    assert "class join code" in sam.text
    for text in ("RIVER-11", "11", "15", "skip", "London", "skip"):
        sam.send(text)
    person = _person(session_factory, sam)
    assert (person.name, person.family_name) == ("Sam", "P")
    sam.send("/mydata")
    assert "Name: Sam\nFamily name: P\n" in sam.text


def test_a_student_from_before_the_question_is_asked_at_the_next_start(
    core: Core, session_factory: sessionmaker[Session], school: int
) -> None:
    ada = Chat(core, "ada", name="Ada")
    onboard(ada, family="Lovelace")
    pid = person_id(session_factory, ada)
    with session_factory.begin() as session:
        person = session.get(Person, pid)
        assert person is not None
        # As stored before the question: the whole name in one field, no family name.
        person.name, person.family_name = "Ada Lovelace", None
    ada.send("/start")
    assert "One thing I don't know yet: your family name." in ada.text
    assert _step(session_factory, ada) == "family"
    ada.press("Lovelace")
    assert "Your answers are updated." in ada.text
    person = _person(session_factory, ada)
    assert (person.name, person.family_name, person.grade) == ("Ada", "Lovelace", 11)
    assert person.tag_names == ["technology"]
    ada.send("/start")
    assert "You're all set up, Ada" in ada.text
