"""Placement feedback: asked once at the midpoint and the end, at a local hour, reminded once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.core import Timing
from bot.scheduler import jobs
from handlers.placements.feedback import ask_due_feedback, schedule_feedback
from storage.db import make_engine, make_session_factory, transaction
from storage.models import (
    Account,
    Feedback,
    FeedbackStage,
    FeedbackStatus,
    Interest,
    InterestStatus,
    Opportunity,
    OutboxMessage,
    Person,
    Placement,
    Role,
)
from tests.conftest import FakeClock
from tests.helpers import inbox, row_counts
from tests.test_placements import START, World, place
from tests.test_placements import world as world

TIMING = Timing()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _ask(world: World) -> tuple[int, int]:
    result = ask_due_feedback(world.factory, world.clock.now, TIMING)
    return result.asked, result.reminded


def _rows(world: World) -> list[tuple[str, str, str]]:
    with world.factory() as session:
        return sorted(
            (r.stage.value, r.respondent_role.value, r.status.value)
            for r in session.scalars(select(Feedback))
        )


def _set_dates(world: World, start: date, end: date) -> None:
    """Maya sets the placement's dates from its card."""
    pid = world.placement(world.bob).id
    world.maya.press_payload(f"plc:{pid}:dates")
    world.maya.send(f"{start.isoformat()} to {end.isoformat()}")
    assert "Dates set" in world.maya.text, world.maya.text


def test_questions_go_out_once_at_their_local_hour_and_are_reminded_once(world: World) -> None:
    place(world, world.bob)
    assert _ask(world) == (0, 0)
    world.clock.now = datetime(2026, 12, 5, 15, 59, tzinfo=UTC)
    assert _ask(world) == (0, 0)
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    assert _ask(world) == (2, 0)
    assert _ask(world) == (0, 0)
    (student_q,) = inbox(world.factory, world.bob, "feedback")
    text, buttons = student_q
    assert text == (
        "You're halfway through Software intern at Acme Ltd. How is it going? "
        "Rate it from 1 (not well) to 5 (very well)."
    )
    assert [b.label for b in buttons] == ["1", "2", "3", "4", "5", "Skip"]
    ((text, _),) = inbox(world.factory, world.maya, "feedback")
    assert text.startswith("Bob is halfway through Software intern. How are they doing?")
    world.clock.advance(days=3)
    assert _ask(world) == (0, 2)
    assert _ask(world) == (0, 0)
    reminder, _ = inbox(world.factory, world.bob, "feedback")[-1]
    assert reminder.startswith("A gentle reminder: You're halfway through")
    world.clock.advance(days=30)
    assert _ask(world) == (2, 0)  # the end-of-placement questions
    assert _rows(world) == [
        ("end", "employer", "asked"),
        ("end", "student", "asked"),
        ("midpoint", "employer", "asked"),
        ("midpoint", "student", "asked"),
    ]


def test_a_rating_and_a_comment_are_saved_once(world: World) -> None:
    place(world, world.bob)
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    _ask(world)
    (_, buttons), *_ = inbox(world.factory, world.bob, "feedback")
    four = next(b.payload for b in buttons if b.label == "4")
    world.maya.press_payload(four)
    assert "Sorry, that is only for" not in world.maya.text
    assert "That question isn't for you" in world.maya.text
    world.bob.press_payload(four)
    assert world.bob.text.startswith("Thanks: 4 out of 5. Would you like to add a short comment?")
    world.bob.send("x" * 501)
    assert "please keep it under 500" in world.bob.text
    world.bob.send("Great team, I learnt a lot <b>&</b>")
    assert "your feedback is saved" in world.bob.text
    world.bob.press_payload(four)
    assert "You've already answered that one" in world.bob.text
    with world.factory() as session:
        row = session.scalars(
            select(Feedback).where(
                Feedback.respondent_role == Role.STUDENT,
                Feedback.stage == FeedbackStage.MIDPOINT,
            )
        ).one()
        assert (row.status, row.rating, row.comment) == (
            FeedbackStatus.ANSWERED,
            4,
            "Great team, I learnt a lot <b>&</b>",
        )
    # An answered question is never asked again, nor reminded.
    world.clock.advance(days=5)
    assert _ask(world) == (0, 1)  # Maya's, still unanswered


def test_skipping_closes_the_question(world: World) -> None:
    place(world, world.bob)
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    _ask(world)
    (_, buttons), *_ = inbox(world.factory, world.maya, "feedback")
    world.maya.press_payload(next(b.payload for b in buttons if b.label == "Skip"))
    assert world.maya.text == "No problem, skipped."
    world.maya.press_payload(next(b.payload for b in buttons if b.label == "5"))
    assert "You skipped that question" in world.maya.text
    world.maya.press_payload("fbr:1:9")
    assert "That button doesn't work any more" in world.maya.text


def test_moving_the_dates_moves_waiting_questions_and_a_short_placement_has_no_midpoint(
    world: World,
) -> None:
    place(world, world.bob)
    _set_dates(world, date(2027, 1, 11), date(2027, 1, 12))
    with world.factory() as session:
        rows = session.scalars(select(Feedback)).all()
        assert sorted((r.stage.value, r.due_at) for r in rows) == [
            ("end", datetime(2027, 1, 12, 16, 0, tzinfo=UTC)),
            ("end", datetime(2027, 1, 12, 16, 0, tzinfo=UTC)),
        ]


