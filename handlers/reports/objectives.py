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
from bot.i18n import N_, _, fmt_number
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
    shown,
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
    "published": Metric(N_("Opportunities published"), "count", 1, 10_000, shown, "20", whole=True),
    "reached": Metric(N_("Students reached"), "count", 1, 100_000, shown, "100", whole=True),
    "interests": Metric(N_("Interests registered"), "count", 1, 100_000, shown, "50", whole=True),
    "invitations": Metric(N_("Invitations"), "count", 1, 100_000, shown, "20", whole=True),
    "placements": Metric(N_("Placements"), "count", 1, 10_000, shown, "10", whole=True),
    "hours": Metric(N_("Hours confirmed"), "count", 1, 1_000_000, fmt_hours, "200", {"hours": 1}),
    "reply_rate": Metric(N_("Reply rate"), "least", 1, 100, fmt_percent, "80%", {"%": 1}),
    "reply_days": Metric(
        N_("Median reply time"), "most", 0.1, 365, _days, "3 days", {"days": 1, "hours": 1 / 24}
    ),
    "student_rating": Metric(N_("Feedback from students"), "least", 1, 5, fmt_rating, "4"),
    "supervisor_rating": Metric(N_("Feedback from supervisors"), "least", 1, 5, fmt_rating, "4"),
}


# Translators: what follows /objective is typed in English; keep it as it is.
COVERAGE_HELP = N_(
    "Or a share of a year group this school year: /objective 90% of Year 10 with a workplace "
    "experience by July (with an encounter, a meaningful encounter or a workplace experience)."
)


def objective_help(today: date) -> str:
    """How to set an objective, with an end date ahead of ``today``."""
    metrics = ", ".join(METRICS)
    # Translators: what follows /objective, and the names of what to aim for, are typed in
    # English; keep them as they are.
    text = _(
        "Set an objective like /objective placements 10, /objective reply within 3 days for "
        "Acme Ltd, or /objective hours 200 by {day} (the default is 90 days from today).\n"
        "What you can aim for: {metrics}.",
        day=example_deadline(today).isoformat(),
        metrics=metrics,
    )
    return f"{text}\n{_(COVERAGE_HELP)}"


def objective_label(objective: Objective) -> str:
    """What an objective is about: "Placements, Acme Ltd", "Year 10 with an encounter"."""
    if objective.metric in OBJECTIVE_MEASURES:
        return _(OBJECTIVE_MEASURES[objective.metric], group=year_group_label(objective.grade))
    return _whose(objective, _(METRICS[objective.metric].label))


def _whose(objective: Objective, label: str) -> str:
    """A metric's label, with the employer it is about if any: "Placements, Acme Ltd"."""
    if objective.organisation is None:
        return label
    return _("{metric}, {employer}", metric=label, employer=objective.organisation.name)


def progress_line(objective: Objective, value: float | None) -> str:
    """How far an objective has come, as one line."""
    if objective.metric in OBJECTIVE_MEASURES:
        return _coverage_progress(objective, value)
    metric = METRICS[objective.metric]
    label = _whose(objective, _(metric.label))
    target = objective.target
    if metric.goal == "count":
        done = value or 0
        return _(
            "{objective}: {done} of {target} by {day} ({percent})",
            objective=label,
            done=shown(done),
            target=metric.show(target),
            day=fmt_date(objective.ends_on),
            percent=fmt_percent(100 * done / target),
        )
    shown_target = metric.show(target)
    if value is None:
        return (
            _(
                "{objective}: not measured yet, target within {target}",
                objective=label,
                target=shown_target,
            )
            if metric.goal == "most"
            else _(
                "{objective}: not measured yet, target {target}",
                objective=label,
                target=shown_target,
            )
        )
    # Judged as shown: "3 days, target within 3 days" is on track, whatever the decimals.
    now = metric.show(value)
    met = now == shown_target or (value <= target if metric.goal == "most" else value >= target)
    values = {"objective": label, "value": now, "target": shown_target}
    if metric.goal == "most":
        return (
            _("{objective}: {value}, target within {target}: on track", **values)
            if met
            else _("{objective}: {value}, target within {target}: behind", **values)
        )
    return (
        _("{objective}: {value}, target {target}: on track", **values)
        if met
        else _("{objective}: {value}, target {target}: behind", **values)
    )


def _coverage_progress(objective: Objective, value: float | None) -> str:
    """A coverage objective's progress: the share of its year group, against the target."""
    values = {
        "objective": objective_label(objective),
        "target": fmt_percent(objective.target),
        "day": fmt_date(objective.ends_on),
    }
    if value is None:
        return _("{objective}: no students in it now, target {target} by {day}", **values)
    # Judged as shown, like the other figures: "90% of 90%" has made it.
    if round(value) >= objective.target:
        return _(
            "{objective}: {share} of {target} by {day} (reached)",
            share=fmt_percent(value),
            **values,
        )
    return _("{objective}: {share} of {target} by {day}", share=fmt_percent(value), **values)


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
    help=N_("set a partnership objective: /objective placements 10 for Acme Ltd"),
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
        raise UserError(
            _(
                "I can't measure {metric}. {help}",
                metric=match["metric"],
                help=objective_help(today),
            )
        )
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
        said = N_("Objective set, from {start} to {end}. So far:")
    else:
        said = N_("Objective updated, from {start} to {end}. So far:")
    existing.target = target
    existing.ends_on = ends_on
    ctx.session.flush()
    [value] = objective_values(
        ctx.session, [existing], person_zone(ctx.person), today, ctx.timing.school_year_start
    )
    done = _(said, start=fmt_date(existing.starts_on), end=fmt_date(ends_on))
    return Reply(
        f"{done}\n{progress_line(existing, value)}\n\n" + _("See them all with /objectives.")
    )


