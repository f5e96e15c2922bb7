"""Partnership objectives: the metrics a school can aim for, their progress, and /objective and
/objectives.

A teacher sets an objective for their school's students, with one employer or with all of them;
its progress is the figure ``handlers.reports.figures`` computes over the objective's own window.
Or a share of a year group with an encounter or experience by a day of this school year ("90% of
Year 10 with a workplace experience by July"); its progress is the coverage
``handlers.reports.encounters`` counts on the day (or on the objective's last day, once past).
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.core import STAFF, Button, Context, Registry, Reply, UserError
from handlers import actions
from handlers.common import (
    WhenError,
    example_deadline,
    fmt_date,
    local_today,
    parse_day,
    parse_id,
    person_zone,
    staff_school,
)
from handlers.reports.encounters import (
    OBJECTIVE_MEASURES,
    SchoolYear,
    measure_percent,
    school_students,
    school_year,
    year_group_label,
)
from handlers.reports.figures import (
    DEFAULT_DAYS,
    Period,
    Scope,
    compute,
    fmt_duration,
    fmt_hours,
    fmt_percent,
    fmt_rating,
    plain,
)
from storage.models import Objective, Organisation

registry = Registry()

MAX_LISTED = 20
MAX_AHEAD = timedelta(days=2 * 365)
# Any number is taken here, so one out of range hears the range rather than the help; "by"
# ends the employer's name only before something shaped like a date ("for Made by Hand").
_OBJECTIVE = re.compile(
    r"(?P<metric>\D+?)\s+(?:within\s+)?(?P<target>-?\d+(?:\.\d+)?)\s*"
    r"(?P<unit>%|percent|days?|d|hours?|hrs?|h)?"
    r"(?:\s+for\s+(?P<employer>.+?))?(?:\s+by\s+(?P<by>\d{4}-\d{1,2}-\d{1,2}))?",
    re.IGNORECASE,
)
# "90% of Year 10 with a workplace experience by July": a share of a year group. A target
# starts with a number, which no metric's name does.
_COVERAGE_START = re.compile(r"-?\d")
_COVERAGE = re.compile(
    r"(?P<target>-?\d+(?:\.\d+)?)\s*(?:%|percent)?\s+of\s+(?P<group>.+?)\s+with\s+"
    r"(?:an?\s+)?(?P<measure>.+?)(?:\s+by\s+(?P<by>.+))?",
    re.IGNORECASE,
)
_YEAR_GROUP = re.compile(r"(?:the\s+)?(?:year|grade|y)\s*(?P<grade>\d{1,2})(?:\s+students)?", re.I)
# What people call each measure, once "with an employer" and a plural are taken off.
_MEASURE_WORDS = {
    "encounter": "encounter",
    "employer encounter": "encounter",
    "meaningful encounter": "meaningful_encounter",
    "meaningful employer encounter": "meaningful_encounter",
    "workplace experience": "workplace_experience",
    "work experience": "workplace_experience",
    "experience": "workplace_experience",
    "experience of a workplace": "workplace_experience",
    "experience of workplaces": "workplace_experience",
}
_MONTHS = {
    name: n
    for n in range(1, 13)
    for name in (date(2000, n, 1).strftime("%B").lower(), date(2000, n, 1).strftime("%b").lower())
}
_UNITS = {
    "%": "%",
    "percent": "%",
    "d": "days",
    "day": "days",
    "days": "days",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
}
# What people call a metric, beside its own name (and its singular).
_ALIASES = {
    "reply": "reply_days",
    "reply_time": "reply_days",
    "response_time": "reply_days",
    "response_rate": "reply_rate",
    "hours_confirmed": "hours",
}


@dataclass(frozen=True)
class Metric:
    label: str
    # "count": progress is a share of the target; "most": the figure should stay at or under
    # the target; "least": at or over it.
    goal: str
    low: float
    high: float
    show: Callable[[float], str]
    # A target like the one people would type, for the hints.
    example: str
    # The units a target may be given in, and what one of them is in the metric's own.
    units: dict[str, float] = field(default_factory=dict)
    # Counts of people and things take whole numbers only.
    whole: bool = False


def _days(value: float) -> str:
    return fmt_duration(value * 24)


METRICS: dict[str, Metric] = {
    "published": Metric("Opportunities published", "count", 1, 10_000, plain, "20", whole=True),
    "reached": Metric("Students reached", "count", 1, 100_000, plain, "100", whole=True),
    "interests": Metric("Interests registered", "count", 1, 100_000, plain, "50", whole=True),
    "invitations": Metric("Invitations", "count", 1, 100_000, plain, "20", whole=True),
    "placements": Metric("Placements", "count", 1, 10_000, plain, "10", whole=True),
    "hours": Metric("Hours confirmed", "count", 1, 1_000_000, fmt_hours, "200", {"hours": 1}),
    "reply_rate": Metric("Reply rate", "least", 1, 100, fmt_percent, "80%", {"%": 1}),
    "reply_days": Metric(
        "Median reply time", "most", 0.1, 365, _days, "3 days", {"days": 1, "hours": 1 / 24}
    ),
    "student_rating": Metric("Feedback from students", "least", 1, 5, fmt_rating, "4"),
    "supervisor_rating": Metric("Feedback from supervisors", "least", 1, 5, fmt_rating, "4"),
}


COVERAGE_HELP = (
    "Or a share of a year group this school year: /objective 90% of Year 10 with a workplace "
    "experience by July (with an encounter, a meaningful encounter or a workplace experience)."
)


def objective_help(today: date) -> str:
    """How to set an objective, with an end date ahead of ``today``."""
    metrics = ", ".join(METRICS)
    return (
        "Set an objective like /objective placements 10, /objective reply within 3 days for "
        f"Acme Ltd, or /objective hours 200 by {example_deadline(today):%Y-%m-%d} (the default "
        f"is 90 days from today).\nWhat you can aim for: {metrics}.\n{COVERAGE_HELP}"
    )


def objective_label(objective: Objective) -> str:
    """What an objective is about: "Placements, Acme Ltd", "Year 10 with an encounter"."""
    if objective.metric in OBJECTIVE_MEASURES:
        return f"{year_group_label(objective.grade)} with {OBJECTIVE_MEASURES[objective.metric]}"
    whose = f", {objective.organisation.name}" if objective.organisation is not None else ""
    return METRICS[objective.metric].label + whose


def progress_line(objective: Objective, value: float | None) -> str:
    """How far an objective has come, as one line."""
    if objective.metric in OBJECTIVE_MEASURES:
        aim = f"{plain(objective.target)}% by {fmt_date(objective.ends_on)}"
        if value is None:
            return f"{objective_label(objective)}: no students in it now, target {aim}"
        # Judged as shown, like the other figures: "90% of 90%" has made it.
        reached = round(value) >= objective.target
        return f"{objective_label(objective)}: {fmt_percent(value)} of {aim}" + (
            " (reached)" if reached else ""
        )
    metric = METRICS[objective.metric]
    whose = f", {objective.organisation.name}" if objective.organisation is not None else ""
    target = objective.target
    if metric.goal == "count":
        done = value or 0
        share = round(100 * done / target)
        what = f"{plain(done)} of {metric.show(target)}"
        return f"{metric.label}{whose}: {what} by {fmt_date(objective.ends_on)} ({share}%)"
    shown_target = metric.show(target)
    aim = f"within {shown_target}" if metric.goal == "most" else shown_target
    if value is None:
        return f"{metric.label}{whose}: not measured yet, target {aim}"
    # Judged as shown: "3 days, target within 3 days" is on track, whatever the decimals.
    shown = metric.show(value)
    met = shown == shown_target or (value <= target if metric.goal == "most" else value >= target)
    return f"{metric.label}{whose}: {shown}, target {aim}: " + ("on track" if met else "behind")


def objective_values(
    session: Session,
    objectives: Sequence[Objective],
    zone: tzinfo,
    today: date,
    year_start: tuple[int, int],
    organisation_id: int | None = None,
) -> list[float | None]:
    """Each objective's figure over its own window (its days as lived in ``zone``), among its
    school's students; a coverage objective's share of its year group on ``today`` (or on its
    last day, once past), in school years beginning on ``year_start``.

    ``organisation_id`` narrows every figure to one employer (an employer's own view). The
    figures of one school's objectives come from one ``compute`` whatever their number; an
    admin's or employer's report spans several schools, so one ``compute`` per school with
    objectives in the period, which the schools of one installation keep few.
    """
    values: list[float | None] = [None] * len(objectives)
    by_school: dict[int, list[int]] = {}
    for n, objective in enumerate(objectives):
        if objective.metric in OBJECTIVE_MEASURES:
            assert objective.grade is not None  # /objective sets one for every coverage measure
            values[n] = measure_percent(
                session,
                objective.school_id,
                objective.metric,
                objective.grade,
                min(today, objective.ends_on),
                year_start,
            )
            continue
        by_school.setdefault(objective.school_id, []).append(n)
    for school_id, indexes in by_school.items():
        windows = sorted({(objectives[n].starts_on, objectives[n].ends_on) for n in indexes})
        breakdowns = compute(
            session, Scope(school_id, organisation_id), [Period(*w, zone) for w in windows]
        )
        for n in indexes:
            objective = objectives[n]
            figures = breakdowns[windows.index((objective.starts_on, objective.ends_on))]
            values[n] = figures.of(objective.organisation_id).value(objective.metric)
    return values


@registry.command(
    "objective",
    roles=STAFF,
    help="set a partnership objective: /objective placements 10 for Acme Ltd",
)
def objective(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    text = " ".join(args.split())
    today = local_today(ctx)
    if _COVERAGE_START.match(text):
        return [_coverage_objective(ctx, school.id, text, today)]
    match = _OBJECTIVE.fullmatch(text)
    if match is None:
        raise UserError(objective_help(today))
    name = _metric_name(match["metric"])
    metric = METRICS.get(name)
    if metric is None:
        raise UserError(f"I can't measure {match['metric']}. {objective_help(today)}")
    target = _target(name, metric, match["target"], match["unit"])
    employer = _employer(ctx, match["employer"]) if match["employer"] else None
    ends_on = _end_date(match["by"], today) if match["by"] else today + timedelta(days=DEFAULT_DAYS)
    return [_save(ctx, school.id, name, None, employer, target, ends_on)]


def _save(
    ctx: Context,
    school_id: int,
    name: str,
    grade: int | None,
    employer: Organisation | None,
    target: float,
    ends_on: date,
) -> Reply:
    today = local_today(ctx)
    same_employer = (
        Objective.organisation_id == employer.id
        if employer is not None
        else Objective.organisation_id.is_(None)
    )
    same_group = Objective.grade == grade if grade is not None else Objective.grade.is_(None)
    # Setting the same aim again changes it, rather than adding a second one beside it.
    existing = ctx.session.scalar(
        select(Objective).where(
            Objective.school_id == school_id,
            same_employer,
            same_group,
            Objective.metric == name,
            Objective.ends_on >= today,
        )
    )
    if existing is None:
        existing = Objective(
            school_id=school_id,
            organisation=employer,
            metric=name,
            grade=grade,
            starts_on=today,
            created_by_id=ctx.person.id,
            created_at=ctx.now,
        )
        ctx.session.add(existing)
        said = "Objective set"
    else:
        said = "Objective updated"
    existing.target = target
    existing.ends_on = ends_on
    ctx.session.flush()
    [value] = objective_values(
        ctx.session, [existing], person_zone(ctx.person), today, ctx.timing.school_year_start
    )
    return Reply(
        f"{said}, from {fmt_date(existing.starts_on)} to {fmt_date(ends_on)}. "
        f"So far:\n{progress_line(existing, value)}\n\nSee them all with /objectives."
    )


def _coverage_objective(ctx: Context, school_id: int, text: str, today: date) -> Reply:
    """A share of a year group with an encounter or experience, by a day of this school year."""
    match = _COVERAGE.fullmatch(text)
    if match is None:
        raise UserError(COVERAGE_HELP)
    group = _YEAR_GROUP.fullmatch(match["group"])
    if group is None:
        raise UserError(
            f"Say the year group by its number, like 90% of Year 10 with {match['measure']}."
        )
    measure = _measure(match["measure"])
    target = float(match["target"])
    if not 1 <= target <= 100:
        raise UserError("Choose a share from 1% to 100% of the year group.")
    grade = int(group["grade"])
    if not school_students(ctx.session, school_id, grade=grade):
        raise UserError(
            f"{year_group_label(grade)} has no students at your school yet. /evidence shows "
            "the year groups."
        )
    year = school_year(today, ctx.timing.school_year_start)
    ends_on = _coverage_end(match["by"], today, year) if match["by"] else year.end
    return _save(ctx, school_id, measure, grade, None, target, ends_on)


def _measure(said: str) -> str:
    """The coverage measure people mean ("a workplace experience", "meaningful encounters
    with employers")."""
    words = " ".join(said.lower().replace("-", " ").split())
    for tail in (" with an employer", " with employers", " with employer"):
        words = words.removesuffix(tail)
    measure = _MEASURE_WORDS.get(words) or _MEASURE_WORDS.get(words.removesuffix("s"))
    if measure is None:
        raise UserError(
            f"I can't count {said}. A year group's share can be with an encounter, a "
            "meaningful encounter or a workplace experience."
        )
    return measure


def _coverage_end(text: str, today: date, year: SchoolYear) -> date:
    """The day a coverage objective is for: a date, or a month (its next end, or the school
    year's last day if the year ends within it), always within this school year."""
    month = _MONTHS.get(text.lower().removeprefix("the end of ").removeprefix("end of "))
    if month is not None:
        first = date(today.year + (month < today.month), month, 1)
        ends_on = first.replace(day=monthrange(first.year, month)[1])
        if first <= year.end:
            ends_on = min(ends_on, year.end)
    else:
        try:
            ends_on = parse_day(text, today, after=today)
        except WhenError as error:
            raise UserError(f"{error} Or a month, like by July.") from None
    if ends_on < today:
        raise UserError("That date has passed. Please choose a day from today on.")
    if ends_on > year.end:
        raise UserError(
            f"That's after this school year, which ends on {fmt_date(year.end)}: coverage is "
            "counted per school year. Please choose a day by then."
        )
    return ends_on


def _metric_name(said: str) -> str:
    """The metric people mean: its name, its singular ("placement") or a name they'd use
    ("reply time")."""
    name = "_".join(said.lower().replace("-", " ").split())
    if name not in METRICS and name + "s" in METRICS:
        name += "s"
    return _ALIASES.get(name, name)


def _target(name: str, metric: Metric, number: str, unit: str | None) -> float:
    """The target in the metric's own unit, checked against its range."""
    target = float(number)
    if unit is not None:
        factor = metric.units.get(_UNITS[unit.lower()])
        if factor is None:
            raise UserError(
                f"{metric.label} isn't measured in {unit}. Try /objective {name} {metric.example}."
            )
        target *= factor
    if not metric.low <= target <= metric.high:
        raise UserError(
            f"For {metric.label.lower()}, choose a target from {metric.show(metric.low)} "
            f"to {metric.show(metric.high)}."
        )
    if metric.whole and not target.is_integer():
        raise UserError(
            f"For {metric.label.lower()}, please give a whole number, like "
            f"/objective {name} {metric.example}."
        )
    return target


def _end_date(text: str, today: date) -> date:
    try:
        ends_on = date.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"Please give the end date as YYYY-MM-DD, like by {example_deadline(today):%Y-%m-%d}."
        ) from None
    if ends_on < today:
        raise UserError("That date has passed. Please choose an end date from today on.")
    if ends_on > today + MAX_AHEAD:
        raise UserError("That's more than two years ahead. Please choose a nearer date.")
    return ends_on


def _employer(ctx: Context, name: str) -> Organisation:
    """The employer a teacher named: the exact name, or the only one whose name contains it."""
    clean = " ".join(name.split())
    exact = ctx.session.scalar(
        select(Organisation).where(func.lower(Organisation.name) == clean.lower())
    )
    if exact is not None:
        return exact
    similar = ctx.session.scalars(
        select(Organisation)
        .where(Organisation.name.icontains(clean, autoescape=True))
        .order_by(Organisation.name)
        .limit(6)
    ).all()
    if len(similar) == 1:
        return similar[0]
    if similar:
        names = ", ".join(o.name for o in similar[:5])
        raise UserError(f"Which employer do you mean: {names}? Type the whole name.")
    raise UserError(f"I don't know an employer called {clean}. Check the name in /listings.")


@registry.command("objectives", roles=STAFF, help="your school's objectives and their progress")
def objectives(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    rows = ctx.session.scalars(
        select(Objective)
        .where(Objective.school_id == school.id)
        .options(selectinload(Objective.organisation))
        .order_by(Objective.ends_on.desc(), Objective.metric, Objective.id)
        .limit(MAX_LISTED)
    ).all()
    if not rows:
        return [Reply(f"{school.name} has no objectives yet. {objective_help(local_today(ctx))}")]
    values = objective_values(
        ctx.session,
        rows,
        person_zone(ctx.person),
        local_today(ctx),
        ctx.timing.school_year_start,
    )
    lines = [f"Objectives of {school.name}:"]
    buttons = []
    for n, (row, value) in enumerate(zip(rows, values, strict=True), start=1):
        lines.append(f"{n}. {progress_line(row, value)}")
        buttons.append((Button(f"Remove {n}", actions.OBJECTIVE_REMOVE.payload(row.id)),))
    if len(rows) == MAX_LISTED:
        total = ctx.session.scalar(
            select(func.count()).select_from(Objective).where(Objective.school_id == school.id)
        )
        if total and total > MAX_LISTED:
            lines.append(f"…and {total - MAX_LISTED} more, ending sooner. Remove some to see them.")
    return [Reply("\n".join(lines), tuple(buttons))]


@registry.action(actions.OBJECTIVE_REMOVE, roles=STAFF)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    school = staff_school(ctx)
    row = ctx.session.get(Objective, parse_id(args[0] if args else None))
    if row is None or row.school_id != school.id:
        raise UserError("I can't find that objective at your school. Send /objectives to see them.")
    label = objective_label(row)
    ctx.session.delete(row)
    return [Reply(f"Removed the objective: {label}.", replace=True)]
