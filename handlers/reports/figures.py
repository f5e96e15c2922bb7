"""The partnership's figures: what each employer and the partnership as a whole did in a period.

Pure computation shared by the chat report, the objectives and ``oppbot report``. Every figure
comes from a handful of aggregate queries grouped by organisation, whatever the number of
employers; each query aggregates several periods at once (a CASE per period), so the current
period, the previous one and any objective's window cost no more queries than one period.

Dates are inclusive and a day runs from midnight to midnight in the period's time zone (the
viewer's), so "today" in the report is the day the viewer is living.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import Select

from bot.i18n import _, _n, current, fmt_number
from handlers.reports.period_words import period_in_english
from storage.models import (
    Feedback,
    HoursEntry,
    HoursStatus,
    Interest,
    InterestMessage,
    InterestStatus,
    Opportunity,
    OpportunityView,
    Placement,
    Role,
)

DEFAULT_DAYS = 90
# A bare "week" or "month" is the last 7 or 30 days; "this month" and "last month" follow the
# calendar (see ``parse_period``).
NAMED_PERIODS = {"week": 7, "month": 30, "term": 90, "year": 365}
# Long enough for any school's history; with the earliest year, the previous period's dates
# never fall off the calendar.
MAX_DAYS = 3660
EARLIEST_YEAR = 2000
# Far enough for a period planned ahead; no further, so no date runs off the calendar.
MAX_REPORT_AHEAD = timedelta(days=366)


def example_period(today: date) -> str:
    """Two dates for an example: from the first of the month three months ago to today."""
    months = today.year * 12 + today.month - 1 - 3
    return f"{date(months // 12, months % 12 + 1, 1):%Y-%m-%d} {today:%Y-%m-%d}"


def period_help(today: date) -> str:
    # Translators: write the periods as a teacher would type them in your language; the bot
    # reads them back (handlers/reports/period_words.py), and English too.
    return _(
        "Say the period like 30d, week, this month, last month, term, year, "
        "or two dates: {example}.",
        example=example_period(today),
    )


_DAYS = re.compile(r"(\d{1,5}) ?(?:d|days?)")
_DATES = re.compile(r"(\d{4}-\d{2}-\d{2}) ?(?:\.\.|to| ) ?(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Period:
    """The days from ``start`` to ``end``, both included, as lived in ``zone``."""

    start: date
    end: date
    zone: tzinfo = UTC

    @classmethod
    def last(cls, days: int, today: date, zone: tzinfo = UTC) -> Period:
        return cls(today - timedelta(days=days - 1), today, zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.zone
        )

    @property
    def start_at(self) -> datetime:
        return _midnight(self.start, self.zone)

    @property
    def end_at(self) -> datetime:
        """The first moment after the period."""
        return _midnight(self.end + timedelta(days=1), self.zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    """The moment ``day`` begins in ``zone``, in UTC like every stored timestamp."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def days_text(count: int) -> str:
    return _n("{n} day", "{n} days", count)


class PeriodError(ValueError):
    """A period that can't be reported on; the message is the sentence to show the person."""


def parse_period(text: str, today: date, zone: tzinfo = UTC) -> Period:
    """A period as people type it: nothing (this term), 30d, 30 days, week, month, term, year
    (the last 7, 30, 90 or 365 days), this week, this month, this year (the calendar week
    from Monday, month or year to today), last week, last month, last year (the previous
    calendar one), or two dates (``2026-09-01 2026-12-20`` or ``2026-09-01..2026-12-20``).
    ``today`` is the viewer's date in ``zone``."""
    words = period_in_english(" ".join(text.lower().split()), current())
    if calendar := _calendar(words, today):
        return Period(*calendar, zone)
    if words == "last term":
        # Terms differ from school to school; the bot doesn't know this school's dates.
        raise PeriodError(
            # Translators: "term" as typed in your language (see handlers/reports/period_words.py).
            _(
                "I don't know your term dates. Give them, like {example}, "
                "or say term for the last 90 days.",
                example=example_period(today),
            )
        )
    words = words.removeprefix("this ").removeprefix("last ")
    if not words:
        return Period.last(DEFAULT_DAYS, today, zone)
    if words in NAMED_PERIODS:
        return Period.last(NAMED_PERIODS[words], today, zone)
    if days := _DAYS.fullmatch(words):
        count = int(days[1])
        if not 1 <= count <= MAX_DAYS:
            raise PeriodError(_("Please choose between 1 and {most} days.", most=MAX_DAYS))
        return Period.last(count, today, zone)
    dates = _DATES.fullmatch(words)
    if dates is None:
        raise PeriodError(_("I don't understand that period. {help}", help=period_help(today)))
    try:
        period = Period(date.fromisoformat(dates[1]), date.fromisoformat(dates[2]), zone)
    except ValueError:
        raise PeriodError(_("That isn't a real date. {help}", help=period_help(today))) from None
    if period.end < period.start:
        raise PeriodError(_("The period ends before it starts. Put the earlier date first."))
    if period.end > today + MAX_REPORT_AHEAD:
        raise PeriodError(
            _("That period ends more than a year from now. Please choose nearer dates.")
        )
    if period.days > MAX_DAYS:
        raise PeriodError(_("Please choose a period of at most {most} days.", most=MAX_DAYS))
    if period.start.year < EARLIEST_YEAR:
        raise PeriodError(_("Please choose dates from {year} on.", year=EARLIEST_YEAR))
    return period


