"""Queries shared by handlers, the importer and benchmarks."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    CursorResult,
    Select,
    SQLColumnExpression,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate, Update

from storage import search
from storage.db import dialect_insert
from storage.models import (
    Account,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    OpportunityView,
    Organisation,
    Person,
    ProcessedEvent,
    Role,
)
from storage.places import near, pattern, student_keys
from storage.tags import N_, TAGS

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


@dataclass(frozen=True)
class Ineligible:
    """Why a student may not take part: ``reason`` is marked for the catalogues (``N_``) and
    worded where it is shown, ``_(reason, age=..., grade=...)``."""

    reason: str
    age: int | None = None
    grade: int | None = None


def ineligibility(opportunity: Opportunity, person: Person) -> Ineligible | None:
    """Why ``person`` may not take part in ``opportunity``, or None if they may."""
    if person.role != Role.STUDENT:
        return None
    if person.under_18 and opportunity.min_age is not None and opportunity.min_age >= ADULT_AGE:
        return Ineligible(N_("it is for people aged {age} or over"), age=opportunity.min_age)
    if person.grade is not None:
        if opportunity.min_grade is not None and person.grade < opportunity.min_grade:
            return Ineligible(N_("it is for grade {grade} and up"), grade=opportunity.min_grade)
        if opportunity.max_grade is not None and person.grade > opportunity.max_grade:
            return Ineligible(N_("it is for grade {grade} and below"), grade=opportunity.max_grade)
    return None


class _Shape(NamedTuple):
    """What a ``browse_query`` statement looks like for a person and filters; their values
    are bound by name (``_shape``), so one statement per shape is built and compiled."""

    under_18: bool
    graded: bool
    kind: bool
    tag: bool
    remote: bool | None  # these two are tested with IS, which takes no bound value
    paid: bool | None
    where: int | None  # the place's keys (0 when it has none: nothing is there)


_ANYTHING = BrowseFilters()


def _shape(person: Person, filters: BrowseFilters, today: date) -> tuple[_Shape, dict[str, Any]]:
    """The shape of ``browse_query(person, filters, today)`` and the values it binds."""
    values: dict[str, Any] = {"today": today}
    if person.grade is not None:
        values["grade"] = person.grade
    if filters.kind is not None:
        values["kind"] = filters.kind
    if filters.tag is not None:
        values["tag"] = filters.tag
    places = student_keys(filters.where) if filters.where else []
    values.update({f"where{n}": pattern(key) for n, key in enumerate(places)})
    shape = _Shape(
        under_18=bool(person.under_18),
        graded=person.grade is not None,
        kind=filters.kind is not None,
        tag=filters.tag is not None,
        remote=filters.remote,
        paid=filters.paid,
        where=len(places) if filters.where else None,
    )
    return shape, values


_OPPORTUNITIES = Opportunity.__table__


def _matching(shape: _Shape, hits: CTE | None = None) -> Select[int]:
    """``browse_query`` for ``shape``, its values bound by name: cached without ``hits``."""
    if hits is None:
        return _matching_cached(shape)
    return _build_matching(shape, hits)


@functools.cache
def _matching_cached(shape: _Shape) -> Select[int]:
    return _build_matching(shape, None)


def _build_matching(shape: _Shape, hits: CTE | None, rows: Table = _OPPORTUNITIES) -> Select[int]:
    """The ids of ``rows`` (the listings, or PostgreSQL's ``search.OPEN_LISTINGS`` of the open
    ones, which has the same columns but the status) that ``shape`` keeps."""
    c = rows.c
    conditions: list[ColumnElement[bool]] = [
        or_(c.deadline.is_(None), c.deadline >= bindparam("today")),
    ]
    if rows is _OPPORTUNITIES:
        conditions.insert(0, c.status == OpportunityStatus.OPEN)
    # Eligibility (age, grade): a hard filter, like ``ineligibility``.
    if shape.under_18:
        conditions.append(or_(c.min_age.is_(None), c.min_age < ADULT_AGE))
    if shape.graded:
        conditions.append(or_(c.min_grade.is_(None), c.min_grade <= bindparam("grade")))
        conditions.append(or_(c.max_grade.is_(None), c.max_grade >= bindparam("grade")))
    if shape.kind:
        conditions.append(c.kind == bindparam("kind"))
    if shape.tag:
        conditions.append(
            exists().where(
                OpportunityTag.opportunity_id == c.id,
                OpportunityTag.tag == bindparam("tag"),
            )
        )
    if shape.remote is not None:
        conditions.append(c.remote.is_(shape.remote))
    if shape.paid is not None:
        conditions.append(c.paid.is_(shape.paid))
    if shape.where is not None:
        # In a place: one of its keys, whole, as "near" in the "for you" score.
        keys = [c.place_keys.like(bindparam(f"where{n}")) for n in range(shape.where)]
        conditions.append(or_(*keys) if keys else false())
    query = select(c.id)
    if hits is not None:
        query = query.join(hits, hits.c.id == c.id)
    return query.where(and_(*conditions))


def browse_query(
    person: Person, filters: BrowseFilters, today: date, hits: CTE | None = None
) -> Select[int]:
    """Ids of the open opportunities ``person`` may apply to that pass ``filters``.

    A search's matches come as ``hits`` (see ``search_hits``): only those are kept.
    """
    shape, values = _shape(person, filters, today)
    return _matching(shape, hits).params(values)


def search_hits(session: Session, text: str | None) -> CTE | None:
    """The matches of a search for ``text`` (typos corrected), or None without a search.

    A search with no word that can be looked for (only punctuation) matches nothing.
    """
    terms = search_terms(session, text)
    if terms is None:
        return None
    if not terms:
        return select(Opportunity.id.label("id")).where(false()).cte("hits")
    return search.matches(session, terms)


def search_terms(session: Session, text: str | None) -> list[search.Term] | None:
    """The terms of a search for ``text``, typos corrected, or None without a search."""
    return search.correct(session, search.parse(text)) if text else None


# How soon a deadline or how recent a listing counts for the "for you" score.
SOON = timedelta(days=14)
ORDERS = ("for_you", "soonest", "newest")


_ScoreShape = tuple[int, int, bool]


def for_you_score(person: Person, today: date) -> tuple[_ScoreShape, dict[str, object]]:
    """The "for you" score of an opportunity for ``person``: the sum of a few weighted facts.

    ====  =====================================================================
    +4    it is in one of the student's fields (their tags)
    +3    it is near where the student can get to (one of its places is their
          town or postcode area, whole: ``storage.places``), or remote when
          the student wants remote work
    +2    it closes within 14 days
    +1    it was published in the last 14 days
    +1    it is paid
    ====  =====================================================================

    Eligibility (age, grade) is not part of it: it is a hard filter. Ties go to the soonest
    deadline. ``reasons`` says the same facts in words.

    Returns the shape of the score's expression (``_score``'s arguments: it is built once
    per shape) and the values of its parameters for this student and day. Each listing's
    part is in its own row (``Opportunity.tag_list`` holds its fields), so the score is a few
    comparisons per listing, read from ``ix_opportunities_match``.
    """
    keys = student_keys(person.place) if person.place else []
    values: dict[str, object] = {"closes_by": today + SOON, "new_since": _midnight(today - SOON)}
    # Tags and place keys are letters, digits and spaces, nothing a LIKE pattern would take as
    # a wildcard. The patterns are whole here, not put together in SQL for every listing.
    values.update({f"field{n}": f"% {tag} %" for n, tag in enumerate(person.tag_names)})
    values.update({f"place{n}": pattern(key) for n, key in enumerate(keys)})
    return (len(person.tag_names), len(keys), bool(person.wants_remote)), values


@functools.cache
def _score(fields: int, places: int, remote: bool, rows: Table) -> ColumnElement[int]:
    """``for_you_score``'s expression for a student with ``fields`` fields and ``places`` place
    keys, who wants remote work or not, on ``rows`` (see ``_rows``): built once for each shape,
    the student's values are bound."""
    c = rows.c
    terms: list[ColumnElement[int]] = [
        case((c.deadline <= bindparam("closes_by"), 2), else_=0),
        case((c.published_at >= bindparam("new_since"), 1), else_=0),
        case((c.paid.is_(True), 1), else_=0),
    ]
    if fields:
        mine = or_(*(c.tag_list.like(bindparam(f"field{n}")) for n in range(fields)))
        terms.append(case((mine, 4), else_=0))
    # Keys are in lower case on both sides: a plain LIKE, no ``lower()`` on every listing.
    close: list[ColumnElement[bool]] = [
        c.place_keys.like(bindparam(f"place{n}")) for n in range(places)
    ]
    if remote:
        close.append(c.remote.is_(True))
    if close:
        terms.append(case((or_(*close), 3), else_=0))
    return sum(terms[1:], terms[0])


