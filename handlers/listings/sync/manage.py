"""Connecting, listing, pausing and removing sources: shared by `oppbot sources` and /sources."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.i18n import _
from handlers.listings.schema import MAX_URL
from handlers.listings.sync.engine import (
    DEFAULT_FILTER,
    EVERYTHING,
    describe,
    filter_words,
    tell_closed,
)
from handlers.listings.sync.problems import worded
from handlers.listings.sync.providers import PROVIDERS
from storage.models import (
    Opportunity,
    OpportunityStatus,
    Organisation,
    Person,
    School,
    Source,
    SourceRun,
    SourceStatus,
)
from storage.outbox import QuietHours

# Board tokens and company identifiers as the providers spell them in their URLs.
_BOARD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_FILTER = 500


class SourceProblem(ValueError):
    """Why a source cannot be connected or changed, worded for the person asking."""


def check_provider(provider: str) -> str:
    name = provider.strip().lower()
    if name not in PROVIDERS:
        raise SourceProblem(
            _(
                "I don't know the provider {provider}. Use one of: {providers}.",
                provider=repr(provider),
                providers=", ".join(PROVIDERS),
            )
        )
    return name


def check_board(provider: str, board: str) -> str:
    value = board.strip()
    if provider == "listings":
        if not value.lower().startswith(("http://", "https://")) or len(value.split()) != 1:
            raise SourceProblem(_("A listings source needs the full web address, https://..."))
        if len(value) > MAX_URL:
            raise SourceProblem(_("Please keep the web address under {n} characters.", n=MAX_URL))
        return value
    if not _BOARD.fullmatch(value):
        raise SourceProblem(
            _(
                "{board} doesn't look like a {provider} board name: it is the last part of the "
                "board's web address, letters, digits, dots, dashes or underscores.",
                board=repr(board),
                provider=PROVIDERS[provider],
            )
        )
    return value


def check_filter(words: str) -> str:
    """A filter as stored: the words, comma-separated; "*" for every posting."""
    found = filter_words(words)
    if not found:
        raise SourceProblem(
            _(
                "Give the words a title must contain, separated by commas (like: {words}), or "
                "{everything} for every posting.",
                words=DEFAULT_FILTER,
                everything=EVERYTHING,
            )
        )
    stored = ", ".join(found)
    if len(stored) > MAX_FILTER:
        raise SourceProblem(_("Please keep the filter under {n} characters.", n=MAX_FILTER))
    return stored


def add_source(
    session: Session,
    provider: str,
    board: str,
    *,
    organisation: Organisation | None,
    school: School | None,
    created_by: Person | None,
    now: datetime,
    title_filter: str | None = None,
    review: bool = False,
) -> Source:
    """Connect a board; its first sync is due at once."""
    name = check_provider(provider)
    board = check_board(name, board)
    if organisation is None and name != "listings":
        raise SourceProblem(
            _("Say which employer's {provider} board it is.", provider=PROVIDERS[name])
        )
    taken = session.scalar(select(Source).where(Source.provider == name, Source.board == board))
    if taken is not None:
        raise SourceProblem(_("That board is already connected: {source}.", source=describe(taken)))
    source = Source(
        provider=name,
        board=board,
        organisation=organisation,
        school=school,
        title_filter=check_filter(title_filter) if title_filter else DEFAULT_FILTER,
        review=review,
        status=SourceStatus.ACTIVE,
        failures=0,
        next_sync_at=now,
        created_by_id=created_by.id if created_by is not None else None,
        created_at=now,
    )
    session.add(source)
    session.flush()
    return source


def visible_sources(session: Session, school_id: int | None) -> list[Source]:
    """The sources of a school (None: every source, for the command line and admins)."""
    query = select(Source).order_by(Source.id)
    if school_id is not None:
        query = query.where(Source.school_id == school_id)
    return list(session.scalars(query))


def last_runs(session: Session, source_ids: list[int]) -> dict[int, SourceRun]:
    latest = (
        select(SourceRun.source_id, func.max(SourceRun.id).label("id"))
        .where(SourceRun.source_id.in_(source_ids))
        .group_by(SourceRun.source_id)
        .subquery()
    )
    return {
        run.source_id: run
        for run in session.scalars(select(SourceRun).join(latest, latest.c.id == SourceRun.id))
    }


def status_lines(source: Source, run: SourceRun | None, when: str | None) -> list[str]:
    """What a teacher sees of a source: what it is, how it is set, and its last run."""
    state = _("active") if source.status == SourceStatus.ACTIVE else _("paused")
    if source.status == SourceStatus.PAUSED and source.paused_reason:
        state = _("paused ({reason})", reason=worded(source.paused_reason))
    setting = (
        _(
            "{state} · new postings wait in /pending · titles with: {words}",
            state=state,
            words=source.title_filter,
        )
        if source.review
        else _(
            "{state} · new postings open at once · titles with: {words}",
            state=state,
            words=source.title_filter,
        )
    )
    lines = [describe(source), setting]
    if run is None:
        lines.append(_("not synced yet"))
    else:
        lines.append(
            _(
                "last run {when}: {created} created, {updated} updated, {closed} closed, "
                "{skipped} skipped, {errors} errors",
                when=when,
                created=run.created,
                updated=run.updated,
                closed=run.closed,
                skipped=run.skipped,
                errors=run.errors,
            )
        )
        if run.errors and run.error:
            lines.append(_("error: {error}", error=worded(run.error)))
    return lines


def remove_source(session: Session, source: Source, *, now: datetime, quiet: QuietHours) -> int:
    """Disconnect a source and close its listings (no one keeps them up to date any more);
    returns how many were closed."""
    listed = list(
        session.scalars(
            select(Opportunity).where(
                Opportunity.source == source.tag,
                Opportunity.status.in_((OpportunityStatus.OPEN, OpportunityStatus.PENDING)),
            )
        )
    )
    for opportunity in listed:
        opportunity.status = OpportunityStatus.CLOSED
        opportunity.updated_at = now
    session.flush()
    tell_closed(session, listed, now=now, quiet=quiet)
    session.delete(source)
    return len(listed)
