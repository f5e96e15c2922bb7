"""Syncing a source: what its board lists now becomes its opportunities.

New postings are created (open, or pending a teacher's review, as the source says), changed
ones updated, and those gone from the board closed, telling the students who saved or applied
to them, once. The board is read outside any transaction; what it said is applied in one
transaction that holds the source's row, so a second syncer of the same source waits and then
finds nothing left to do. Unique (source, external_id) and the outbox's idempotency keys make
every change and every message happen once whoever applies it.

A failed read changes no opportunity; three failures in a row pause the source and tell the
teacher who connected it why.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import Timing
from bot.i18n import N_, _, _n, speaking_to
from handlers.listings.importer import update_opportunity
from handlers.listings.schema import kind_of
from handlers.listings.sync.problems import MAX_KEPT, SEPARATOR, Problem, stored
from handlers.listings.sync.providers import PROVIDERS, Fetched, Fetcher, FetchError, Posting
from storage.db import transaction, try_job_lock
from storage.models import (
    AuditEntry,
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    Person,
    Role,
    SavedOpportunity,
    Source,
    SourceRun,
    SourceStatus,
)
from storage.outbox import Outgoing, QuietHours, enqueue_many
from storage.tags import derive_tags

log = logging.getLogger(__name__)

DEFAULT_FILTER = (
    "intern, internship, apprentice, work experience, placement, co-op, shadow, graduate"
)
# "*" lets every posting of the board in.
EVERYTHING = "*"
FAILURES_TO_PAUSE = 3
STAFF_ROLES = (Role.TEACHER, Role.ADMIN)
# Endings a filter word may carry: "apprentice" finds "Apprenticeship", "shadow" "shadowing".
_ENDINGS = r"(?:s|es|ship|ships|ing)?"

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RunResult:
    source_id: int
    created: int = 0
    updated: int = 0
    closed: int = 0
    skipped: int = 0
    errors: int = 0
    error: str | None = None
    paused: bool = False

    def summary(self) -> str:
        counts = (
            f"{self.created} created, {self.updated} updated, {self.closed} closed, "
            f"{self.skipped} skipped"
        )
        if self.error is None:
            return counts
        return f"{counts}, failed: {self.error}" + (" (paused)" if self.paused else "")


def filter_words(title_filter: str) -> list[str]:
    """The words of a source's filter, as a teacher typed them (comma-separated)."""
    return [" ".join(word.split()).lower() for word in title_filter.split(",") if word.strip()]


def title_matcher(title_filter: str) -> Callable[[str], bool]:
    """Whether a posting's title is for students, by the source's filter words."""
    words = filter_words(title_filter)
    if EVERYTHING in words or not words:
        return lambda title: True
    alternatives = []
    for word in words:
        parts = [re.escape(part) for part in re.split(r"[\s-]+", word) if part]
        alternatives.append(r"[\s-]*".join(parts))
    pattern = re.compile(rf"(?<![\w])(?:{'|'.join(alternatives)}){_ENDINGS}(?![\w])", re.I)
    return lambda title: pattern.search(title) is not None


def describe(source: Source) -> str:
    """How a teacher reads a source: "#3 Acme Ltd on Greenhouse (acme)"."""
    owner = source.organisation.name if source.organisation is not None else _("every company")
    provider = PROVIDERS.get(source.provider, source.provider)
    return _(
        "#{id} {owner} on {provider} ({board})",
        id=source.id,
        owner=owner,
        provider=provider,
        board=source.board,
    )


def due_sources(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Source.id)
            .where(Source.status == SourceStatus.ACTIVE, Source.next_sync_at <= now)
            .order_by(Source.next_sync_at, Source.id)
        )
    )


