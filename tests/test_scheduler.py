"""The scheduler: jobs defined in code, running the plain functions with the injected time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import Core, Incoming
from bot.scheduler import build_scheduler, jobs
from storage.models import OutboxMessage, ProcessedEvent, Reminder, ReminderStatus
from storage.outbox import QuietHours
from tests.conftest import FakeClock
from tests.helpers import Chat, add_school, onboard

JOB_IDS = {
    "reminders.queue",
    "reminders.reconcile",
    "digests.send",
    "alerts.send",
    "announcements.send",
    "announcements.report",
    "employers.nudge",
    "feedback.ask",
    "attendance.ask",
    "questions.raise",
    "events.forget",
    "imports.run",
    "sources.sync",
    "listings.expire",
}


def test_settings_give_the_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPPBOT_REMINDER_OFFSETS_DAYS", "1, 14,3")
    monkeypatch.setenv("OPPBOT_REMINDER_TIME", "08:30")
    monkeypatch.setenv("OPPBOT_QUIET_START", "22:00")
    monkeypatch.setenv("OPPBOT_QUIET_END", "07:00")
    monkeypatch.setenv("OPPBOT_REMINDER_GRACE_MINUTES", "15")
    monkeypatch.setenv("OPPBOT_DIGEST_TIME", "17:00")
    timing = Settings(_env_file=None).timing()
    assert timing.reminder_offsets_days == (14, 3, 1)
    assert timing.reminder_at == time(8, 30)
    assert timing.quiet == QuietHours(time(22, 0), time(7, 0))
    assert timing.grace == timedelta(minutes=15)
    assert timing.digest_at == time(17, 0)


@pytest.mark.parametrize("value", ["7,-1", "seven", "[7"])
def test_bad_offsets_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OPPBOT_REMINDER_OFFSETS_DAYS", value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_jobs_have_fixed_ids_and_the_configured_intervals(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    settings = Settings(
        _env_file=None,
        reminder_poll_seconds=20,
        reconcile_minutes=10,
        digest_poll_seconds=120,
        import_poll_seconds=3,
        sources_poll_seconds=90,
    )
    scheduler = build_scheduler(session_factory, clock, settings)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == JOB_IDS
    intervals = {}
    for job_id, job in jobs.items():
        assert isinstance(job.trigger, IntervalTrigger)
        intervals[job_id] = job.trigger.interval
        assert job.max_instances == 1 and job.coalesce
    assert intervals == {
        "reminders.queue": timedelta(seconds=20),
        "reminders.reconcile": timedelta(minutes=10),
        "digests.send": timedelta(minutes=2),
        "alerts.send": timedelta(minutes=2),
        "announcements.send": timedelta(seconds=20),
        "announcements.report": timedelta(seconds=20),
        "employers.nudge": timedelta(minutes=2),
        "feedback.ask": timedelta(minutes=2),
        "attendance.ask": timedelta(minutes=2),
        "questions.raise": timedelta(minutes=2),
        "events.forget": timedelta(minutes=10),
        "imports.run": timedelta(seconds=3),
        "sources.sync": timedelta(seconds=90),
        "listings.expire": timedelta(minutes=10),
    }


def test_handled_event_ids_older_than_the_window_are_forgotten(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    settings = Settings(_env_file=None, handled_events_days=2)
    core.timing = settings.timing()
    old = Incoming(platform="telegram", user_id="ada", chat_id="ada", event_id="7", text="/help")
    core.handle(old)
    clock.advance(days=1)
    core.handle(replace(old, event_id="8"))
    clock.advance(days=1, minutes=1)
    (forget,) = [job for job in jobs(settings) if job.id == "events.forget"]
    assert forget.func(session_factory, clock(), settings.timing()) == 1
    with session_factory() as session:
        assert session.scalars(select(ProcessedEvent.event_id)).all() == ["8"]


async def test_every_job_runs_at_start_with_the_injected_time(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    ada = Chat(core, "ada", name="Ada")
    await asyncio.to_thread(onboard, ada)
    await asyncio.to_thread(ada.send, "/remind tomorrow 5pm to email Acme")
    # The bot comes back 30 minutes after the reminder fell due.
    clock.now = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)

    scheduler = build_scheduler(session_factory, clock, Settings(_env_file=None))
    done: dict[str, JobExecutionEvent] = {}
    finished = asyncio.Event()

    def listener(event: JobExecutionEvent) -> None:
        done[event.job_id] = event
        if set(done) == JOB_IDS:
            finished.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        await asyncio.wait_for(finished.wait(), timeout=30)
    finally:
        scheduler.shutdown(wait=False)
    assert all(event.exception is None for event in done.values())
    with session_factory() as session:
        assert session.scalars(select(Reminder.status)).all() == [ReminderStatus.QUEUED]
        assert session.scalars(select(OutboxMessage.text)).all() == ["Reminder: email Acme"]