def test_questions_already_asked_stay_when_the_dates_change(world: World) -> None:
    place(world, world.bob)
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    _ask(world)
    _set_dates(world, date(2026, 12, 1), date(2026, 12, 31))
    assert _rows(world) == [
        ("end", "employer", "waiting"),
        ("end", "student", "waiting"),
        ("midpoint", "employer", "asked"),
        ("midpoint", "student", "asked"),
    ]
    assert _ask(world) == (0, 0)


def test_the_local_hour_follows_the_persons_time_zone_across_dst(world: World) -> None:
    place(world, world.bob)
    with world.factory.begin() as session:
        placement = session.scalars(select(Placement)).one()
        assert placement.student is not None
        placement.student.timezone = "America/New_York"
        placement.start_date, placement.end_date = date(2027, 3, 1), date(2027, 3, 26)
        schedule_feedback(session, placement, TIMING, world.clock.now)
    with world.factory() as session:
        due = {
            (r.stage.value, r.respondent_role.value): r.due_at
            for r in session.scalars(select(Feedback))
        }
    # 16:00 in New York: EST (UTC-5) on 13 March, EDT (UTC-4) by 26 March.
    assert due[("midpoint", "student")] == datetime(2027, 3, 13, 21, 0, tzinfo=UTC)
    assert due[("end", "student")] == datetime(2027, 3, 26, 20, 0, tzinfo=UTC)
    assert due[("end", "employer")] == datetime(2027, 3, 26, 16, 0, tzinfo=UTC)


def test_a_question_for_someone_who_left_is_skipped_not_sent(world: World) -> None:
    place(world, world.bob)
    world.maya.send("/forget")
    world.maya.press("Yes, delete everything")
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    before = row_counts(world.factory)["outbox"]
    assert _ask(world) == (1, 0)
    assert row_counts(world.factory)["outbox"] == before + 1
    assert ("midpoint", "employer", "skipped") in _rows(world)


def test_the_scheduler_has_the_feedback_job() -> None:
    assert "feedback.ask" in {job.id for job in jobs(Settings())}
    assert Settings(feedback_remind_days=5).timing().feedback_remind_after == timedelta(days=5)


def test_dates_entered_after_the_end_ask_only_how_it_went_at_the_next_local_hour(
    world: World,
) -> None:
    place(world, world.bob)
    # 2 Dec, 15:00: the placement turns out to have run from 1 to 20 November.
    _set_dates(world, date(2026, 11, 1), date(2026, 11, 20))
    with world.factory() as session:
        due = sorted((r.stage.value, r.due_at) for r in session.scalars(select(Feedback)))
    assert due == [
        ("end", datetime(2026, 12, 2, 16, 0, tzinfo=UTC)),
        ("end", datetime(2026, 12, 2, 16, 0, tzinfo=UTC)),
    ]
    world.clock.now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    _set_dates(world, date(2026, 11, 2), date(2026, 11, 20))
    with world.factory() as session:
        assert {r.due_at for r in session.scalars(select(Feedback))} == {
            datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
        }


def test_an_employers_feedback_question_about_a_minor_without_consent_names_nobody(
    world: World,
) -> None:
    place(world, world.cat)
    with world.factory.begin() as session:
        placement = session.scalars(select(Placement)).one()
        assert placement.student is not None
        placement.student.guardian_consent_at = None
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    _ask(world)
    ((text, _),) = inbox(world.factory, world.maya, "feedback")
    assert text.startswith("The student is halfway through Software intern.")


def test_two_workers_ask_each_question_exactly_once(db_url: str, world: World) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; SQLite supports one process")
    now = world.clock.now
    with transaction(world.factory) as session:
        maya = session.scalars(select(Account).where(Account.external_id == "maya")).one().person
        opportunity = session.get(Opportunity, world.opportunity)
        assert opportunity is not None
        for n in range(60):
            student = Person(name=f"Student {n}", role=Role.STUDENT, created_at=now)
            session.add(
                Account(
                    person=student,
                    platform="console",
                    external_id=f"s{n}",
                    chat_id=f"s{n}",
                    last_seen_at=now,
                    created_at=now,
                )
            )
            interest = Interest(
                person=student,
                opportunity=opportunity,
                status=InterestStatus.PLACED,
                created_at=now,
                updated_at=now,
            )
            placement = Placement(
                interest=interest,
                student=student,
                organisation=opportunity.organisation,
                supervisor=maya,
                created_at=now,
                updated_at=now,
            )
            for role, person in ((Role.STUDENT, student), (Role.EMPLOYER, maya)):
                session.add(
                    Feedback(
                        placement=placement,
                        stage=FeedbackStage.END,
                        respondent_role=role,
                        respondent=person,
                        status=FeedbackStatus.WAITING,
                        due_at=now - timedelta(minutes=1),
                    )
                )
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            asked = ask_due_feedback(make_session_factory(engine), now, TIMING, batch=10)
            results.append(asked.asked)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 120
    with world.factory() as session:
        keys = session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "feedback")
        ).all()
        statuses = session.scalars(select(Feedback.status).distinct()).all()
    assert len(keys) == len(set(keys)) == 120
    assert statuses == [FeedbackStatus.ASKED]