def _calendar(words: str, today: date) -> tuple[date, date] | None:
    """The calendar week, month or year people mean by "this ..." or "last ..."."""
    match words:
        case "this week":
            return today - timedelta(days=today.weekday()), today
        case "last week":
            monday = today - timedelta(days=today.weekday() + 7)
            return monday, monday + timedelta(days=6)
        case "this month":
            return today.replace(day=1), today
        case "last month":
            end = today.replace(day=1) - timedelta(days=1)
            return end.replace(day=1), end
        case "this year":
            return today.replace(month=1, day=1), today
        case "last year":
            return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return None


@dataclass(frozen=True)
class Scope:
    """Whose figures: one school's students (None: every school) and one employer (None: all)."""

    school_id: int | None = None
    organisation_id: int | None = None


@dataclass
class Mean:
    total: float = 0
    count: int = 0

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class Figures:
    """One employer's (or everyone's) figures over one period."""

    published: int = 0
    reached: int = 0
    interests: int = 0
    # Interests whose details reached the employer and that were answered or still can be (not
    # withdrawn, nor of a student who deleted their data), and how many the employer answered.
    answerable: int = 0
    replied: int = 0
    reply_hours: list[float] = field(default_factory=list)
    invitations: int = 0
    placements: int = 0
    minutes: int = 0
    student_rating: Mean = field(default_factory=Mean)
    supervisor_rating: Mean = field(default_factory=Mean)

    @property
    def hours(self) -> float:
        return self.minutes / 60

    @property
    def reply_rate(self) -> float | None:
        """The share of interests the employer answered, in percent."""
        return 100 * self.replied / self.answerable if self.answerable else None

    @property
    def median_reply_hours(self) -> float | None:
        return statistics.median(self.reply_hours) if self.reply_hours else None

    def value(self, metric: str) -> float | None:
        """The figure an objective's metric names (see ``handlers.reports.objectives.METRICS``)."""
        match metric:
            case "reply_rate":
                return self.reply_rate
            case "reply_days":
                hours = self.median_reply_hours
                return hours / 24 if hours is not None else None
            case "student_rating" | "supervisor_rating":
                mean: Mean = getattr(self, metric)
                return mean.value
            case "hours":
                return self.hours
            case _:
                return float(getattr(self, metric))

    @property
    def activity(self) -> int:
        """How much happened with students, publishing aside: what earns an employer its own
        lines in a school's report, and its place in the chart."""
        return (
            self.reached
            + self.interests
            + self.invitations
            + self.placements
            + (1 if self.minutes else 0)
            + self.student_rating.count
            + self.supervisor_rating.count
        )

    @property
    def empty(self) -> bool:
        return not (self.published or self.activity)

    def add(self, other: Figures) -> None:
        """Fold ``other`` into these figures, all but the students reached: one student may
        have seen several employers' cards, so ``compute`` counts them overall itself."""
        for name in _ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reply_hours += other.reply_hours
        for mine, theirs in (
            (self.student_rating, other.student_rating),
            (self.supervisor_rating, other.supervisor_rating),
        ):
            mine.total += theirs.total
            mine.count += theirs.count


