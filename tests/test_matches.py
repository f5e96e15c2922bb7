"""Employers answer match notifications; the conversation is relayed both ways."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Timing
from handlers.applications.matches import nudge_unanswered
from handlers.messaging.reminders import queue_due_reminders
from storage.db import make_engine, make_session_factory
from storage.models import (
    Account,
    Interest,
    InterestMessage,
    InterestStatus,
    OutboxMessage,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
)
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
    row_counts,
)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    opportunity: int
    ada: Chat  # under 18, no guardian's consent on file
    bob: Chat  # 18 or over
    maya: Chat  # Acme Ltd
    raj: Chat  # Acme Ltd
    olga: Chat  # Other Org
    tina: Chat  # teacher at Riverside High

    def interest(self) -> Interest:
        with self.factory() as session:
            return session.scalars(select(Interest)).one()

    def messages(self) -> list[tuple[Role, str, str]]:
        with self.factory() as session:
            rows = session.scalars(select(InterestMessage).order_by(InterestMessage.id))
            return [(m.from_role, m.kind, m.text) for m in rows]


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(
        session_factory,
        clock.now,
        title="Software intern",
        deadline=clock.now.date() + timedelta(days=7),
    )
    add_opportunity(session_factory, clock.now, title="Elsewhere", organisation="Other Org")
    maya, raj = Chat(core, "maya", name="Maya Jones"), Chat(core, "raj", name="Raj")
    for employer in (maya, raj):
        make_employer(session_factory, clock.now, employer, "Acme Ltd")
    olga = Chat(core, "olga", name="Olga")
    make_employer(session_factory, clock.now, olga, "Other Org")
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    ada = Chat(core, "ada", name="Ada")
    onboard(ada, under_18=True)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    return World(core, session_factory, clock, opportunity, ada, bob, maya, raj, olga, tina)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def counts(world: World) -> dict[str, int]:
    """Rows per table, but for the record of handled events (a refusal is handled too)."""
    return {k: v for k, v in row_counts(world.factory).items() if k != "processed_events"}


def register(world: World, chat: Chat, note: str | None = None) -> int:
    chat.press_payload(f"int:{world.opportunity}")
    if note is None:
        chat.press("Send without a note")
    else:
        chat.send(note)
    assert "Done!" in chat.text, chat.text
    return world.interest().id


def answer(world: World, employer: Chat, label: str, text: str | None = None) -> None:
    """Press ``label`` on the employer's latest notification, then type ``text``."""
    _, buttons = last_message(world.factory, employer)
    employer.press_payload(next(b.payload for b in buttons if b.label == label))
    if text is not None:
        employer.send(text)


def test_the_match_notification_offers_invite_ask_and_decline(world: World) -> None:
    iid = register(world, world.bob, "I build robots")
    for employer in (world.maya, world.raj):
        text, buttons = last_message(world.factory, employer, "match")
        assert text.startswith("Bob (Year 11, Riverside High) is interested in Software intern.")
        assert [(b.label, b.payload) for b in buttons] == [
            ("Invite", f"em:{iid}:inv"),
            ("Ask a question", f"em:{iid}:ask"),
            ("Decline", f"em:{iid}:dec"),
        ]
    interest = world.interest()
    assert interest.details_shared_at == world.clock.now
    assert interest.employer_replied_at is None
    assert interest.nudged_at is None
    assert inbox(world.factory, world.olga) == []
    assert inbox(world.factory, world.tina) == []