def sync_source(
    factory: sessionmaker[Session],
    source_id: int,
    fetcher: Fetcher,
    *,
    now: datetime,
    every: timedelta,
    quiet: QuietHours,
) -> RunResult | None:
    """Read the source's board and apply it; None if the source no longer exists."""
    with factory() as session:
        source = session.get(Source, source_id)
        if source is None:
            return None
        provider, board = source.provider, source.board
        etag, last_modified = source.etag, source.last_modified
    try:
        fetched = fetcher.fetch(provider, board, etag=etag, last_modified=last_modified)
    except FetchError as error:
        return _failed(factory, source_id, error.problem, now=now, every=every)
    except Exception:
        # A provider's surprise must not stop the other sources' syncs.
        log.exception("reading source %s failed", source_id)
        unexpected = Problem.of(N_("something unexpected went wrong"))
        return _failed(factory, source_id, unexpected, now=now, every=every)
    with transaction(factory) as session:
        source = _locked(session, source_id)
        if source is None:
            return None
        return _apply(session, source, fetched, now=now, every=every, quiet=quiet)


def _locked(session: Session, source_id: int) -> Source | None:
    """The source, its row held until commit: two syncers of one source take turns."""
    return session.scalar(
        select(Source)
        .where(Source.id == source_id)
        .with_for_update(of=Source)
        .execution_options(populate_existing=True)
    )


def _failed(
    factory: sessionmaker[Session],
    source_id: int,
    problem: Problem,
    *,
    now: datetime,
    every: timedelta,
) -> RunResult | None:
    with transaction(factory) as session:
        source = _locked(session, source_id)
        if source is None:
            return None
        source.failures += 1
        source.next_sync_at = now + every
        error = stored([problem])
        run = SourceRun(source_id=source.id, started_at=now, finished_at=now, errors=1, error=error)
        session.add(run)
        session.flush()
        paused = source.failures >= FAILURES_TO_PAUSE and source.status == SourceStatus.ACTIVE
        if paused:
            source.status = SourceStatus.PAUSED
            source.paused_reason = error
            failures = source.failures
            _tell_staff(
                session,
                source,
                lambda: _(
                    "I've paused {source}: reading it failed {n} times in a row ({error}). Check "
                    "the board's name with the employer, then press Resume in /sources.",
                    source=describe(source),
                    n=failures,
                    error=problem.worded(),
                ),
                kind="source_paused",
                key=f"source-paused:{source.id}:{run.id}",
                now=now,
            )
        log.warning("source %s failed (%s in a row): %s", source.id, source.failures, problem)
        return RunResult(source.id, errors=1, error=str(problem), paused=paused)