@dataclass(frozen=True)
class Reason:
    """One fact of the for-you score; handlers word it in the reader's language."""

    what: Literal["field", "near", "remote", "closes", "paid", "new"]
    tag: str = ""  # the field's tag
    place: str = ""  # the person's place the listing is near
    days: int = 0  # how many days until it closes


def reasons(opportunity: Opportunity | Line, person: Person, today: date) -> list[Reason]:
    """Why ``opportunity`` is in ``person``'s list (the facts of the score)."""
    said: list[Reason] = []
    # The listing's fields as the score read them (its ``tag_list``), in the tags' order.
    listed = sorted(opportunity.tag_list.split())
    fields = [t for t in listed if t in person.tag_names and t in TAGS]
    if fields:
        said.append(Reason("field", tag=fields[0]))
    if person.place and near(opportunity.place_keys, student_keys(person.place)):
        said.append(Reason("near", place=person.place or ""))
    elif opportunity.remote and person.wants_remote:
        said.append(Reason("remote"))
    if opportunity.deadline is not None and opportunity.deadline <= today + SOON:
        said.append(Reason("closes", days=(opportunity.deadline - today).days))
    if opportunity.paid:
        said.append(Reason("paid"))
    if opportunity.published_at and opportunity.published_at >= _midnight(today - SOON):
        said.append(Reason("new"))
    return said


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def browse_page(
    session: Session,
    person: Person,
    filters: BrowseFilters,
    today: date,
    *,
    page: int,
    page_size: int,
    order: str = "for_you",
) -> tuple[list[Opportunity], int]:
    """One page of ``browse_query`` as loaded opportunities, and the total count.

    A search lists the listings with every word first, best matches first. Otherwise
    ``order`` is "for_you" (``for_you_score``), "soonest" (deadline) or "newest". Of the
    listings for one role (same organisation, same ``Opportunity.title_key``), only the
    best-placed one is on the list: ``elsewhere`` tells where else it is.

    Without a search, every statement is built once per shape (``_Shape``, the order, the
    score's shape) and the values are bound: a page costs no statement building.
    """
    ids, total = _page(session, person, filters, today, page, page_size, order)
    loaded = {o.id: o for o in session.scalars(_listings(), {"ids": ids})}
    return [loaded[i] for i in ids], total