def _coverage_objective(ctx: Context, school_id: int, text: str, today: date) -> Reply:
    """A share of a year group with an encounter or experience, by a day of this school year."""
    match = _COVERAGE.fullmatch(text)
    if match is None:
        raise UserError(_(COVERAGE_HELP))
    group = _YEAR_GROUP.fullmatch(match["group"])
    if group is None:
        raise UserError(
            _(
                "Say the year group by its number, like 90% of Year 10 with {measure}.",
                measure=match["measure"],
            )
        )
    measure = _measure(match["measure"])
    target = float(match["target"])
    if not 1 <= target <= 100:
        raise UserError(_("Choose a share from 1% to 100% of the year group."))
    grade = int(group["grade"])
    if not school_students(ctx.session, school_id, grade=grade):
        raise UserError(
            _(
                "{group} has no students at your school yet. /evidence shows the year groups.",
                group=year_group_label(grade),
            )
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
            _(
                "I can't count {measure}. A year group's share can be with an encounter, a "
                "meaningful encounter or a workplace experience.",
                measure=said,
            )
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
            raise UserError(_("{error} Or a month, like by July.", error=str(error))) from None
    if ends_on < today:
        raise UserError(_("That date has passed. Please choose a day from today on."))
    if ends_on > year.end:
        raise UserError(
            _(
                "That's after this school year, which ends on {day}: coverage is counted per "
                "school year. Please choose a day by then.",
                day=fmt_date(year.end),
            )
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
                _(
                    "{metric} isn't measured in {unit}. Try /objective {name} {example}.",
                    metric=_(metric.label),
                    unit=unit,
                    name=name,
                    example=metric.example,
                )
            )
        target *= factor
    if not metric.low <= target <= metric.high:
        raise UserError(
            _(
                "For {metric}, choose a target from {low} to {high}.",
                metric=_(metric.label).lower(),
                low=metric.show(metric.low),
                high=metric.show(metric.high),
            )
        )
    if metric.whole and not target.is_integer():
        raise UserError(
            _(
                "For {metric}, please give a whole number, like /objective {name} {example}.",
                metric=_(metric.label).lower(),
                name=name,
                example=metric.example,
            )
        )
    return target


def _end_date(text: str, today: date) -> date:
    try:
        ends_on = date.fromisoformat(text)
    except ValueError:
        raise UserError(
            _(
                "Please give the end date as YYYY-MM-DD, like by {day}.",
                day=example_deadline(today).isoformat(),
            )
        ) from None
    if ends_on < today:
        raise UserError(_("That date has passed. Please choose an end date from today on."))
    if ends_on > today + MAX_AHEAD:
        raise UserError(_("That's more than two years ahead. Please choose a nearer date."))
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
        raise UserError(_("Which employer do you mean: {names}? Type the whole name.", names=names))
    raise UserError(
        _("I don't know an employer called {name}. Check the name in /listings.", name=clean)
    )


@registry.command("objectives", roles=STAFF, help=N_("your school's objectives and their progress"))
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
        return [
            Reply(
                _(
                    "{school} has no objectives yet. {help}",
                    school=school.name,
                    help=objective_help(local_today(ctx)),
                )
            )
        ]
    values = objective_values(
        ctx.session,
        rows,
        person_zone(ctx.person),
        local_today(ctx),
        ctx.timing.school_year_start,
    )
    lines = [_("Objectives of {school}:", school=school.name)]
    buttons = []
    for n, (row, value) in enumerate(zip(rows, values, strict=True), start=1):
        lines.append(f"{n}. {progress_line(row, value)}")
        buttons.append(
            (Button(_("Remove {number}", number=n), actions.OBJECTIVE_REMOVE.payload(row.id)),)
        )
    if len(rows) == MAX_LISTED:
        total = ctx.session.scalar(
            select(func.count()).select_from(Objective).where(Objective.school_id == school.id)
        )
        if total and total > MAX_LISTED:
            lines.append(
                _(
                    "…and {count} more, ending sooner. Remove some to see them.",
                    count=fmt_number(total - MAX_LISTED),
                )
            )
    return [Reply("\n".join(lines), tuple(buttons))]


@registry.action(actions.OBJECTIVE_REMOVE, roles=STAFF)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    school = staff_school(ctx)
    row = ctx.session.get(Objective, parse_id(args[0] if args else None))
    if row is None or row.school_id != school.id:
        raise UserError(
            _("I can't find that objective at your school. Send /objectives to see them.")
        )
    label = objective_label(row)
    ctx.session.delete(row)
    return [Reply(_("Removed the objective: {objective}.", objective=label), replace=True)]