def test_invite_reaches_the_student_and_the_reply_reaches_every_member(world: World) -> None:
    register(world, world.bob)
    world.clock.advance(hours=3)
    answer(world, world.maya, "Invite")
    assert "Type your invitation for Bob" in world.maya.text
    world.maya.send("Interview on Tuesday 10:00 at our office?")
    assert world.maya.text == (
        "Invitation sent to Bob. I read the time as Tue 24 Nov at 10:00 and will remind Bob "
        "before it. Their reply will come here."
    )
    assert [b.label for b in world.maya.buttons] == ["Message", "Mark as placed", "Decline"]

    interest = world.interest()
    assert interest.status == InterestStatus.INVITED
    assert interest.employer_replied_at == world.clock.now
    text, buttons = last_message(world.factory, world.bob)
    assert text == (
        "Acme Ltd invited you for Software intern: Interview on Tuesday 10:00 at our office?"
        "\n\nI'll remind you before it (Tue 24 Nov at 10:00)."
    )
    assert [(b.label, b.payload) for b in buttons] == [("Reply", f"sr:{interest.id}")]
    # The colleague sees what was said, so that nobody answers twice.
    copy, copy_buttons = last_message(world.factory, world.raj)
    assert copy == "Maya invited Bob for Software intern: Interview on Tuesday 10:00 at our office?"
    assert [b.label for b in copy_buttons] == ["Message", "Mark as placed", "Decline"]
    assert len(inbox(world.factory, world.maya, "relay")) == 0

    world.bob.press_payload(f"sr:{interest.id}")
    assert "Type your reply to Acme Ltd about Software intern" in world.bob.text
    world.bob.send("Yes, Tuesday works. Thank you!")
    assert "Sent to Acme Ltd. Their answer will come here." in world.bob.text
    for employer in (world.maya, world.raj):
        text, buttons = last_message(world.factory, employer)
        assert text == "Bob replies about Software intern: Yes, Tuesday works. Thank you!"
        assert [b.label for b in buttons] == ["Message", "Mark as placed", "Decline"]

    world.clock.advance(hours=1)
    answer(world, world.raj, "Message", "Great, see you then. Bring your robot.")
    assert last_message(world.factory, world.bob)[0] == (
        "Acme Ltd writes about Software intern: Great, see you then. Bring your robot."
    )
    # The first answer's time stays: it is what the nudge looks at.
    assert world.interest().employer_replied_at == world.clock.now - timedelta(hours=1)
    assert world.messages() == [
        (Role.EMPLOYER, "invite", "Interview on Tuesday 10:00 at our office?"),
        (Role.STUDENT, "reply", "Yes, Tuesday works. Thank you!"),
        (Role.EMPLOYER, "message", "Great, see you then. Bring your robot."),
    ]


def event_reminders(world: World) -> list[tuple[datetime, datetime | None, ReminderStatus]]:
    with world.factory() as session:
        rows = session.scalars(
            select(Reminder).where(Reminder.kind == ReminderKind.EVENT).order_by(Reminder.due_at)
        )
        return [(r.due_at, r.event_at, r.status) for r in rows]


def test_an_invitation_with_a_date_and_time_sets_the_students_event_reminders(
    world: World,
) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Invite", "Shadowing day: 3 December, 9am sharp, at reception.")
    event = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert "I read the time as Thu 3 Dec at 09:00" in world.maya.text
    assert event_reminders(world) == [
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), event, ReminderStatus.PENDING),
        # An hour before would be 08:00, the end of quiet hours: still before the event.
        (datetime(2026, 12, 3, 8, 0, tzinfo=UTC), event, ReminderStatus.PENDING),
    ]
    world.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert queue_due_reminders(world.factory, world.clock.now, Timing()).queued == 1
    assert last_message(world.factory, world.bob, "reminder")[0] == (
        "Reminder: Invitation: Software intern — Acme Ltd, tomorrow at 09:00."
    )


@pytest.mark.parametrize(
    "invitation",
    ["Could you come in for a chat at 10:00?", "Monday 9am or Tuesday 2pm, whichever suits."],
)
def test_an_invitation_without_one_definite_moment_sets_no_reminders(
    world: World, invitation: str
) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Invite", invitation)
    assert world.maya.text == "Invitation sent to Bob. Their reply will come here."
    assert last_message(world.factory, world.bob)[0].endswith(invitation)
    assert event_reminders(world) == []


def test_ask_a_question_keeps_the_status(world: World) -> None:
    register(world, world.bob)
    answer(world, world.raj, "Ask a question", "Which languages do you code in?")
    assert world.raj.text == "Question sent to Bob. Their reply will come here."
    assert last_message(world.factory, world.bob)[0] == (
        "Acme Ltd has a question about Software intern: Which languages do you code in?"
    )
    assert world.interest().status == InterestStatus.INTERESTED
    assert last_message(world.factory, world.maya)[0] == (
        "Raj asked Bob about Software intern: Which languages do you code in?"
    )


