"""Queries shared by handlers, the importer and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Select,
    Subquery,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage import search
from storage.db import dialect_insert
from storage.models import (
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    OpportunityView,
    Person,
    ProcessedEvent,
    Role,
)

ADULT_AGE = 18


@dataclass(frozen=True)
class BrowseFilters:
    kind: OpportunityKind | None = None
    tag: str | None = None
    where: str | None = None
    remote: bool | None = None
    paid: bool | None = None
    text: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in vars(self).values())


def ineligibility(opportunity: Opportunity, person: Person) -> str | None:
    """Why ``person`` may not take part in ``opportunity``, or None if they may."""
    if person.role != Role.STUDENT:
        return None
    if person.under_18 and opportunity.min_age is not None and opportunity.min_age >= ADULT_AGE:
        return f"it is for people aged {opportunity.min_age} or over"
    if person.grade is not None:
        if opportunity.min_grade is not None and person.grade < opportunity.min_grade:
            return f"it is for grade {opportunity.min_grade} and up"
        if opportunity.max_grade is not None and person.grade > opportunity.max_grade:
            return f"it is for grade {opportunity.max_grade} and below"
    return None


def _eligible(person: Person) -> list[object]:
    conditions: list[object] = []
    if person.under_18:
        conditions.append(or_(Opportunity.min_age.is_(None), Opportunity.min_age < ADULT_AGE))
    if person.grade is not None:
        conditions.append(
            or_(Opportunity.min_grade.is_(None), Opportunity.min_grade <= person.grade)
        )
        conditions.append(
            or_(Opportunity.max_grade.is_(None), Opportunity.max_grade >= person.grade)
        )
    return conditions


def browse_query(
    person: Person, filters: BrowseFilters, today: date, hits: Subquery | None = None
) -> Select[tuple[int]]:
    """Ids of the open opportunities ``person`` may apply to that pass ``filters``.

    A search's matches come as ``hits`` (see ``search_hits``): only those are kept.
    """
    conditions: list[object] = [
        Opportunity.status == OpportunityStatus.OPEN,
        or_(Opportunity.deadline.is_(None), Opportunity.deadline >= today),
        *_eligible(person),
    ]
    if filters.kind is not None:
        conditions.append(Opportunity.kind == filters.kind)
    if filters.tag is not None:
        conditions.append(
            exists().where(
                OpportunityTag.opportunity_id == Opportunity.id, OpportunityTag.tag == filters.tag
            )
        )
    if filters.remote is not None:
        conditions.append(Opportunity.remote.is_(filters.remote))
    if filters.paid is not None:
        conditions.append(Opportunity.paid.is_(filters.paid))
    if filters.where:
        conditions.append(Opportunity.location.icontains(filters.where, autoescape=True))
    query = select(Opportunity.id)
    if hits is not None:
        query = query.join(hits, hits.c.id == Opportunity.id)
    return query.where(and_(*conditions))


def search_hits(session: Session, text: str | None) -> Subquery | None:
    """The matches of a search for ``text`` (typos corrected), or None without a search.

    A search with no word that can be looked for (only punctuation) matches nothing.
    """
    if not text:
        return None
    terms = search.correct(session, search.parse(text))
    if not terms:
        return select(Opportunity.id.label("id")).where(false()).subquery("hits")
    return search.matches(session, terms)


def browse_page(
    session: Session,
    person: Person,
    filters: BrowseFilters,
    today: date,
    *,
    page: int,
    page_size: int,
) -> tuple[list[Opportunity], int]:
    """One page of ``browse_query`` as loaded opportunities, and the total count.

    A search lists the listings with every word first, best matches first; otherwise the
    soonest deadline comes first.
    """
    hits = search_hits(session, filters.text)
    query = browse_query(person, filters, today, hits)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[Any] = []
    if hits is not None and "relevance" in hits.c:
        order += [hits.c.complete.desc(), hits.c.relevance.desc()]
    order += [
        Opportunity.deadline.is_(None),
        Opportunity.deadline,
        Opportunity.published_at.desc(),
        Opportunity.id.desc(),
    ]
    ids = session.scalars(query.order_by(*order).offset(page * page_size).limit(page_size)).all()
    if not ids:
        return [], total
    loaded = {
        o.id: o
        for o in session.scalars(
            select(Opportunity)
            .where(Opportunity.id.in_(ids))
            .options(selectinload(Opportunity.organisation))
        )
    }
    return [loaded[i] for i in ids], total


def record_view(
    session: Session, person_id: int, opportunity_id: int, school_id: int | None, now: datetime
) -> None:
    """Note that a student (of ``school_id``) opened a card; only the first time counts, so a
    repeat is a no-op."""
    session.execute(
        dialect_insert(session, OpportunityView.__table__)
        .values(
            person_id=person_id,
            opportunity_id=opportunity_id,
            school_id=school_id,
            first_seen_at=now,
        )
        .on_conflict_do_nothing(index_elements=["person_id", "opportunity_id"])
    )


def first_delivery(
    session: Session, platform: str, event_id: str, now: datetime, *, kept: timedelta
) -> bool:
    """Record a platform event as handled; False if it already was (a redelivery).

    An id handled more than ``kept`` ago is a new event: Telegram numbers updates afresh
    after a week without any, and no platform redelivers an event days later.
    """
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(platform=platform, event_id=event_id, processed_at=now))
    except IntegrityError:
        # One UPDATE, so that of two deliveries of a reused id only one takes it.
        renewed = session.scalar(
            update(ProcessedEvent)
            .where(
                ProcessedEvent.platform == platform,
                ProcessedEvent.event_id == event_id,
                ProcessedEvent.processed_at < now - kept,
            )
            .values(processed_at=now)
            .returning(ProcessedEvent.event_id)
        )
        return renewed is not None
    return True


def forget_handled_events(session: Session, before: datetime) -> int:
    """Forget the events handled before ``before``; returns how many."""
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before))
    return cast("CursorResult[Any]", result).rowcount
