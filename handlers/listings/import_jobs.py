"""Listings files sent to the bot, imported in short batches so that nobody else waits.

A file of one batch or less is imported at once and answered with the summary. A bigger one
becomes an import job, answered at once; ``run_imports`` (a scheduler job) then stores it one
batch per transaction, so no write holds the database for more than a fraction of a second and
other people's messages go through in between. The teacher hears how far it got every
``PROGRESS_EVERY`` rows (``handlers.listings.importer``) and gets the summary at the end,
through the outbox.

Each batch stores its rows and moves the job's position in one transaction: after a crash the
job resumes where its last batch ended, and no row is imported twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Attachment, Context, Reply, Timing, UserError
from bot.i18n import _, fmt_number, language, speaking_to
from handlers.common import local_today
from handlers.listings.importer import (
    BATCH_SIZE,
    ImportReport,
    Owner,
    count_records,
    progress_due,
    read_listings,
    store_rows,
)
from storage.db import transaction
from storage.models import AuditEntry, ImportJob, ImportStatus, Person
from storage.outbox import enqueue

log = logging.getLogger(__name__)

# Bad rows shown after an import; the rest are counted (a file may have thousands).
MAX_BAD_ROWS = 10
MAX_FILENAME = 200


def start_import(ctx: Context, file: Attachment, owner: Owner) -> list[Reply]:
    """Import ``file`` for ``owner`` now if it is small, or queue it as an import job and say
    so."""
    # Only the file as a whole is checked here: reading every row of a big file takes seconds,
    # during which SQLite would be held for everyone else.
    try:
        total = count_records(file.filename, file.content)
    except ValueError as error:
        raise UserError(_("I couldn't import that file: {error}.", error=str(error))) from error
    if total <= BATCH_SIZE:
        parsed = read_listings(file.filename, file.content, local_today(ctx))
        store_rows(ctx.session, parsed, 0, ctx.now, parsed.report, owner)
        parsed.report.skipped.sort()
        _audit(ctx.session, ctx.now, ctx.person.id, file.filename, parsed.report.created)
        return [Reply(_summary(file.filename, parsed.report))]
    ctx.session.add(
        ImportJob(
            requested_by_id=ctx.person.id,
            school_id=owner.school_id,
            claim_unowned=owner.claim,
            filename=_short(file.filename),
            status=ImportStatus.PENDING,
            total=total,
            done=0,
            created=0,
            updated=0,
            unchanged=0,
            skipped=[],
            payload=file.content,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    return [
        Reply(
            _(
                "Importing {count} listings from {filename}. I'll tell you how it's going, and "
                "what was imported when it's done.",
                count=fmt_number(total),
                filename=file.filename,
            )
        )
    ]


def run_imports(session_factory: sessionmaker[Session], now: datetime, timing: Timing) -> int:
    """Work through every waiting import job (the scheduler's job); how many were finished."""
    with session_factory() as session:
        waiting = session.scalars(
            select(ImportJob.id)
            .where(ImportJob.status == ImportStatus.PENDING)
            .order_by(ImportJob.id)
        ).all()
    finished = 0
    for job_id in waiting:
        try:
            for done, total in import_batches(session_factory, job_id, now):
                finished += done == total
        except Exception as error:
            # The failed batch was rolled back; the next run resumes the job at that batch.
            # Only the kind of error: its text may quote rows of the file.
            log.warning("import job %s stopped (%s), to resume later", job_id, type(error).__name__)
    return finished


# Long because claiming, importing and committing a batch must stay one visible transaction.
def import_batches(
    session_factory: sessionmaker[Session], job_id: int, now: datetime
) -> Iterator[tuple[int, int]]:
    """Import job ``job_id`` one batch per transaction, yielding (records done, records)
    after each.

    Stops when the job is finished, or when another process holds it (PostgreSQL).
    """
    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status != ImportStatus.PENDING or job.payload is None:
            return
        filename, payload = job.filename, job.payload
        owner = Owner(job.school_id, claim=job.claim_unowned)
        # The problems with rows are worded for the teacher who sent the file.
        requester = session.get(Person, job.requested_by_id) if job.requested_by_id else None
        speaks = requester.language if requester is not None else None
    try:
        with language(speaks):
            parsed = read_listings(filename, payload, now.date())
    except ValueError as error:
        # The file was read when it was accepted: only a changed importer can refuse it now.
        with transaction(session_factory) as session:
            job = _claim(session, job_id)
            if job is not None:
                refused = str(error)
                _finish(
                    session,
                    job,
                    now,
                    ImportStatus.FAILED,
                    lambda: _("I couldn't import that file: {error}.", error=refused),
                )
        return
    total = parsed.records
    while True:
        with transaction(session_factory) as session:
            job = _claim(session, job_id)
            if job is None:
                return
            before = job.done
            counts = ImportReport()
            with language(speaks):
                job.done = store_rows(session, parsed, before, now, counts, owner)
            job.created += counts.created
            job.updated += counts.updated
            job.unchanged += counts.unchanged
            if counts.skipped:
                # Reassigned, not appended to: a JSON column does not see changes in place.
                job.skipped = [
                    *job.skipped,
                    *([number, reason] for number, reason in counts.skipped),
                ]
            job.updated_at = now
            if job.done >= total:
                skipped = parsed.report.skipped + [
                    (number, reason) for number, reason in job.skipped
                ]
                report = ImportReport(job.created, job.updated, job.unchanged, sorted(skipped))
                _audit(session, now, job.requested_by_id, filename, job.created)
                _finish(session, job, now, ImportStatus.DONE, partial(_summary, filename, report))
            elif progress_due(before, job.done):
                so_far = partial(_progress, job.done, total, filename)
                _tell(session, job, now, so_far, step=str(job.done))
            done = min(job.done, total)
        yield done, total
        if done == total:
            return


def _claim(session: Session, job_id: int) -> ImportJob | None:
    """The waiting job, locked for this transaction, or None (finished, or another worker's)."""
    return session.scalar(
        select(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.PENDING)
        .with_for_update(skip_locked=True)
    )


def _finish(
    session: Session, job: ImportJob, now: datetime, status: ImportStatus, message: Text
) -> None:
    job.status = status
    # The file is not kept once imported: the opportunities are.
    job.payload = None
    job.updated_at = now
    _tell(session, job, now, message, step="end")


# What the teacher is told, rendered in their language: a function that words it there.
Text = Callable[[], str]


def _tell(session: Session, job: ImportJob, now: datetime, text: Text, *, step: str) -> None:
    person = session.get(Person, job.requested_by_id) if job.requested_by_id else None
    if person is not None:
        with speaking_to(person):
            enqueue(session, person, text(), kind="import", key=f"import:{job.id}:{step}", now=now)


def _audit(
    session: Session, now: datetime, actor_id: int | None, filename: str, created: int
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action="listings_imported",
            detail={"file": filename[:MAX_FILENAME], "created": created},
        )
    )


def _progress(done: int, total: int, filename: str) -> str:
    return _(
        "{done} of {total} listings from {filename} done so far…",
        done=fmt_number(done),
        total=fmt_number(total),
        filename=filename,
    )


def _summary(filename: str, report: ImportReport) -> str:
    return _(
        "Imported {filename}: {summary}",
        filename=filename,
        summary=report.summary(limit=MAX_BAD_ROWS),
    )


def _short(filename: str) -> str:
    """``filename`` cut to fit its column, keeping the extension that says how to read it."""
    if len(filename) <= MAX_FILENAME:
        return filename
    suffix = Path(filename).suffix
    return filename[: MAX_FILENAME - len(suffix)] + suffix