def test_decline_with_a_kind_word(world: World) -> None:
    iid = register(world, world.bob)
    answer(world, world.maya, "Decline")
    assert "Would you like to add a kind word for Bob?" in world.maya.text
    world.maya.send("We were impressed; please apply again next year!")
    assert world.maya.text == "Declined. I've let Bob know kindly."
    assert world.interest().status == InterestStatus.DECLINED
    text, buttons = last_message(world.factory, world.bob)
    assert text == (
        "Thank you for your interest in Software intern. Acme Ltd can't offer you a place "
        "this time.\nThey said: We were impressed; please apply again next year!\n"
        "Don't be discouraged: there's plenty more to find with /browse."
    )
    assert buttons == []
    # The conversation is over: neither side can go on.
    world.bob.press_payload(f"sr:{iid}")
    assert "That application is closed now" in world.bob.text
    world.raj.press_payload(f"em:{iid}:inv")
    assert world.raj.text == "You've already declined this application."
    assert world.interest().status == InterestStatus.DECLINED


def test_decline_without_a_message(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Decline")
    world.maya.press("Decline without a message")
    assert world.maya.replies[0].replace
    text, _ = last_message(world.factory, world.bob)
    assert "They said" not in text
    assert "can't offer you a place this time" in text
    assert world.messages() == [(Role.EMPLOYER, "decline", "")]
    assert last_message(world.factory, world.raj)[0] == "Maya declined Bob for Software intern."


def test_mark_as_placed_after_an_invitation(world: World) -> None:
    iid = register(world, world.bob)
    world.maya.press_payload(f"em:{iid}:pl")
    assert "Please invite the student first" in world.maya.text
    assert world.interest().status == InterestStatus.INTERESTED
    answer(world, world.maya, "Invite", "Come on Monday")
    world.maya.press("Mark as placed")
    assert world.maya.text.startswith(
        "Marked Bob as placed for Software intern. I've told them the good news."
    )
    assert "Supervisor: Maya Jones" in world.maya.text
    assert world.interest().status == InterestStatus.PLACED
    text, buttons = last_message(world.factory, world.bob)
    assert text == (
        "Great news: Acme Ltd confirmed your place for Software intern. Well done! "
        "Log your hours as you go with /hours, for example /hours today 3h."
    )
    assert [b.label for b in buttons] == ["Reply"]
    world.bob.send("/mine")
    assert "Placed. You have a place. Well done!" in world.bob.text
    world.raj.press_payload(f"em:{iid}:dec")
    assert "This student already has a place" in world.raj.text


def test_a_student_pressing_an_employer_button_is_refused(world: World) -> None:
    iid = register(world, world.bob)
    before = counts(world)
    for verb in ("inv", "ask", "dec", "decn", "pl"):
        world.bob.press_payload(f"em:{iid}:{verb}")
        assert "Sorry, that is only for employers" in world.bob.text
    assert counts(world) == before
    assert world.interest().status == InterestStatus.INTERESTED


def test_a_member_of_another_organisation_is_refused(world: World) -> None:
    iid = register(world, world.bob)
    before = counts(world)
    for verb in ("inv", "ask", "dec", "decn"):
        world.olga.press_payload(f"em:{iid}:{verb}")
        assert world.olga.text == "Sorry, that application is for another organisation."
    world.olga.send("Sneaky invitation")
    assert "Bob" not in world.olga.text
    assert counts(world) == before
    assert world.interest().status == InterestStatus.INTERESTED


def test_answering_after_the_student_withdrew(world: World) -> None:
    iid = register(world, world.bob)
    answer(world, world.maya, "Invite")
    world.bob.press_payload(f"wdy:{iid}")
    before = counts(world)
    world.maya.send("Tuesday at 10?")
    assert world.maya.text == (
        "The student has withdrawn their interest in Software intern, so there's nothing to answer."
    )
    world.raj.press_payload(f"em:{iid}:ask")
    assert "The student has withdrawn" in world.raj.text
    assert counts(world) == before


def test_answering_after_the_student_deleted_their_data(world: World) -> None:
    iid = register(world, world.bob)
    world.bob.send("/forget")
    world.bob.press("Yes, delete everything")
    world.maya.press_payload(f"em:{iid}:inv")
    assert "The student has withdrawn" in world.maya.text


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("em:999999:inv", "That application no longer exists."),
        ("em:abc:inv", "That button doesn't work any more"),
        ("em:1:zzz", "That button doesn't work any more"),
        ("em", "That button doesn't work any more"),
        ("em:1:inv:extra", "That button doesn't work any more"),
    ],
)
def test_forged_employer_buttons_are_refused(world: World, payload: str, expected: str) -> None:
    register(world, world.bob)
    before = counts(world)
    world.maya.press_payload(payload)
    assert expected in world.maya.text
    assert counts(world) == before