@dataclass(frozen=True)
class Line:
    """A listing as a line of a list shows it: what the line and its "for you" reasons
    read, without loading the opportunity and its organisation as objects."""

    id: int
    title: str
    organisation: str
    location: str
    deadline: date | None
    remote: bool
    paid: bool | None
    published_at: datetime | None
    tag_list: str
    place_keys: str


def browse_lines(
    session: Session,
    person: Person,
    filters: BrowseFilters,
    today: date,
    *,
    page: int,
    page_size: int,
    order: str = "for_you",
) -> tuple[list[Line], int]:
    """``browse_page`` as lines (one statement of a few columns for the page's listings)."""
    ids, total = _page(session, person, filters, today, page, page_size, order)
    found = {row.id: Line(*row) for row in session.execute(_lines(), {"ids": ids})}
    return [found[i] for i in ids], total


def _page(
    session: Session,
    person: Person,
    filters: BrowseFilters,
    today: date,
    page: int,
    page_size: int,
    order: str,
) -> tuple[list[int], int]:
    """The ids of ``browse_page``'s listings, in order, and the total count."""
    terms = search_terms(session, filters.text)
    if terms == []:
        return [], 0  # nothing that can be looked for: nothing matches
    shape, values = _shape(person, filters, today)
    rows = _rows(session)
    key: search.Key = None
    if terms is None:
        counting = _counting_cached(shape, rows)
    else:
        key, words = search.query(session, terms)
        values |= words
        counting = _search_counting(shape, key, rows)
    # As many lines as roles, and how many listings they have between them: counted without
    # ranking anything (a search's matches without scoring them).
    total, listings = session.execute(counting, values).one()
    wanted = (page + 1) * page_size
    if total <= page * page_size:
        return [], total
    per_role_read = -(-2 * int(listings) // total)
    if terms is None:
        ranked, score_values = _ranked(shape, rows, person, today, order)
        return _best_of_each_role(session, ranked, values | score_values, wanted, per_role_read)[
            page * page_size :
        ], total
    # The listings with every word come first: when they fill the page, the others are not
    # scored at all. On SQLite only the leading ones are looked up (``search.leading``): if
    # too few of them are eligible, the second round has every match anyway.
    ranked = _search_ranked(shape, key, rows, complete_only=True)
    ids = _best_of_each_role(session, ranked, values, wanted, per_role_read)
    if len(ids) < wanted:
        ranked = _search_ranked(shape, key, rows, complete_only=False)
        ids = _best_of_each_role(session, ranked, values, wanted, per_role_read)
    return ids[page * page_size :], total


def _rows(session: Session) -> Table:
    """What a page reads the listings from: on PostgreSQL its narrow table of the open ones
    (``search.OPEN_LISTINGS``); on SQLite the listings, whose match index holds what a page
    reads and whose full-text index is a table of the open ones already."""
    if session.get_bind().dialect.name == "postgresql":
        return search.OPEN_LISTINGS
    return _OPPORTUNITIES


@functools.cache
def _search_counting(shape: _Shape, key: search.Key, rows: Table) -> Select[int, int]:
    """``_counting`` of a search's matches: those with some term, found without scoring."""
    if key is None:
        # The open listings read from the match index in its order, each checked against the
        # matches found once: no lookup in the table per match, no sort to group the roles.
        matched = _build_matching(shape, None, rows).where(rows.c.id.in_(search.fts_rows()))
    else:
        # The match is a condition on the row itself: one pass over ``search.OPEN_LISTINGS``.
        matched = _build_matching(shape, None, rows).where(search.found(key, every=False))
    return _counting(matched, rows)


@functools.cache
def _search_ranked(
    shape: _Shape, key: search.Key, rows: Table, *, complete_only: bool
) -> Select[Any]:
    """The ids of a search's matches in ``rows`` (``_rows``) best first, each with its role, the
    first "limit" of them:
    those with every term only if ``complete_only``, and then on SQLite only the leading ones
    (``search.leading``: as many as the rows asked for, "skip" bound)."""
    keys: list[SQLColumnExpression[Any]] = []
    if key is None:
        scores = search.scored(complete_only)
        matched = _build_matching(shape, scores)
        if complete_only:
            matched = matched.where(search.leading(scores))
        keys += [scores.c.complete.desc(), scores.c.relevance.desc()]
    else:
        matched = _build_matching(shape, None, rows).where(search.found(key, complete_only))
        if not complete_only:
            keys.append(search.found(key, every=True).desc())
        keys.append(search.relevance(key).desc())
    return _ordered(matched, rows, keys)


@functools.cache
def _lines() -> Select[
    int, str, str, str, date | None, bool, bool | None, datetime | None, str, str
]:
    """The ``Line`` of each listing whose id is bound in "ids"."""
    return (
        select(
            Opportunity.id,
            Opportunity.title,
            Organisation.name,
            Opportunity.location,
            Opportunity.deadline,
            Opportunity.remote,
            Opportunity.paid,
            Opportunity.published_at,
            Opportunity.tag_list,
            Opportunity.place_keys,
        )
        .join(Organisation, Organisation.id == Opportunity.organisation_id)
        .where(Opportunity.id.in_(bindparam("ids", expanding=True)))
    )


def _role(rows: Table) -> list[ColumnElement[Any]]:
    """What tells a listing's role in ``rows``: PostgreSQL's ``search.OPEN_LISTINGS`` has it as
    one number (migration 0021), the listings as the organisation and the title key."""
    if "role" in rows.c:
        return [rows.c.role]
    return [rows.c.organisation_id, rows.c.title_key]


def _counting(matched: Select[int], rows: Table = _OPPORTUNITIES) -> Select[int, int]:
    """How many roles ``matched`` has, and how many listings between them."""
    per_role = (
        matched.with_only_columns(func.count().label("listings")).group_by(*_role(rows)).subquery()
    )
    return select(func.count(), func.coalesce(func.sum(per_role.c.listings), 0))


@functools.cache
def _counting_cached(shape: _Shape, rows: Table) -> Select[int, int]:
    return _counting(_build_matching(shape, None, rows), rows)


@functools.cache
def _listings() -> Select[Opportunity]:
    """The listings with the ids bound as "ids", with their organisations (a card names it)."""
    return (
        select(Opportunity)
        .where(Opportunity.id.in_(bindparam("ids", expanding=True)))
        .options(joinedload(Opportunity.organisation))
    )


def _ranked(
    shape: _Shape, rows: Table, person: Person, today: date, order: str
) -> tuple[Select[Any], dict[str, object]]:
    """The ids of ``shape``'s listings in ``rows`` best first (see ``browse_page``), each with
    its role, the first "limit" of them; and the values the order binds."""
    score: _ScoreShape | None = None
    values: dict[str, object] = {}
    if order == "for_you":
        score, values = for_you_score(person, today)
    return _ranked_cached(shape, rows, order, score), values


@functools.cache
def _ranked_cached(
    shape: _Shape, rows: Table, order: str, score: _ScoreShape | None
) -> Select[Any]:
    keys: list[SQLColumnExpression[Any]] = []
    if order == "newest":
        keys += [rows.c.published_at.desc()]
    elif score is not None:
        keys += [_score(*score, rows).desc()]
    return _ordered(_build_matching(shape, None, rows), rows, keys)


def _ordered(
    matched: Select[int], rows: Table, keys: list[SQLColumnExpression[Any]]
) -> Select[Any]:
    """``matched`` in the order of ``keys``, then the soonest deadline, the newest and the
    highest id; with each listing's role (``_role``); the first "limit"."""
    c = rows.c
    return (
        matched.order_by(
            *keys, c.deadline.is_(None), c.deadline, c.published_at.desc(), c.id.desc()
        )
        .add_columns(*_role(rows))
        .limit(bindparam("limit"))
    )


def _best_of_each_role(
    session: Session,
    ranked: Select[Any],
    values: dict[str, object],
    wanted: int,
    per_role: int,
) -> list[int]:
    """The ids of the first ``wanted`` roles' best listings in the order of ``ranked``.

    The rows come best first, so a role's first row is its best listing and the roles are
    in the order of their best listings. Only the first rows are read (a LIMIT, which the
    database meets by keeping the best rows instead of sorting them all): ``per_role`` rows
    for each role wanted, and four times as many again while that is not enough.
    """
    limit = wanted * per_role
    while True:
        # "skip" only counts where ``search.leading`` reads it: the leading matches are as
        # many as the rows asked for.
        rows = session.execute(ranked, {**values, "limit": limit, "skip": limit - 1}).all()
        best: dict[tuple[Any, ...], int] = {}
        for listing, *role in rows:
            best.setdefault(tuple(role), listing)
            if len(best) == wanted:
                return list(best.values())
        if len(rows) < limit:
            return list(best.values())
        limit *= 4


@dataclass(frozen=True)
class Elsewhere:
    """The other open listings of a role: the places they add, and how many there are."""

    places: tuple[str, ...]
    listings: int


_MORE_PLACES = re.compile(r"and \d+ more")


def places(location: str) -> list[str]:
    """The places of a location as the importer joins them ("Leeds; York; and 2 more")."""
    return [
        p.strip()
        for p in location.split(";")
        if p.strip() and not _MORE_PLACES.fullmatch(p.strip())
    ]


def elsewhere(
    session: Session, person: Person, today: date, shown: Sequence[Opportunity | Line]
) -> dict[int, Elsewhere]:
    """For each of ``shown`` that has them, the other open listings of its role that
    ``person`` may apply to (see ``Opportunity.title_key``), by the shown listing's id."""
    if not shown:
        return {}
    shape, values = _shape(person, _ANYTHING, today)
    rows = session.execute(
        _elsewhere(shape.under_18, shape.graded), {**values, "shown": [o.id for o in shown]}
    ).all()
    found: dict[int, tuple[list[str], int]] = {}
    own = {o.id: set(places(o.location)) for o in shown}
    for shown_id, location in rows:
        added, count = found.get(shown_id, ([], 0))
        for place in places(location):
            if place not in own[shown_id] and place not in added:
                added.append(place)
        found[shown_id] = (added, count + 1)
    return {i: Elsewhere(tuple(added), count) for i, (added, count) in found.items()}


@functools.cache
def _elsewhere(under_18: bool, graded: bool) -> Select[int, str]:
    """``elsewhere``'s statement for a student of this shape: the listings bound as "shown"."""
    other = aliased(Opportunity)
    eligible = _matching(_Shape(under_18, graded, False, False, None, None, None))
    return (
        select(Opportunity.id, other.location)
        .join(
            other,
            and_(
                other.organisation_id == Opportunity.organisation_id,
                other.title_key == Opportunity.title_key,
                other.id != Opportunity.id,
            ),
        )
        .where(Opportunity.id.in_(bindparam("shown", expanding=True)), other.id.in_(eligible))
        .order_by(Opportunity.id, other.id)
    )


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
    # One statement that skips a known id (no savepoint and no error to catch per update);
    # PostgreSQL makes a concurrent delivery of the same id wait and then skip it.
    key = {"event_platform": platform, "event": event_id, "now": now}
    if session.scalar(_record_event(session.get_bind().dialect.name), key) is None:
        # One UPDATE, so that of two deliveries of a reused id only one takes it.
        return session.scalar(_renew_event(), {**key, "before": now - kept}) is not None
    return True


@functools.cache
def _record_event(dialect: str) -> ReturningInsert[str]:
    events = ProcessedEvent.__table__
    insert = postgresql.insert(events) if dialect == "postgresql" else sqlite.insert(events)
    return (
        insert.values(
            platform=bindparam("event_platform"),
            event_id=bindparam("event"),
            processed_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(events.c.event_id)
    )


@functools.cache
def _renew_event() -> ReturningUpdate[str]:
    events = ProcessedEvent.__table__
    return (
        update(events)
        .where(
            events.c.platform == bindparam("event_platform"),
            events.c.event_id == bindparam("event"),
            events.c.processed_at < bindparam("before"),
        )
        .values(processed_at=bindparam("now"))
        .returning(events.c.event_id)
    )


def seen_account(
    session: Session, platform: str, external_id: str, chat_id: str, now: datetime
) -> Account | None:
    """The account ``external_id`` on ``platform``, with its person, recorded as seen ``now``
    in ``chat_id`` and reachable again; None if there is no such account.

    The row is written with one UPDATE before it is loaded, not changed on the loaded
    object: nothing is left for the session to flush (a unit of work per update, the
    largest cost of a short command after its own queries).
    """
    key = {"account_platform": platform, "account": external_id}
    written = session.execute(_see_account(), {**key, "chat": chat_id, "now": now})
    if not cast("CursorResult[Any]", written).rowcount:
        return None
    return session.scalars(_account_with_person(), key).unique().one()


@functools.cache
def _see_account() -> Update:
    accounts = Account.__table__
    return (
        update(accounts)
        .where(
            accounts.c.platform == bindparam("account_platform"),
            accounts.c.external_id == bindparam("account"),
        )
        # Writing to us again means they can be reached again (they unblocked the bot).
        .values(chat_id=bindparam("chat"), last_seen_at=bindparam("now"), unreachable_at=None)
    )


@functools.cache
def _account_with_person() -> Select[Account]:
    return (
        select(Account)
        .where(
            Account.platform == bindparam("account_platform"),
            Account.external_id == bindparam("account"),
        )
        # Every handler reads the person; a student's fields order their lists (one join
        # here, not a lazy load later).
        .options(joinedload(Account.person).joinedload(Person.tags))
    )


def set_language(session: Session, person: Person, lang: str) -> None:
    """Record ``person``'s language, where none is known yet, with one UPDATE (nothing left
    to flush, as above). Filling in only an unknown language never undoes a person's choice,
    and is what lets the commit skip the wait for the disk (``storage.durability``)."""
    session.execute(_set_language(), {"person": person.id, "lang": lang})
    set_committed_value(person, "language", lang)


@functools.cache
def _set_language() -> Update:
    people = Person.__table__
    return (
        update(people)
        .where(people.c.id == bindparam("person"), people.c.language.is_(None))
        .values(language=bindparam("lang"))
    )


def forget_handled_events(session: Session, before: datetime) -> int:
    """Forget the events handled before ``before``; returns how many."""
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before))
    return cast("CursorResult[Any]", result).rowcount
