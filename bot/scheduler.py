"""APScheduler jobs: what moves due reminders, digests, nudges and announcements to the outbox,
and imports big listings files in the background.

APScheduler only triggers. The jobs are defined here in code (fixed ids, ``replace_existing``)
and hold nothing in memory: the truth is in our tables, so a restart loses nothing, and every
job also runs at start to catch up on what fell due while the bot was down. Each job calls a
plain synchronous function in a worker thread, with the time passed in.

Several processes may run these jobs on one PostgreSQL database: due rows are claimed with
``FOR UPDATE SKIP LOCKED`` and the periodic reconciliation takes an advisory lock, so nothing
is done twice. On SQLite, run one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.config import Settings
from bot.core import Clock, Timing
from handlers.jobs import (
    Endpoints,
    Fetcher,
    Queued,
    ask_attendance,
    ask_due_feedback,
    close_expired,
    nudge_unanswered,
    queue_due_reminders,
    raise_unanswered,
    reconcile_all,
    report_deliveries,
    run_imports,
    send_alerts,
    send_digests,
    send_due_announcements,
    sync_due,
)
from storage.db import transaction
from storage.queries import forget_handled_events

log = logging.getLogger(__name__)

JobFunc = Callable[[sessionmaker[Session], datetime, Timing], object]


@dataclass(frozen=True)
class Job:
    id: str
    func: JobFunc
    every_seconds: float


def send_scheduled_announcements(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing
) -> int:
    with transaction(session_factory) as session:
        return send_due_announcements(session, now, quiet=timing.quiet)


def forget_old_events(session_factory: sessionmaker[Session], now: datetime, timing: Timing) -> int:
    with transaction(session_factory) as session:
        return forget_handled_events(session, now - timing.events_kept)


def board_fetcher(settings: Settings) -> Fetcher:
    """The job boards' client the settings describe."""
    return Fetcher(
        Endpoints(
            greenhouse=settings.greenhouse_api_url,
            lever=settings.lever_api_url,
            ashby=settings.ashby_api_url,
            smartrecruiters=settings.smartrecruiters_api_url,
        ),
        timeout=settings.sources_timeout_seconds,
    )


def jobs(settings: Settings) -> tuple[Job, ...]:
    return (
        Job("reminders.queue", queue_due_reminders, settings.reminder_poll_seconds),
        Job("reminders.reconcile", reconcile_all, settings.reconcile_minutes * 60),
        Job("digests.send", send_digests, settings.digest_poll_seconds),
        Job("alerts.send", send_alerts, settings.digest_poll_seconds),
        # Announcements are scheduled to the minute; looking as often as reminders is enough.
        Job("announcements.send", send_scheduled_announcements, settings.reminder_poll_seconds),
        # The author hears soon after the last message of an announcement went (or failed).
        Job("announcements.report", report_deliveries, settings.reminder_poll_seconds),
        # Feedback is asked at a local hour; a look every few minutes is on time enough.
        Job("feedback.ask", ask_due_feedback, settings.digest_poll_seconds),
        # "Did you go?" is asked the day after an event: a look every few minutes is plenty.
        Job("attendance.ask", ask_attendance, settings.digest_poll_seconds),
        # A nudge is days late by design: looking as often as for digests is plenty.
        Job(
            "employers.nudge",
            partial(nudge_unanswered, after=timedelta(days=settings.employer_nudge_days)),
            settings.digest_poll_seconds,
        ),
        # A question is raised again a school day after it was asked: minutes late is fine.
        Job("questions.raise", raise_unanswered, settings.digest_poll_seconds),
        # Housekeeping: the record of handled event ids stays a few days long.
        Job("events.forget", forget_old_events, settings.reconcile_minutes * 60),
        Job("imports.run", run_imports, settings.import_poll_seconds),
        # Each source is synced every few hours; a look each minute finds the due ones (and a
        # teacher's "Sync now") soon enough.
        Job(
            "sources.sync",
            partial(sync_due, fetcher=board_fetcher(settings), every=settings.sources_every),
            settings.sources_poll_seconds,
        ),
        Job("listings.expire", close_expired, settings.reconcile_minutes * 60),
    )


async def run_job(
    job: Job, session_factory: sessionmaker[Session], clock: Clock, timing: Timing
) -> None:
    result = await asyncio.to_thread(job.func, session_factory, clock(), timing)
    if isinstance(result, Queued):
        metrics.REMINDERS.labels("queued").inc(result.queued)
        metrics.REMINDERS.labels("missed").inc(result.missed)
    if result:
        log.info("job %s: %s", job.id, result)


def observe_lag(event: JobSubmissionEvent) -> None:
    """How late the job starts after the first of the run times it starts for (a busy event
    loop, or runs coalesced while the previous one was still going)."""
    if event.scheduled_run_times:
        late = datetime.now(UTC) - min(event.scheduled_run_times)
        metrics.SCHEDULER_LAG.labels(event.job_id).observe(max(late.total_seconds(), 0.0))


def build_scheduler(
    session_factory: sessionmaker[Session], clock: Clock, settings: Settings
) -> AsyncIOScheduler:
    """The scheduler with every job; ``start()`` it inside the running event loop."""
    timing = settings.timing()
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_listener(observe_lag, EVENT_JOB_SUBMITTED)
    for job in jobs(settings):
        scheduler.add_job(
            run_job,
            IntervalTrigger(seconds=job.every_seconds, timezone=UTC),
            args=(job, session_factory, clock, timing),
            id=job.id,
            name=job.id,
            replace_existing=True,
            # One run at a time per process; runs missed while busy collapse into one.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    return scheduler
