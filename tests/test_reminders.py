"""Reminders: deadlines, events and the student's own; queued on time, once, never at night."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Timing
from handlers import build_registry
from handlers.messaging.reminders import (
    Queued,
    Reconciled,
    queue_due_reminders,
    reconcile_all,
    schedule_event_reminders,
)
from storage.db import make_engine, make_session_factory, transaction
from storage.models import (
    Account,
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityStatus,
    OutboxMessage,
    Person,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard, person_id, row_counts

TIMING = Timing()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    kind: ReminderKind
    due_at: datetime
    status: ReminderStatus


def reminders(factory: sessionmaker[Session], *statuses: ReminderStatus) -> list[Row]:
    with factory() as session:
        query = select(Reminder).order_by(Reminder.due_at, Reminder.id)
        if statuses:
            query = query.where(Reminder.status.in_(statuses))
        return [Row(r.kind, r.due_at, r.status) for r in session.scalars(query)]


def pending_times(factory: sessionmaker[Session]) -> list[datetime]:
    return [r.due_at for r in reminders(factory, ReminderStatus.PENDING)]


@dataclass(frozen=True)
class Sent:
    key: str
    text: str
    buttons: list[list[list[str]]] | None
    next_attempt_at: datetime


def outbox(factory: sessionmaker[Session], kind: str = "reminder") -> list[Sent]:
    with factory() as session:
        return [
            Sent(m.idempotency_key, m.text, m.buttons, m.next_attempt_at)
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        ]


def student(core: Core, factory: sessionmaker[Session], now: datetime, *, zone: str) -> Chat:
    add_school(factory, now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat, zone=zone, under_18=False)
    return chat


def _ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    return student(core, session_factory, clock.now, zone="London")


@pytest.fixture
def ada(snapshot: Snapshot) -> Chat:
    return snapshot(_ada)


@pytest.fixture
def opportunity(session_factory: sessionmaker[Session], clock: FakeClock) -> int:
    # The clock starts on Monday 23 November 2026, 15:00 UTC.
    return add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 10))


def save(chat: Chat, oid: int) -> None:
    chat.press_payload(f"sv:{oid}")
    assert "Saved." in chat.text, chat.text


def set_deadline(factory: sessionmaker[Session], oid: int, deadline: date | None) -> None:
    with transaction(factory) as session:
        session.execute(update(Opportunity).where(Opportunity.id == oid).values(deadline=deadline))


def set_status(factory: sessionmaker[Session], oid: int, status: OpportunityStatus) -> None:
    with transaction(factory) as session:
        session.execute(update(Opportunity).where(Opportunity.id == oid).values(status=status))


def queue(factory: sessionmaker[Session], clock: FakeClock, timing: Timing = TIMING) -> Queued:
    return queue_due_reminders(factory, clock.now, timing)


def reconcile(factory: sessionmaker[Session], clock: FakeClock) -> Reconciled:
    return reconcile_all(factory, clock.now, TIMING)


# --- deadline reminders ---------------------------------------------------------------------


def test_saving_sets_reminders_seven_days_and_one_day_before_at_nine_local(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session]
) -> None:
    save(ada, opportunity)
    # London is on GMT in December: 09:00 local is 09:00 UTC.
    assert reminders(session_factory) == [
        Row(ReminderKind.DEADLINE, utc(2026, 12, 3, 9, 0), ReminderStatus.PENDING),
        Row(ReminderKind.DEADLINE, utc(2026, 12, 9, 9, 0), ReminderStatus.PENDING),
    ]
    ada.send("/reminders")
    assert ada.text == (
        "Your reminders:\n"
        "1. Thu 3 Dec at 09:00: Apply for Software intern — Acme Ltd by 10 Dec 2026\n"
        "2. Wed 9 Dec at 09:00: Apply for Software intern — Acme Ltd by 10 Dec 2026"
    )


def test_nine_local_in_los_angeles_is_five_pm_utc(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, opportunity: int
) -> None:
    chat = student(core, session_factory, clock.now, zone="Los Angeles")
    save(chat, opportunity)
    assert pending_times(session_factory) == [utc(2026, 12, 3, 17, 0), utc(2026, 12, 9, 17, 0)]


def test_nine_local_follows_the_clocks_going_forward_in_london(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    # British Summer Time starts on Sunday 28 March 2027: 09:00 is 09:00 UTC before, 08:00 after.
    oid = add_opportunity(session_factory, clock.now, deadline=date(2027, 3, 30))
    save(ada, oid)
    assert pending_times(session_factory) == [utc(2027, 3, 23, 9, 0), utc(2027, 3, 29, 8, 0)]


def test_a_reminder_time_already_past_is_not_created(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    oid = add_opportunity(session_factory, clock.now, deadline=date(2026, 11, 26))
    save(ada, oid)
    assert pending_times(session_factory) == [utc(2026, 11, 25, 9, 0)]


def test_the_offsets_are_settings(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    timing = Timing(reminder_offsets_days=(14, 3, 0))
    core = Core(session_factory, build_registry(), clock=clock, timing=timing)
    chat = student(core, session_factory, clock.now, zone="London")
    oid = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 10))
    save(chat, oid)
    assert pending_times(session_factory) == [
        utc(2026, 11, 26, 9, 0),
        utc(2026, 12, 7, 9, 0),
        utc(2026, 12, 10, 9, 0),
    ]


def test_unsaving_removes_them_and_saving_again_brings_them_back(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session]
) -> None:
    save(ada, opportunity)
    ada.press("Unsave")
    assert reminders(session_factory) == []
    ada.press("Save")
    assert len(pending_times(session_factory)) == 2


def test_interest_sets_reminders_and_withdrawing_removes_them_even_if_saved(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session]
) -> None:
    ada.press_payload(f"int:{opportunity}")
    ada.press("Send without a note")
    assert "Done!" in ada.text, ada.text
    assert len(pending_times(session_factory)) == 2
    save(ada, opportunity)
    assert len(pending_times(session_factory)) == 2
    ada.send("/mine")
    ada.press("Withdraw 1")
    ada.press("Yes, withdraw")
    assert reminders(session_factory) == []


def test_a_moved_deadline_moves_its_reminders(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    set_deadline(session_factory, opportunity, date(2026, 12, 20))
    assert reconcile(session_factory, clock) == Reconciled(created=2, removed=2)
    assert pending_times(session_factory) == [utc(2026, 12, 13, 9, 0), utc(2026, 12, 19, 9, 0)]
    assert reconcile(session_factory, clock) == Reconciled()
    set_deadline(session_factory, opportunity, None)
    reconcile(session_factory, clock)
    assert reminders(session_factory) == []


def test_a_closed_opportunity_has_no_reminders_until_it_reopens(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    set_status(session_factory, opportunity, OpportunityStatus.CLOSED)
    reconcile(session_factory, clock)
    assert reminders(session_factory) == []
    set_status(session_factory, opportunity, OpportunityStatus.OPEN)
    reconcile(session_factory, clock)
    assert len(pending_times(session_factory)) == 2


def test_a_deadline_moved_since_the_last_reconciliation_is_not_reminded(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    set_deadline(session_factory, opportunity, date(2026, 12, 20))
    clock.now = utc(2026, 12, 3, 9, 0)
    assert queue(session_factory, clock) == Queued(cancelled=1)
    assert outbox(session_factory) == []


def test_a_reminder_the_student_cancelled_stays_cancelled(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    ada.send("/reminders")
    ada.press("Cancel 1")
    assert ada.replies[0].replace is True
    assert ada.text.startswith("Cancelled the reminder for Thu 3 Dec at 09:00.")
    reconcile(session_factory, clock)
    assert [r.status for r in reminders(session_factory)] == [
        ReminderStatus.CANCELLED,
        ReminderStatus.PENDING,
    ]


# --- queueing -------------------------------------------------------------------------------


def test_a_due_reminder_is_queued_once_with_a_button_to_the_opportunity(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    clock.now = utc(2026, 12, 3, 8, 59)
    assert queue(session_factory, clock) == Queued()
    clock.advance(minutes=1)
    assert queue(session_factory, clock) == Queued(queued=1)
    assert queue(session_factory, clock) == Queued()
    clock.advance(minutes=5)
    assert queue(session_factory, clock) == Queued()
    (message,) = outbox(session_factory)
    assert message.text == (
        "Reminder: applications for Software intern — Acme Ltd close in 7 days (10 Dec 2026)."
    )
    assert message.buttons == [[["View it", f"opp:{opportunity}"]]]
    assert message.next_attempt_at == utc(2026, 12, 3, 9, 0)
    assert message.key.startswith("reminder:deadline:")
    assert [r.status for r in reminders(session_factory)] == [
        ReminderStatus.QUEUED,
        ReminderStatus.PENDING,
    ]


def test_due_while_the_bot_was_down_is_sent_within_the_grace_period(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    clock.now = utc(2026, 12, 3, 9, 59)  # started 59 minutes late (grace: 60)
    assert queue(session_factory, clock) == Queued(queued=1)
    assert queue(session_factory, clock) == Queued()
    assert len(outbox(session_factory)) == 1


def test_due_long_before_the_bot_came_back_is_marked_missed(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    clock.now = utc(2026, 12, 9, 9, 30)  # the 7-day one is 6 days late, the 1-day one on time
    assert queue(session_factory, clock) == Queued(queued=1, missed=1)
    assert [r.status for r in reminders(session_factory)] == [
        ReminderStatus.MISSED,
        ReminderStatus.QUEUED,
    ]
    (message,) = outbox(session_factory)
    assert "close tomorrow (10 Dec 2026)" in message.text
    assert queue(session_factory, clock) == Queued()


@pytest.mark.slow
def test_the_grace_period_is_a_setting(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    save(ada, opportunity)
    clock.now = utc(2026, 12, 3, 9, 11)
    assert queue(session_factory, clock, Timing(grace=timedelta(minutes=10))) == Queued(missed=1)


def add_reminder(
    factory: sessionmaker[Session], chat: Chat, due: datetime, text: str = "Call Acme"
) -> None:
    with transaction(factory) as session:
        session.add(
            Reminder(
                person_id=person_id(factory, chat),
                kind=ReminderKind.CUSTOM,
                text=text,
                due_at=due,
                key=f"test:{due.isoformat()}:{text}",
                created_at=due - timedelta(days=1),
            )
        )


@pytest.mark.parametrize(
    ("zone", "due", "sent"),
    [
        # 22:30 in London (GMT) waits for 08:00 there.
        ("London", utc(2026, 11, 24, 22, 30), utc(2026, 11, 25, 8, 0)),
        # 22:30 in Los Angeles (PST) is 06:30 UTC; 08:00 there is 16:00 UTC.
        ("Los Angeles", utc(2026, 11, 25, 6, 30), utc(2026, 11, 25, 16, 0)),
        # 07:59 is still quiet; 08:00 is not.
        ("London", utc(2026, 11, 24, 7, 59), utc(2026, 11, 24, 8, 0)),
        ("London", utc(2026, 11, 24, 20, 59), utc(2026, 11, 24, 20, 59)),
    ],
)
def test_a_reminder_due_in_quiet_hours_goes_out_when_they_end(
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    zone: str,
    due: datetime,
    sent: datetime,
) -> None:
    chat = student(core, session_factory, clock.now, zone=zone)
    add_reminder(session_factory, chat, due)
    clock.now = due
    assert queue(session_factory, clock) == Queued(queued=1)
    (message,) = outbox(session_factory)
    assert message.text == "Reminder: Call Acme"
    assert message.next_attempt_at == sent


def test_someone_who_cannot_be_reached_misses_the_reminder(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_reminder(session_factory, ada, utc(2026, 11, 24, 12, 0))
    with transaction(session_factory) as session:
        session.execute(update(Account).values(unreachable_at=clock.now))
    clock.now = utc(2026, 11, 24, 12, 0)
    assert queue(session_factory, clock) == Queued(missed=1)
    assert outbox(session_factory) == []


def test_batches_cover_every_due_reminder(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    for n in range(7):
        add_reminder(session_factory, ada, utc(2026, 11, 24, 12, n), f"Task {n}")
    clock.now = utc(2026, 11, 24, 12, 30)
    assert queue_due_reminders(session_factory, clock.now, TIMING, batch=3) == Queued(queued=7)
    assert [m.text for m in outbox(session_factory)] == [f"Reminder: Task {n}" for n in range(7)]


def test_two_workers_racing_queue_each_reminder_exactly_once(
    db_url: str, ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; SQLite supports one process")
    pid = person_id(session_factory, ada)
    due = clock.now - timedelta(minutes=1)
    with transaction(session_factory) as session:
        session.execute(
            insert(Reminder),
            [
                {
                    "person_id": pid,
                    "kind": ReminderKind.CUSTOM,
                    "text": f"Task {n}",
                    "due_at": due,
                    "status": ReminderStatus.PENDING,
                    "key": f"race:{n}",
                    "created_at": due,
                }
                for n in range(500)
            ],
        )
    barrier = threading.Barrier(2)
    results: list[Queued] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            results.append(
                queue_due_reminders(make_session_factory(engine), clock.now, TIMING, batch=20)
            )
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.queued for r in results) == 500
    assert sum(r.missed + r.cancelled for r in results) == 0
    with session_factory() as session:
        keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
        statuses = session.scalars(select(Reminder.status).distinct()).all()
    assert sorted(keys) == sorted(f"race:{n}" for n in range(500))
    assert statuses == [ReminderStatus.QUEUED]


# --- event reminders ------------------------------------------------------------------------


def set_interest(
    factory: sessionmaker[Session], chat: Chat, oid: int, status: InterestStatus, now: datetime
) -> None:
    pid = person_id(factory, chat)
    with transaction(factory) as session:
        interest = session.scalar(
            select(Interest).where(Interest.person_id == pid, Interest.opportunity_id == oid)
        )
        if interest is None:
            interest = Interest(person_id=pid, opportunity_id=oid, created_at=now)
            session.add(interest)
        interest.status = status
        interest.updated_at = now


def _schedule(
    factory: sessionmaker[Session], chat: Chat, oid: int, event_at: datetime, now: datetime
) -> list[datetime]:
    """As an employer's invitation for ``event_at`` does."""
    set_interest(factory, chat, oid, InterestStatus.INVITED, now)
    with transaction(factory) as session:
        person = session.get(Person, person_id(factory, chat))
        opportunity = session.get(Opportunity, oid)
        assert person is not None and opportunity is not None
        created = schedule_event_reminders(
            session, person, opportunity, event_at, now=now, timing=TIMING, what="Interview"
        )
        return [r.due_at for r in created]