# Long because adding, updating and closing a board's listings are one transaction in one pass.
def _apply(
    session: Session,
    source: Source,
    fetched: Fetched,
    *,
    now: datetime,
    every: timedelta,
    quiet: QuietHours,
) -> RunResult:
    source.failures = 0
    source.next_sync_at = now + every
    run = SourceRun(source_id=source.id, started_at=now, finished_at=now)
    session.add(run)
    if fetched.not_modified:
        session.flush()
        return RunResult(source.id)
    source.etag, source.last_modified = fetched.etag, fetched.last_modified
    suitable = title_matcher(source.title_filter)
    wanted: dict[str, Posting] = {}
    for posting in fetched.postings:
        if suitable(posting.title):
            # A posting listed twice is one posting: the last word on it counts.
            wanted[posting.external_id] = posting
    run.skipped = len(fetched.skipped) + len(fetched.postings) - len(wanted)
    if fetched.skipped:
        run.error = stored(fetched.skipped)
    existing = {
        opportunity.external_id: opportunity
        for opportunity in session.scalars(
            select(Opportunity)
            .where(Opportunity.source == source.tag)
            .options(selectinload(Opportunity.tags))
        )
    }
    organisations = _organisations(session, source, wanted.values(), now)
    new_status = OpportunityStatus.PENDING if source.review else OpportunityStatus.OPEN
    reopen = _closed_by_sync(session, [o for k, o in existing.items() if k in wanted])
    for external_id, posting in wanted.items():
        values = _values(posting, organisations)
        if values is None:
            run.skipped += 1
            continue
        tags = (
            list(posting.tags)
            if posting.tags is not None
            else derive_tags(posting.title, posting.description)
        )
        opportunity = existing.get(external_id)
        if opportunity is not None and opportunity.id in reopen:
            # Back on the board after the sync closed it: open (or up for review) again.
            update_opportunity(opportunity, values, tags)
            opportunity.status = new_status
            if new_status == OpportunityStatus.OPEN and opportunity.published_at is None:
                opportunity.published_at = now
            opportunity.updated_at = now
            run.updated += 1
        elif opportunity is None:
            status = OpportunityStatus.PENDING if source.review else OpportunityStatus.OPEN
            session.add(
                Opportunity(
                    source=source.tag,
                    external_id=external_id,
                    # The school that connected the board owns its listings.
                    owner_school_id=source.school_id,
                    status=status,
                    published_at=now if status == OpportunityStatus.OPEN else None,
                    tags=[OpportunityTag(tag=tag) for tag in tags],
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
            run.created += 1
        elif update_opportunity(opportunity, values, tags):
            opportunity.updated_at = now
            run.updated += 1
    gone = [
        opportunity
        for external_id, opportunity in existing.items()
        if external_id not in wanted
        and opportunity.status in (OpportunityStatus.OPEN, OpportunityStatus.PENDING)
    ]
    for opportunity in gone:
        opportunity.status = OpportunityStatus.CLOSED
        opportunity.updated_at = now
    run.closed = len(gone)
    session.flush()
    tell_closed(session, gone, now=now, quiet=quiet)
    if source.review and run.created:
        created = run.created
        _tell_staff(
            session,
            source,
            lambda: _n(
                "{n} new posting from {source} waits for your review in /pending.",
                "{n} new postings from {source} wait for your review in /pending.",
                created,
                source=describe(source),
            ),
            kind="source_review",
            key=f"source-review:{run.id}",
            now=now,
        )
    skipped = SEPARATOR.join(str(p) for p in fetched.skipped[:MAX_KEPT]) or None
    return RunResult(
        source.id, run.created, run.updated, run.closed, run.skipped, run.errors, skipped
    )


def _organisations(
    session: Session, source: Source, postings: Iterable[Posting], now: datetime
) -> dict[str | None, int]:
    """Organisation ids by the posting's company name (None: the source's own employer)."""
    ids: dict[str | None, int] = {}
    if source.organisation_id is not None:
        ids[None] = source.organisation_id
    names = {
        " ".join(p.organisation.split())
        for p in postings
        if p.organisation and source.organisation_id is None
    }
    names.discard("")
    if names:
        found = select(Organisation.name, Organisation.id).where(Organisation.name.in_(names))
        ids.update((name, id_) for name, id_ in session.execute(found))
        for name in sorted(names - ids.keys()):
            organisation = Organisation(name=name, created_at=now)
            session.add(organisation)
            session.flush()
            ids[name] = organisation.id
    return ids


def _closed_by_sync(session: Session, listed: list[Opportunity]) -> set[int]:
    """Which of ``listed`` are closed, but not by a teacher (whose /close is audited)."""
    closed = {o.id for o in listed if o.status == OpportunityStatus.CLOSED}
    if not closed:
        return set()
    by_staff = session.scalars(
        select(AuditEntry.subject_id).where(
            AuditEntry.action == "opportunity_closed", AuditEntry.subject_id.in_(closed)
        )
    )
    return closed - set(by_staff)


def _values(posting: Posting, organisations: dict[str | None, int]) -> dict[str, object] | None:
    key = None if None in organisations else " ".join((posting.organisation or "").split())
    organisation_id = organisations.get(key)
    if organisation_id is None:
        return None
    return {
        "organisation_id": organisation_id,
        "kind": kind_of(posting.title),
        "title": posting.title,
        "description": posting.description,
        "location": posting.location,
        "remote": posting.remote,
        "url": posting.url,
    }


def tell_closed(
    session: Session, closed: list[Opportunity], *, now: datetime, quiet: QuietHours
) -> int:
    """Tell the students who saved or are applying to each of ``closed`` that it has gone.

    Once per student and listing, whoever closes it (the key is the outbox's).
    """
    if not closed:
        return 0
    ids = [opportunity.id for opportunity in closed]
    by_id = {opportunity.id: opportunity for opportunity in closed}
    saved = session.execute(
        select(SavedOpportunity.opportunity_id, SavedOpportunity.person_id).where(
            SavedOpportunity.opportunity_id.in_(ids)
        )
    ).all()
    applied = session.execute(
        select(Interest.opportunity_id, Interest.person_id).where(
            Interest.opportunity_id.in_(ids),
            Interest.person_id.is_not(None),
            Interest.status.in_((InterestStatus.INTERESTED, InterestStatus.INVITED)),
        )
    ).all()
    pairs = sorted({(oid, pid) for oid, pid in [*saved, *applied] if pid is not None})
    people = {
        person.id: person
        for person in session.scalars(
            select(Person).where(Person.id.in_({pid for _oid, pid in pairs}))
        )
    }
    messages = []
    for oid, pid in pairs:
        if pid not in people or people[pid].role != Role.STUDENT:
            continue
        with speaking_to(people[pid]):
            text_ = _(
                "Sorry: {title} — {organisation}, which you saved or applied to, has closed. "
                "There's more to explore in /browse.",
                title=by_id[oid].title,
                organisation=by_id[oid].organisation.name,
            )
        messages.append(
            Outgoing(people[pid], text_, "listing_closed", f"listing-closed:{oid}:{pid}")
        )
    return len(enqueue_many(session, messages, now=now, quiet=quiet))


def _tell_staff(
    session: Session,
    source: Source,
    text_: Callable[[], str],
    *,
    kind: str,
    key: str,
    now: datetime,
) -> None:
    """Tell the teacher who connected the source, or else its school's teachers; ``text_``
    words it in each one's language."""
    connector = session.get(Person, source.created_by_id) if source.created_by_id else None
    if connector is not None and connector.role in STAFF_ROLES:
        staff = [connector]
    elif source.school_id is not None:
        staff = list(
            session.scalars(
                select(Person).where(
                    Person.role.in_(STAFF_ROLES), Person.school_id == source.school_id
                )
            )
        )
    else:
        staff = list(session.scalars(select(Person).where(Person.role == Role.ADMIN)))
    messages = []
    for person in staff:
        with speaking_to(person):
            messages.append(Outgoing(person, text_(), kind, f"{key}:{person.id}"))
    enqueue_many(session, messages, now=now)


def sync_sources(
    factory: sessionmaker[Session],
    fetcher: Fetcher,
    source_ids: list[int],
    *,
    now: datetime,
    every: timedelta,
    quiet: QuietHours,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Sync each of ``source_ids`` in turn (a manual sync, or the due ones)."""
    results = []
    for done, source_id in enumerate(source_ids):
        if progress is not None:
            progress(done, len(source_ids), f"source #{source_id}")
        result = sync_source(factory, source_id, fetcher, now=now, every=every, quiet=quiet)
        if result is not None:
            results.append(result)
    if progress is not None:
        progress(len(source_ids), len(source_ids), "done")
    return results


@contextmanager
def held_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this process may run the job ``name`` now; held until the block ends.

    PostgreSQL: a session-level advisory lock on a connection of its own, so the long job
    holds no transaction open (the board is read over the network meanwhile). SQLite: always
    (one process is supported there).
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"oppbot-job-{name}".encode())
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def close_expired(factory: sessionmaker[Session], now: datetime, timing: Timing) -> int:
    """Close the open listings whose deadline or end date has passed; how many.

    A date is over once it is over everywhere (UTC-12), so no student loses a last day. No
    one is told: students who saved one had their deadline reminders.
    """
    over = (now - timedelta(hours=12)).date()
    with transaction(factory) as session:
        if not try_job_lock(session, "listings.expire"):
            return 0
        expired = session.scalars(
            select(Opportunity).where(
                Opportunity.status == OpportunityStatus.OPEN,
                or_(Opportunity.deadline < over, Opportunity.end_date < over),
            )
        ).all()
        for opportunity in expired:
            opportunity.status = OpportunityStatus.CLOSED
            opportunity.updated_at = now
        return len(expired)


def sync_due(
    factory: sessionmaker[Session],
    now: datetime,
    timing: Timing,
    *,
    fetcher: Fetcher,
    every: timedelta,
) -> list[RunResult]:
    """The scheduled sync: every active source whose time has come, by one process at a time."""
    engine = factory.kw["bind"]
    with held_lock(engine, "sources.sync") as ours:
        if not ours:
            return []
        with factory() as session:
            ids = due_sources(session, now)
        return sync_sources(factory, fetcher, ids, now=now, every=every, quiet=timing.quiet)