_ADDITIVE = (
    "published",
    "interests",
    "answerable",
    "replied",
    "invitations",
    "placements",
    "minutes",
)


@dataclass
class Breakdown:
    """One period's figures: overall and per organisation id (only those with any)."""

    overall: Figures = field(default_factory=Figures)
    employers: dict[int, Figures] = field(default_factory=dict)

    def of(self, organisation_id: int | None) -> Figures:
        if organisation_id is None:
            return self.overall
        return self.employers.get(organisation_id) or Figures()


# A column as a query names it: a mapped attribute or any expression.
Column = ColumnElement[Any] | InstrumentedAttribute[Any]
# A SELECT of any columns.
AnySelect = Select[*tuple[Any, ...]]


def during(column: Column, period: Period) -> ColumnElement[bool]:
    """Whether ``column`` falls in ``period``: a date by its day, a timestamp between the
    midnights that begin and end the period in its time zone."""
    if column.type.python_type is date:
        return column.between(period.start, period.end)
    return and_(column >= period.start_at, column < period.end_at)


def span(periods: Sequence[Period]) -> Period:
    """The one period covering all of ``periods`` (and any days between them)."""
    return Period(min(p.start for p in periods), max(p.end for p in periods), periods[0].zone)


def within(column: Column, periods: Sequence[Period]) -> ColumnElement[bool]:
    """Whether ``column`` falls in the span of ``periods``: each query reads only those rows."""
    return during(column, span(periods))


def counts(
    column: Column, periods: Sequence[Period], value: Column | None = None
) -> list[ColumnElement[int]]:
    """One count per period: rows (or distinct ``value``s) whose ``column`` falls in it."""
    if value is None:
        return [func.count(case((during(column, p), literal(1)))) for p in periods]
    return [func.count(distinct(case((during(column, p), value)))) for p in periods]


def students_of_school(query: AnySelect, school: Column, scope: Scope) -> AnySelect:
    """Only the scope's school's students (everyone's, for a scope of every school).

    The school is the one stored on the row when it was written, so a student who deletes
    their data still counts for it, as their placements, hours and feedback do.
    """
    if scope.school_id is None:
        return query
    return query.where(school == scope.school_id)


def of_employer(scope: Scope) -> list[ColumnElement[bool]]:
    """Only the opportunities of the scope's employer (any, for a scope of every employer)."""
    if scope.organisation_id is None:
        return []
    return [Opportunity.organisation_id == scope.organisation_id]


def of_placements(scope: Scope) -> list[ColumnElement[bool]]:
    """Only the placements of the scope's school and employer.

    Placements keep their school and employer after the student deletes their data.
    """
    conditions = []
    if scope.school_id is not None:
        conditions.append(Placement.school_id == scope.school_id)
    if scope.organisation_id is not None:
        conditions.append(Placement.organisation_id == scope.organisation_id)
    return conditions


@dataclass
class _Tally:
    """The figures being computed: whose, over which periods, and the breakdowns so far (one
    per period, in the periods' order)."""

    session: Session
    scope: Scope
    periods: Sequence[Period]
    result: list[Breakdown] = field(init=False)

    def __post_init__(self) -> None:
        self.result = [Breakdown() for _ in self.periods]

    def rows(self, query: AnySelect) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.session.execute(query)]

    def put(self, org_id: int, index: int) -> Figures:
        """The figures of one employer in the period at ``index``, created on first use."""
        return self.result[index].employers.setdefault(org_id, Figures())

    def store(self, query: AnySelect, name: str) -> None:
        """Rows of (organisation id, one number per period) into each employer's figure
        ``name``."""
        for org_id, *values in self.rows(query):
            for i, n in enumerate(values):
                setattr(self.put(org_id, i), name, int(n))


def compute(session: Session, scope: Scope, periods: Sequence[Period]) -> list[Breakdown]:
    """The figures of ``scope`` for each of ``periods``, in the same order."""
    if not periods:
        return []
    tally = _Tally(session, scope, periods)
    for metric in _METRICS:
        metric(tally)
    for breakdown in tally.result:
        for figures in breakdown.employers.values():
            breakdown.overall.add(figures)
    return tally.result