def test_a_student_cannot_write_first_or_reply_for_someone_else(world: World) -> None:
    iid = register(world, world.bob)
    world.bob.press_payload(f"sr:{iid}")
    assert world.bob.text == "You can reply once the employer has written to you."
    answer(world, world.maya, "Ask a question", "Why us?")
    world.ada.press_payload(f"sr:{iid}")
    assert "I can't find that application" in world.ada.text
    world.maya.press_payload(f"sr:{iid}")
    assert "Sorry, that is only for students" in world.maya.text


def test_an_overlong_message_is_refused_and_can_be_retyped(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Invite", "x" * 1001)
    assert "That's 1001 characters; please keep it under 1000" in world.maya.text
    assert world.interest().status == InterestStatus.INTERESTED
    assert inbox(world.factory, world.bob) == []
    world.maya.send("Monday at 9")
    assert world.interest().status == InterestStatus.INVITED


def test_cancelling_an_answer_sends_nothing(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Invite")
    world.maya.press("Cancel")
    assert world.maya.text == "OK, nothing sent."
    world.maya.send("Monday at 9")
    assert "I'm not sure what you mean" in world.maya.text
    assert world.interest().status == InterestStatus.INTERESTED
    assert world.messages() == []


def test_registering_again_waits_for_a_fresh_answer(world: World) -> None:
    iid = register(world, world.bob)
    answer(world, world.maya, "Ask a question", "Why us?")
    assert world.interest().employer_replied_at is not None
    world.bob.press_payload(f"wdy:{iid}")
    world.clock.advance(days=1)
    register(world, world.bob)
    interest = world.interest()
    assert (interest.status, interest.employer_replied_at) == (InterestStatus.INTERESTED, None)


def test_a_minor_without_consent_gets_no_buttons_and_the_teacher_follows_up(
    world: World,
) -> None:
    iid = register(world, world.ada, "I'm Ada from Year 11")
    for employer in (world.maya, world.raj):
        text, buttons = last_message(world.factory, employer, "match")
        assert text == (
            "A student is interested in Software intern. Their school will share their "
            "details once a guardian's consent is on file."
        )
        assert buttons == []
    assert world.interest().details_shared_at is None
    text, buttons = last_message(world.factory, world.tina)
    assert text == (
        "Ada A. (Year 11) registered interest in Software intern — Acme Ltd. A guardian's consent "
        "isn't on file, so Acme Ltd only knows that a student is interested. Please follow up: "
        "once consent is on file, I'll send Acme Ltd Ada's details."
    )
    assert [b.label for b in buttons] == ["Consent on file"]
    # A button made up by the employer changes nothing.
    before = counts(world)
    world.maya.press_payload(f"em:{iid}:inv")
    assert "the school is waiting for a guardian's consent" in world.maya.text
    assert counts(world) == before
    assert inbox(world.factory, world.ada) == []


def test_forgetting_deletes_the_conversation_but_not_what_happened(world: World) -> None:
    iid = register(world, world.bob)
    answer(world, world.maya, "Invite", "Come on Monday, Bob")
    world.bob.press_payload(f"sr:{iid}")
    world.bob.send("Because of your robots.")
    assert len(world.messages()) == 2
    world.bob.send("/forget")
    world.bob.press("Yes, delete everything")
    # The partnership report still counts the invitation; nothing says who it was for.
    assert world.messages() == [(Role.EMPLOYER, "invite", ""), (Role.STUDENT, "reply", "")]
    with world.factory() as session:
        senders = select(InterestMessage.from_person_id).order_by(InterestMessage.id)
        assert session.scalars(senders).all()[1] is None
    assert world.interest().person_id is None


# --- nudges ---------------------------------------------------------------------------------

NUDGE_AFTER = timedelta(days=3)


def nudge(world: World) -> int:
    return nudge_unanswered(world.factory, world.clock.now, Timing(), after=NUDGE_AFTER)


def nudges(world: World, employer: Chat) -> list[tuple[str, list[str]]]:
    return [(t, [b.label for b in bs]) for t, bs in inbox(world.factory, employer, "nudge")]


def test_an_unanswered_match_earns_every_member_one_nudge(world: World) -> None:
    iid = register(world, world.bob, "I build robots")
    world.clock.advance(days=3, seconds=-1)
    assert nudge(world) == 0
    world.clock.advance(seconds=1)
    assert nudge(world) == 1
    for employer in (world.maya, world.raj):
        text, buttons = last_message(world.factory, employer, "nudge")
        assert text == (
            "A friendly reminder: this student is still waiting to hear from you.\n\n"
            "Bob (Year 11, Riverside High) is interested in Software intern.\n"
            "Interested in: Technology & IT\n"
            "Their note: I build robots"
        )
        assert [b.payload for b in buttons] == [f"em:{iid}:inv", f"em:{iid}:ask", f"em:{iid}:dec"]
    assert world.interest().nudged_at == world.clock.now
    assert inbox(world.factory, world.olga) == []
    # Each member's nudge goes in the thread of the notification it reminds them of.
    with world.factory() as session:
        roots = dict(
            session.execute(
                select(OutboxMessage.account_id, OutboxMessage.idempotency_key).where(
                    OutboxMessage.kind == "match"
                )
            ).all()
        )
        threads = dict(
            session.execute(
                select(OutboxMessage.account_id, OutboxMessage.thread_of).where(
                    OutboxMessage.kind == "nudge"
                )
            ).all()
        )
    assert len(roots) == 2 and threads == roots
    # One nudge per match, however often the job runs.
    world.clock.advance(days=5)
    assert nudge(world) == 0
    assert len(nudges(world, world.maya)) == 1


def test_answered_withdrawn_and_anonymous_matches_are_not_nudged(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Ask a question", "Why us?")
    world.clock.advance(hours=1)
    other = add_opportunity(world.factory, world.clock.now, title="Robot lab tour")
    world.bob.press_payload(f"int:{other}")
    world.bob.press("Send without a note")
    world.bob.send("/mine")
    assert "1. Robot lab tour" in world.bob.text
    world.bob.press("Withdraw 1")
    world.bob.press("Yes, withdraw")
    # Ada is under 18 without consent: the employer cannot answer, the school follows up.
    world.ada.press_payload(f"int:{world.opportunity}")
    world.ada.press("Send without a note")
    world.clock.advance(days=10)
    assert nudge(world) == 0
    assert nudges(world, world.maya) == []


def test_the_wait_starts_when_consent_lets_the_employer_answer(world: World) -> None:
    register(world, world.ada)
    world.clock.advance(days=2)
    world.tina.press_payload(last_message(world.factory, world.tina)[1][0].payload)
    world.clock.advance(days=2)
    assert nudge(world) == 0
    world.clock.advance(days=1)
    assert nudge(world) == 1
    assert nudges(world, world.maya)[0][0].endswith(
        "Ada (Year 11, Riverside High) is interested "
        "in Software intern.\nInterested in: "
        "Technology & IT"
    )


def test_a_renewed_interest_earns_a_fresh_nudge(world: World) -> None:
    register(world, world.bob)
    world.clock.advance(days=3)
    assert nudge(world) == 1
    world.bob.send("/mine")
    world.bob.press("Withdraw 1")
    world.bob.press("Yes, withdraw")
    register(world, world.bob)
    # The employer's reply time (for the partnership report) runs from the renewed notice.
    assert world.interest().details_shared_at == world.clock.now
    world.clock.advance(days=2)
    assert nudge(world) == 0
    world.clock.advance(days=1)
    assert nudge(world) == 1
    assert len(nudges(world, world.maya)) == 2


def test_a_nudge_keeps_the_employers_quiet_hours(world: World) -> None:
    register(world, world.bob)  # Monday 15:00 in London
    world.clock.now = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    assert nudge(world) == 1
    with world.factory() as session:
        times = session.scalars(
            select(OutboxMessage.next_attempt_at).where(OutboxMessage.kind == "nudge")
        ).all()
    assert times == [datetime(2026, 11, 27, 8, 0, tzinfo=UTC)] * 2


def test_two_workers_nudge_each_match_once(db_url: str, world: World) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; SQLite supports one process")
    students = [world.bob]
    for n in range(20):
        student = Chat(world.core, f"s{n}", name=f"Student {chr(ord('A') + n)}")
        onboard(student, under_18=False)
        students.append(student)
    for student in students:
        student.press_payload(f"int:{world.opportunity}")
        student.press("Send without a note")
    world.clock.advance(days=4)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            factory = make_session_factory(engine)
            results.append(
                nudge_unanswered(factory, world.clock.now, Timing(), after=NUDGE_AFTER, batch=4)
            )
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == len(students)
    with world.factory() as session:
        per_member = session.execute(
            select(Account.external_id, OutboxMessage.idempotency_key)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(OutboxMessage.kind == "nudge")
        ).all()
    assert sorted(user for user, _ in per_member) == ["maya"] * 21 + ["raj"] * 21
    assert len({key for _, key in per_member}) == 42


def test_an_employer_lists_applications_and_answers_a_missed_one(world: World) -> None:
    world.maya.send("/matches")
    assert "No applications yet" in world.maya.text
    iid = register(world, world.bob, "I build robots")
    world.ada.press_payload(f"int:{world.opportunity}")
    world.ada.press("Send without a note")
    world.maya.send("/matches")
    assert world.maya.text == (
        "Applications to your opportunities, newest first:\n"
        "• A student, Software intern: waiting for a guardian's consent\n"
        f"• #{iid} Bob, Software intern: waiting for your answer\n"
        "Tap a number to answer."
    )
    assert [b.label for b in world.maya.buttons] == [f"#{iid}"]
    world.maya.press(f"#{iid}")
    assert world.maya.text == (
        "Bob (Year 11, Riverside High) is interested in Software intern.\n"
        "Interested in: Technology & IT\nTheir note: I build robots\n"
        "Status: waiting for your answer."
    )
    world.maya.press("Invite")
    world.maya.send("Come on Monday")
    with world.factory() as session:
        assert session.get(Interest, iid).status == InterestStatus.INVITED  # type: ignore[union-attr]
    # Another organisation sees none of it, and cannot open it.
    world.olga.send("/candidates")
    assert "No applications yet" in world.olga.text
    world.olga.press_payload(f"emo:{iid}")
    assert "another organisation" in world.olga.text
    world.bob.press_payload(f"emo:{iid}")
    assert "Sorry, that is only for employers" in world.bob.text


def test_matches_leaves_out_declined_applications(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Decline")
    world.maya.press("Decline without a message")
    world.maya.send("/matches")
    assert "No applications yet" in world.maya.text


def test_a_stale_cancel_tells_the_truth_and_a_repeated_invite_is_answered(world: World) -> None:
    iid = register(world, world.bob)
    _, notification = last_message(world.factory, world.maya, "match")
    invite = next(b.payload for b in notification if b.label == "Invite")
    world.maya.press_payload(invite)
    cancel = world.maya.button("Cancel").payload
    world.clock.advance(minutes=1)
    world.maya.send("Come in on Monday?")
    assert world.maya.text.startswith("Invitation sent to Bob.")
    before = counts(world)

    # The prompt's Cancel, pressed after the invitation went, says so and changes nothing.
    world.maya.press_payload(cancel)
    assert world.maya.text == "Your invitation was already sent, so there's nothing to cancel."
    assert world.maya.replies[0].replace
    # Invite again (from the first notification): an answer, never a second invitation.
    for _ in range(2):
        world.maya.press_payload(invite)
        assert world.maya.text == (
            "You've already invited Bob. To add or change details, send them a message."
        )
        assert [b.label for b in world.maya.buttons] == ["Message", "Mark as placed", "Decline"]
    # Nor when a colleague had the invitation prompt open already.
    assert counts(world) == before
    assert world.interest().status == InterestStatus.INVITED
    assert [kind for _, kind, _ in world.messages()] == ["invite"]

    # The student's Reply prompt: a stale Cancel after the reply went, a fresh one before.
    world.bob.press_payload(f"sr:{iid}")
    stale = world.bob.button("Cancel").payload
    world.bob.send("Monday works.")
    world.bob.press_payload(stale)
    assert world.bob.text == "Your reply was already sent, so there's nothing to cancel."
    world.clock.advance(minutes=1)
    world.bob.press_payload(f"sr:{iid}")
    world.bob.press("Cancel")
    assert world.bob.text == "OK, nothing sent."
    assert [kind for _, kind, _ in world.messages()] == ["invite", "reply"]


def test_an_invitation_typed_by_a_colleague_first_is_not_sent_twice(world: World) -> None:
    register(world, world.bob)
    answer(world, world.maya, "Invite")
    answer(world, world.raj, "Invite")
    world.maya.send("Monday 10:00?")
    world.raj.send("Tuesday 10:00?")
    assert world.raj.text.startswith("You've already invited Bob.")
    assert [text for _, _, text in world.messages()] == ["Monday 10:00?"]