def test_an_event_is_reminded_the_day_before_and_an_hour_before(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    event = utc(2026, 11, 26, 14, 0)  # Thursday 14:00 in London
    created = _schedule(session_factory, ada, opportunity, event, clock.now)
    assert created == [utc(2026, 11, 25, 14, 0), utc(2026, 11, 26, 13, 0)]
    clock.now = utc(2026, 11, 25, 14, 0)
    queue(session_factory, clock)
    clock.now = utc(2026, 11, 26, 13, 0)
    queue(session_factory, clock)
    assert [m.text for m in outbox(session_factory)] == [
        "Reminder: Interview: Software intern — Acme Ltd, tomorrow at 14:00.",
        "Reminder: Interview: Software intern — Acme Ltd, today at 14:00.",
    ]


@pytest.mark.parametrize("status", [InterestStatus.WITHDRAWN, InterestStatus.DECLINED])
def test_no_event_reminder_once_the_invitation_no_longer_stands(
    ada: Chat,
    opportunity: int,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    status: InterestStatus,
) -> None:
    _schedule(session_factory, ada, opportunity, utc(2026, 11, 26, 14, 0), clock.now)
    set_interest(session_factory, ada, opportunity, status, clock.now)
    clock.now = utc(2026, 11, 26, 13, 0)
    assert queue(session_factory, clock) == Queued(cancelled=2)
    assert outbox(session_factory) == []


def test_a_placed_student_is_still_reminded(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    _schedule(session_factory, ada, opportunity, utc(2026, 11, 26, 14, 0), clock.now)
    set_interest(session_factory, ada, opportunity, InterestStatus.PLACED, clock.now)
    clock.now = utc(2026, 11, 26, 13, 0)
    assert queue(session_factory, clock) == Queued(queued=1, missed=1)


def test_a_moved_event_moves_its_reminders(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    _schedule(session_factory, ada, opportunity, utc(2026, 11, 26, 14, 0), clock.now)
    _schedule(session_factory, ada, opportunity, utc(2026, 11, 30, 10, 0), clock.now)
    assert pending_times(session_factory) == [utc(2026, 11, 29, 10, 0), utc(2026, 11, 30, 9, 0)]
    # Calling again with the same time changes nothing.
    assert _schedule(session_factory, ada, opportunity, utc(2026, 11, 30, 10, 0), clock.now) == []
    assert len(pending_times(session_factory)) == 2


def test_event_reminders_respect_quiet_hours_and_are_dropped_if_too_late(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    # 08:30: the day-before one is at 08:30; the hour-before (07:30, quiet) comes at 08:00.
    early = _schedule(session_factory, ada, opportunity, utc(2026, 11, 26, 8, 30), clock.now)
    assert early == [utc(2026, 11, 25, 8, 30), utc(2026, 11, 26, 8, 0)]
    # 08:00: the hour-before one would come at 08:00, which is no longer before the event.
    dawn = _schedule(session_factory, ada, opportunity, utc(2026, 11, 27, 8, 0), clock.now)
    assert dawn == [utc(2026, 11, 26, 8, 0)]
    # Tomorrow at 14:30: the same time today is already past.
    soon = _schedule(session_factory, ada, opportunity, utc(2026, 11, 24, 14, 30), clock.now)
    assert soon == [utc(2026, 11, 24, 13, 30)]


# --- /remind --------------------------------------------------------------------------------


def test_remind_with_text_and_a_time(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/remind tomorrow 5pm to email Acme about my CV")
    assert ada.text == "I'll remind you on Tue 24 Nov at 17:00."
    assert [b.label for b in ada.buttons] == ["My reminders"]
    assert reminders(session_factory) == [
        Row(ReminderKind.CUSTOM, utc(2026, 11, 24, 17, 0), ReminderStatus.PENDING)
    ]
    clock.now = utc(2026, 11, 24, 17, 0)
    queue(session_factory, clock)
    (message,) = outbox(session_factory)
    assert message.text == "Reminder: email Acme about my CV"
    assert message.buttons is None


def test_remind_about_an_opportunity_by_its_number(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send(f"/remind me {opportunity} friday 8:30")
    assert ada.text == "I'll remind you on Fri 27 Nov at 08:30."
    clock.now = utc(2026, 11, 27, 8, 30)
    queue(session_factory, clock)
    (message,) = outbox(session_factory)
    assert message.text == (
        "Reminder: Software intern — Acme Ltd\nApply by 10 Dec 2026 (in 13 days)"
    )
    assert message.buttons == [[["View it", f"opp:{opportunity}"]]]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/remind 3 dec to call Acme", "I'll remind you on Thu 3 Dec at 09:00."),
        ("/remind 3 Dec. 5pm to call Acme", "I'll remind you on Thu 3 Dec at 17:00."),
        ("/remind 5 pm to call Acme", "I'll remind you on Mon 23 Nov at 17:00."),
        ("/remind 1 jan to call Acme", "I'll remind you on Fri 1 Jan 2027 at 09:00."),
    ],
)
def test_a_number_that_starts_a_date_or_a_time_is_not_an_opportunity(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock, text: str, answer: str
) -> None:
    # Opportunities numbered 1 to 5 exist, so each of these numbers could also be one.
    while add_opportunity(session_factory, clock.now, title="Another listing") < 5:
        pass
    ada.send(text)
    assert ada.text == answer
    with session_factory() as session:
        (reminder,) = session.scalars(select(Reminder)).all()
        assert (reminder.text, reminder.opportunity_id) == ("call Acme", None)


def test_remind_me_on_a_card_asks_when(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session]
) -> None:
    ada.send("/browse")
    ada.press("1")
    ada.press("Remind me")
    assert ada.text.startswith("When should I remind you about Software intern — Acme Ltd?")
    before = row_counts(session_factory)
    ada.send("whenever you like")
    assert "I didn't understand" in ada.text and "tomorrow 5pm" in ada.text
    ada.send("at 5")
    assert "Do you mean 5am or 5pm?" in ada.text
    assert row_counts(session_factory) == before
    ada.send("in 3 days")
    assert ada.text == "I'll remind you on Thu 26 Nov at 15:00."
    # The question is answered: more text is not taken as another time.
    ada.send("in 4 days")
    assert "I'll remind you" not in ada.text
    assert len(reminders(session_factory)) == 1


def test_the_question_can_be_cancelled(ada: Chat, opportunity: int) -> None:
    ada.press_payload(f"rmd:{opportunity}")
    ada.press("Cancel")
    assert ada.text == "OK, no reminder."
    ada.send("tomorrow 5pm")
    assert "I'll remind you" not in ada.text


def test_the_questions_cancel_after_the_reminder_was_set_tells_the_truth(
    ada: Chat, opportunity: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.press_payload(f"rmd:{opportunity}")
    cancel = ada.button("Cancel").payload
    clock.advance(seconds=30)
    ada.send("in 3 days")
    assert ada.text == "I'll remind you on Thu 26 Nov at 15:00."
    before = row_counts(session_factory)["reminders"]
    ada.press_payload(cancel)
    assert ada.text == (
        "That reminder is already set for Thu 26 Nov at 15:00. To cancel it, send /reminders."
    )
    assert ada.replies[0].replace
    assert row_counts(session_factory)["reminders"] == before
    assert [r.status for r in reminders(session_factory)] == [ReminderStatus.PENDING]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/remind tomorrow 5pm", "What should I remind you about?"),
        ("/remind today 9am to call", "Mon 23 Nov at 09:00 has already passed."),
        ("/remind 2025-01-01 10:00 to call", "Wed 1 Jan 2025 at 10:00 has already passed."),
        ("/remind 2028-01-01 to call", "up to a year ahead"),
        ("/remind blah to call", 'I didn\'t understand "blah"'),
        ("/remind 99999 tomorrow", "no longer available"),
        ("/remind 31 feb to call Acme", "There's no such date as 31 feb."),
        ("/remind 31 February 5pm to call Acme", "There's no such date as 31 February 5pm."),
        ("/remind 31 apr to call Acme", "There's no such date as 31 apr."),
        ("/remind tomorrow 5pm to " + "x" * 201, "under 200 characters"),
    ],
)
def test_bad_reminders_are_refused_and_change_nothing(
    ada: Chat, session_factory: sessionmaker[Session], text: str, answer: str
) -> None:
    before = row_counts(session_factory)
    ada.send(text)
    assert answer in ada.text
    assert row_counts(session_factory) == before


def test_remind_alone_explains_itself(ada: Chat) -> None:
    ada.send("/remind")
    assert ada.text.startswith("Tell me when, and what about. For example:")


def test_a_time_in_quiet_hours_moves_to_the_morning_and_says_so(
    ada: Chat, session_factory: sessionmaker[Session]
) -> None:
    ada.send("/remind tomorrow 10:30pm to pack my bag")
    assert ada.text == (
        "Tue 24 Nov at 22:30 is in quiet hours (21:00–08:00), when I send nothing, "
        "so I'll remind you on Wed 25 Nov at 08:00."
    )
    assert pending_times(session_factory) == [utc(2026, 11, 25, 8, 0)]


def test_the_same_reminder_twice_is_refused(
    ada: Chat, session_factory: sessionmaker[Session]
) -> None:
    ada.send("/remind tomorrow 5pm to email Acme")
    ada.send("/remind tomorrow at 17:00 to email Acme")
    assert "You already have that reminder for Tue 24 Nov at 17:00." in ada.text
    ada.send("/remind tomorrow 5pm to call Acme")
    assert ada.text == "I'll remind you on Tue 24 Nov at 17:00."
    assert len(reminders(session_factory)) == 2


def test_reminders_lists_and_cancels(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/reminders")
    assert ada.text.startswith("You have no reminders waiting.")
    ada.send("/remind friday 4pm to ask for a reference")
    ada.send("/remind tomorrow 8am to bring my CV")
    ada.press("My reminders")
    assert ada.text == (
        "Your reminders:\n"
        "1. Tue 24 Nov at 08:00: bring my CV\n"
        "2. Fri 27 Nov at 16:00: ask for a reference"
    )
    ada.press("Cancel 2")
    assert ada.text == (
        "Cancelled the reminder for Fri 27 Nov at 16:00.\n\n"
        "Your reminders:\n"
        "1. Tue 24 Nov at 08:00: bring my CV"
    )
    stale = ada.buttons[0].payload
    ada.press("Cancel 1")
    assert "You have no reminders waiting." in ada.text
    ada.press_payload(stale)
    assert "already gone out or was cancelled" in ada.text
    clock.now = utc(2026, 11, 28, 0, 0)
    assert queue(session_factory, clock) == Queued()


def test_nobody_can_cancel_someone_elses_reminder(
    ada: Chat, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/remind tomorrow 5pm to email Acme")
    with session_factory() as session:
        rid = session.scalar(select(func.max(Reminder.id)))
    bob = Chat(core, "bob", name="Bob")
    onboard(bob)
    bob.press_payload(f"rmx:{rid}")
    assert "I can't find that reminder" in bob.text
    assert [r.status for r in reminders(session_factory)] == [ReminderStatus.PENDING]