def published(tally: _Tally) -> None:
    """Opportunities published, by their employer. Opportunities are shared by every school, so
    a school sees all of them."""
    query = select(Opportunity.organisation_id, *counts(Opportunity.published_at, tally.periods))
    tally.store(
        query.where(
            within(Opportunity.published_at, tally.periods), *of_employer(tally.scope)
        ).group_by(Opportunity.organisation_id),
        "published",
    )


def reached(tally: _Tally) -> None:
    """Students who opened an employer's card, per employer and overall: one student who saw
    two employers' cards is one student reached overall."""
    # A student who deleted their data keeps counting, once per card, under a key of their own.
    viewer = func.coalesce(OpportunityView.person_id, -OpportunityView.id)
    views = students_of_school(
        select()
        .select_from(OpportunityView)
        .join(Opportunity, Opportunity.id == OpportunityView.opportunity_id)
        .where(within(OpportunityView.first_seen_at, tally.periods), *of_employer(tally.scope)),
        OpportunityView.school_id,
        tally.scope,
    )
    viewers = counts(OpportunityView.first_seen_at, tally.periods, viewer)
    tally.store(
        views.add_columns(Opportunity.organisation_id, *viewers).group_by(
            Opportunity.organisation_id
        ),
        "reached",
    )
    for values in tally.rows(views.add_columns(*viewers)):
        for i, n in enumerate(values):
            tally.result[i].overall.reached = n


def _interests_of_school(tally: _Tally, query: AnySelect) -> AnySelect:
    """``query`` over the interests registered in the periods with the scope's employers, by
    the scope's school's students."""
    return students_of_school(
        query.select_from(Interest)
        .join(Opportunity, Opportunity.id == Interest.opportunity_id)
        .where(within(Interest.created_at, tally.periods), *of_employer(tally.scope)),
        Interest.school_id,
        tally.scope,
    )


# An interest whose details reached the employer and that the employer answered.
_REPLIED = and_(Interest.details_shared_at.is_not(None), Interest.employer_replied_at.is_not(None))
# An interest withdrawn, or whose student deleted their data, can no longer be answered:
# counted against the employer only if they answered it in time.
_ANSWERABLE = or_(
    _REPLIED,
    and_(
        Interest.details_shared_at.is_not(None),
        Interest.status != InterestStatus.WITHDRAWN,
        Interest.person_id.is_not(None),
    ),
)


def interests(tally: _Tally) -> None:
    """Interests registered, and of them those the employer can answer and those answered: the
    reply rate's share."""
    columns: list[ColumnElement[int]] = []
    for p in tally.periods:
        created = during(Interest.created_at, p)
        columns += [
            func.count(case((created, literal(1)))),
            func.count(case((and_(created, _ANSWERABLE), literal(1)))),
            func.count(case((and_(created, _REPLIED), literal(1)))),
        ]
    query = _interests_of_school(tally, select(Opportunity.organisation_id, *columns))
    for org_id, *values in tally.rows(query.group_by(Opportunity.organisation_id)):
        for i in range(len(tally.periods)):
            figures = tally.put(org_id, i)
            figures.interests, figures.answerable, figures.replied = values[3 * i : 3 * i + 3]


def reply_times(tally: _Tally) -> None:
    """How long each answered interest waited for the employer's reply, in hours, from the
    moment its details reached them."""
    # A median needs the values themselves; timestamps are subtracted here, the same on
    # every backend.
    query = _interests_of_school(
        tally,
        select(
            Opportunity.organisation_id,
            Interest.created_at,
            Interest.details_shared_at,
            Interest.employer_replied_at,
        ),
    ).where(_REPLIED)
    for org_id, created_at, shared_at, replied_at in tally.rows(query):
        hours = (replied_at - shared_at).total_seconds() / 3600
        for i, p in enumerate(tally.periods):
            if p.start_at <= created_at < p.end_at:
                tally.put(org_id, i).reply_hours.append(hours)


def invitations(tally: _Tally) -> None:
    """Interests the employer sent an invitation to, each counted once however many they sent."""
    query = students_of_school(
        select(
            Opportunity.organisation_id,
            *counts(InterestMessage.created_at, tally.periods, InterestMessage.interest_id),
        )
        .select_from(InterestMessage)
        .join(Interest, Interest.id == InterestMessage.interest_id)
        .join(Opportunity, Opportunity.id == Interest.opportunity_id)
        .where(
            InterestMessage.kind == "invite",
            within(InterestMessage.created_at, tally.periods),
            *of_employer(tally.scope),
        ),
        Interest.school_id,
        tally.scope,
    )
    tally.store(query.group_by(Opportunity.organisation_id), "invitations")


def placements(tally: _Tally) -> None:
    """Placements made, by their employer."""
    query = select(Placement.organisation_id, *counts(Placement.created_at, tally.periods)).where(
        within(Placement.created_at, tally.periods), *of_placements(tally.scope)
    )
    tally.store(query.group_by(Placement.organisation_id), "placements")


def hours_confirmed(tally: _Tally) -> None:
    """Minutes of placement work the supervisor confirmed, by the day the work was done."""
    query = (
        select(
            Placement.organisation_id,
            *[
                func.coalesce(
                    func.sum(case((during(HoursEntry.work_date, p), HoursEntry.minutes))), 0
                )
                for p in tally.periods
            ],
        )
        .select_from(HoursEntry)
        .join(Placement, Placement.id == HoursEntry.placement_id)
        .where(
            HoursEntry.status == HoursStatus.CONFIRMED,
            within(HoursEntry.work_date, tally.periods),
            *of_placements(tally.scope),
        )
    )
    tally.store(query.group_by(Placement.organisation_id), "minutes")


def ratings(tally: _Tally) -> None:
    """The ratings students and supervisors gave in placements' feedback, as a sum and a count
    each, by when they answered."""
    columns: list[ColumnElement[int]] = []
    for p in tally.periods:
        answered = during(Feedback.answered_at, p)
        columns += [
            func.coalesce(func.sum(case((answered, Feedback.rating))), 0),
            func.count(case((answered, Feedback.rating))),
        ]
    query = (
        select(Placement.organisation_id, Feedback.respondent_role, *columns)
        .select_from(Feedback)
        .join(Placement, Placement.id == Feedback.placement_id)
        .where(
            Feedback.rating.is_not(None),
            within(Feedback.answered_at, tally.periods),
            *of_placements(tally.scope),
        )
        .group_by(Placement.organisation_id, Feedback.respondent_role)
    )
    for org_id, role, *values in tally.rows(query):
        for i in range(len(tally.periods)):
            figures = tally.put(org_id, i)
            mean = figures.student_rating if role == Role.STUDENT else figures.supervisor_rating
            mean.total, mean.count = int(values[2 * i]), values[2 * i + 1]


_METRICS: tuple[Callable[[_Tally], None], ...] = (
    published,
    reached,
    interests,
    reply_times,
    invitations,
    placements,
    hours_confirmed,
    ratings,
)


def plain(value: float, places: int = 1) -> str:
    """``value`` rounded, without trailing zeros or an exponent: 7.5, 12, 100000."""
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown(value: float, places: int = 1) -> str:
    """``value`` rounded as the report shows it, with the reader's decimal sign: 7.5 or 7,5
    (no thousands separator, like the counts in plural messages beside it)."""
    return plain(value, places).replace(".", _decimal_sign())


def _decimal_sign() -> str:
    """The current language's decimal sign: the one ``fmt_number`` writes in 1.5."""
    return fmt_number(1.5)[1]


def fmt_hours(value: float) -> str:
    rounded = float(round(value, 1))
    if rounded.is_integer():
        return _n("{n} hour", "{n} hours", int(rounded))
    # Translators: a number of hours with a fraction (7.5); the plural form for fractions.
    return _("{hours} hours", hours=shown(rounded))


def fmt_percent(value: float) -> str:
    return _("{percent}%", percent=fmt_number(round(value)))


def fmt_rating(value: float) -> str:
    """A feedback rating, out of 5."""
    # Always one decimal: 3.0 of 5.
    rating = f"{value:.1f}".replace(".", _decimal_sign())
    return _("{rating} of 5", rating=rating)


def fmt_duration(hours: float) -> str:
    """A reply time as people say it: minutes within an hour, hours within a day, then days."""
    if hours < 1:
        minutes = round(hours * 60)
        return _("under a minute") if minutes < 1 else _n("{n} minute", "{n} minutes", minutes)
    if hours < 24:
        return fmt_hours(hours)
    days = float(round(hours / 24, 1))
    if days.is_integer():
        return _n("{n} day", "{n} days", int(days))
    # Translators: a number of days with a fraction (1.5); the plural form for fractions.
    return _("{days} days", days=shown(days))
