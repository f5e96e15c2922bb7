"""The partnership health report and its objectives: /report, /objective and /objectives.

A teacher sees their own school's students with every employer; an employer sees only their
own organisation (with every school), never another's; an admin sees everything. The figures
come from ``handlers.figures``; this module words them for the chat, for Markdown and CSV
(``oppbot report``) and for the chart.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.core import EMPLOYERS, STAFF, Attachment, Button, Context, Registry, Reply, UserError
from handlers.chart import ChartData, render
from handlers.figures import (
    DEFAULT_DAYS,
    Breakdown,
    Figures,
    Period,
    Scope,
    compute,
    days_text,
    fmt_duration,
    parse_period,
    plain,
)
from handlers.present import fmt_date, local_today, parse_id, person_zone
from handlers.schools import escape_like, staff_school
from storage.models import Objective, Organisation, Person, Role, School

registry = Registry()

CHART_NAME = "partnership-report.png"
MAX_LISTED = 20
MAX_AHEAD = timedelta(days=2 * 365)
# The employers the chart names, the busiest first; the report lists the rest.
CHART_EMPLOYERS = 8
# Any number is taken here, so one out of range hears the range rather than the help; "by"
# ends the employer's name only before something shaped like a date ("for Made by Hand").
_OBJECTIVE = re.compile(
    r"(?P<metric>\D+?)\s+(?:within\s+)?(?P<target>-?\d+(?:\.\d+)?)\s*"
    r"(?P<unit>%|percent|days?|d|hours?|hrs?|h)?"
    r"(?:\s+for\s+(?P<employer>.+?))?(?:\s+by\s+(?P<by>\d{4}-\d{1,2}-\d{1,2}))?",
    re.IGNORECASE,
)
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


# --- Metrics ----------------------------------------------------------------------------------


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


def _number(value: float) -> str:
    return plain(value)


def _hours(value: float) -> str:
    shown = plain(value)
    return f"{shown} hour{'' if shown == '1' else 's'}"


def _percent(value: float) -> str:
    return f"{round(value)}%"


def _days(value: float) -> str:
    return fmt_duration(value * 24)


def _rating(value: float) -> str:
    return f"{value:.1f} of 5"


METRICS: dict[str, Metric] = {
    "published": Metric("Opportunities published", "count", 1, 10_000, _number, "20", whole=True),
    "reached": Metric("Students reached", "count", 1, 100_000, _number, "100", whole=True),
    "interests": Metric("Interests registered", "count", 1, 100_000, _number, "50", whole=True),
    "invitations": Metric("Invitations", "count", 1, 100_000, _number, "20", whole=True),
    "placements": Metric("Placements", "count", 1, 10_000, _number, "10", whole=True),
    "hours": Metric("Hours confirmed", "count", 1, 1_000_000, _hours, "200", {"hours": 1}),
    "reply_rate": Metric("Reply rate", "least", 1, 100, _percent, "80%", {"%": 1}),
    "reply_days": Metric(
        "Median reply time", "most", 0.1, 365, _days, "3 days", {"days": 1, "hours": 1 / 24}
    ),
    "student_rating": Metric("Feedback from students", "least", 1, 5, _rating, "4"),
    "supervisor_rating": Metric("Feedback from supervisors", "least", 1, 5, _rating, "4"),
}
OBJECTIVE_HELP = (
    "Set an objective like /objective placements 10, /objective reply within 3 days for "
    "Acme Ltd, or /objective hours 200 by 2027-03-31 (the default is 90 days from today).\n"
    "What you can aim for: " + ", ".join(METRICS) + "."
)


def progress_line(objective: Objective, value: float | None) -> str:
    """How far an objective has come, as one line."""
    metric = METRICS[objective.metric]
    whose = f", {objective.organisation.name}" if objective.organisation is not None else ""
    target = objective.target
    if metric.goal == "count":
        done = value or 0
        share = round(100 * done / target)
        what = f"{_number(done)} of {metric.show(target)}"
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
    organisation_id: int | None = None,
) -> list[float | None]:
    """Each objective's figure over its own window (its days as lived in ``zone``), among its
    school's students.

    ``organisation_id`` narrows every figure to one employer (an employer's own view). The
    figures of one school's objectives come from one ``compute`` whatever their number; an
    admin's or employer's report spans several schools, so one ``compute`` per school with
    objectives in the period, which the schools of one installation keep few.
    """
    values: list[float | None] = [None] * len(objectives)
    by_school: dict[int, list[int]] = {}
    for n, objective in enumerate(objectives):
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


# --- The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    title: str
    period: Period
    now: Breakdown
    before: Breakdown
    # (employer, figures now, figures before), by name: those with students' activity in
    # either period (for one employer's figures, whatever they did).
    employers: list[tuple[str, Figures, Figures]]
    # The employers that only published, in either period: one line between them, as an
    # installation may hold hundreds of them.
    quiet: list[tuple[str, Figures, Figures]]
    objectives: list[str]
    # One employer's own report: the chat shows their figures once, not as a block each.
    single: bool

    @property
    def empty(self) -> bool:
        return self.now.overall.empty and self.before.overall.empty and not self.objectives


def build_report(
    session: Session, scope: Scope, title: str, period: Period, *, single: bool = False
) -> Report:
    now, before = compute(session, scope, [period, period.previous])
    ids = set(now.employers) | set(before.employers)
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        ).all()
    )
    # ``compute`` lists only the employers with anything in either period.
    rows = [
        (names[org_id], now.of(org_id), before.of(org_id))
        for org_id in sorted(ids, key=lambda i: (names[i].lower(), i))
    ]
    if scope.organisation_id is None:
        employers = [row for row in rows if row[1].activity or row[2].activity]
        quiet = [row for row in rows if not (row[1].activity or row[2].activity)]
    else:
        employers, quiet = rows, []
    return Report(
        title=title,
        period=period,
        now=now,
        before=before,
        employers=employers,
        quiet=quiet,
        objectives=_objectives_in(session, scope, period),
        single=single,
    )


def school_zone(session: Session, school_id: int) -> tzinfo:
    """The time zone a school lives in, for reports made outside a chat: its first teacher's
    (UTC for a school without teachers)."""
    teacher = session.scalar(
        select(Person)
        .where(Person.school_id == school_id, Person.role == Role.TEACHER)
        .order_by(Person.id)
        .limit(1)
    )
    return teacher.zone if teacher is not None else UTC


def _objectives_in(session: Session, scope: Scope, period: Period) -> list[str]:
    """Progress of the objectives whose window overlaps ``period``, that ``scope`` may see."""
    query = select(Objective).where(
        Objective.starts_on <= period.end, Objective.ends_on >= period.start
    )
    if scope.school_id is not None:
        query = query.where(Objective.school_id == scope.school_id)
    if scope.organisation_id is not None:
        query = query.where(Objective.organisation_id == scope.organisation_id)
    objectives = session.scalars(
        query.options(selectinload(Objective.organisation)).order_by(
            Objective.ends_on, Objective.metric, Objective.id
        )
    ).all()
    values = objective_values(session, objectives, period.zone, scope.organisation_id)
    schools: dict[int, str] = {}
    if scope.school_id is None and objectives:
        # Without one school in view, each objective says whose it is.
        schools = dict(
            session.execute(
                select(School.id, School.name).where(
                    School.id.in_({o.school_id for o in objectives})
                )
            ).all()
        )
    return [
        (f"{schools[o.school_id]}: " if schools else "") + progress_line(o, value)
        for o, value in zip(objectives, values, strict=True)
    ]


def _change(now: float, before: float) -> str:
    """The change from ``before`` to ``now`` at the precision the figures are shown in."""
    shown_now, shown_before = round(now, 1), round(before, 1)
    if shown_now == shown_before:
        return " (no change)"
    direction = "up" if shown_now > shown_before else "down"
    return f" ({direction} {_number(abs(shown_now - shown_before))})"


def _was(before: float | None, show: Callable[[float], str]) -> str:
    return f" (was {show(before)})" if before is not None else ""


def figure_lines(now: Figures, before: Figures, *, brief: bool = False) -> list[str]:
    """One line per figure; ``brief`` leaves out those with nothing in either period."""
    lines: list[tuple[str, bool]] = []
    for label, mine, earlier in (
        ("Opportunities published", now.published, before.published),
        ("Students reached", now.reached, before.reached),
        ("Interests registered", now.interests, before.interests),
    ):
        lines.append((f"{label}: {mine}{_change(mine, earlier)}", bool(mine or earlier)))
    if now.reply_rate is not None:
        rate = f"{_percent(now.reply_rate)} ({now.replied} of {now.answerable} answered)"
    else:
        rate = "no interests to answer yet"
    lines.append(
        (
            f"Reply rate: {rate}{_was(before.reply_rate, _percent)}",
            now.answerable > 0 or before.answerable > 0,
        )
    )
    median = now.median_reply_hours
    lines.append(
        (
            "Median reply time: "
            + (fmt_duration(median) if median is not None else "no replies yet")
            + _was(before.median_reply_hours, fmt_duration),
            bool(now.reply_hours or before.reply_hours),
        )
    )
    for label, mine, earlier in (
        ("Invitations", now.invitations, before.invitations),
        ("Placements", now.placements, before.placements),
    ):
        lines.append((f"{label}: {mine}{_change(mine, earlier)}", bool(mine or earlier)))
    lines.append(
        (
            f"Hours confirmed: {_number(now.hours)}{_change(now.hours, before.hours)}",
            bool(now.minutes or before.minutes),
        )
    )
    for label, rating, previous in (
        ("students", now.student_rating, before.student_rating),
        ("supervisors", now.supervisor_rating, before.supervisor_rating),
    ):
        if rating.value is not None:
            answers = f"{rating.count} answer{'' if rating.count == 1 else 's'}"
            said = f"{_rating(rating.value)} ({answers})"
        else:
            said = "none yet"
        lines.append(
            (
                f"Feedback from {label}: {said}{_was(previous.value, _rating)}",
                bool(rating.count or previous.count),
            )
        )
    return ["• " + text for text, anything in lines if anything or not brief]


def _span(period: Period) -> str:
    return f"{fmt_date(period.start)} to {fmt_date(period.end)}"


def _before(period: Period) -> str:
    return "the day before" if period.days == 1 else f"the {period.days} days before"


def quiet_line(report: Report) -> str | None:
    """One line for the employers that only published, or None without any."""
    if not report.quiet:
        return None
    count = len(report.quiet)
    now = sum(f.published for _, f, _ in report.quiet)
    before = sum(f.published for _, _, f in report.quiet)
    return (
        f"{count} other employer{'' if count == 1 else 's'} published {now} "
        f"opportunit{'y' if now == 1 else 'ies'}{_change(now, before)}, "
        "with no students' activity yet."
    )


def report_blocks(report: Report) -> list[str]:
    """The report as chat text, in blocks that may be sent as separate messages."""
    period = report.period
    if report.empty:
        # A year or more found nothing either: a longer period would not help.
        hint = " Try a longer period: /report year" if period.days < 365 else ""
        return [
            f"Nothing to report for {report.title} from {_span(period)}, nor in "
            f"{_before(period)}: no opportunities, views or interests yet.{hint}"
        ]
    blocks = [
        f"Partnership report for {report.title}, {_span(period)} ({days_text(period.days)}). "
        f"In brackets: the change since {_before(period)}."
    ]
    lines = figure_lines(report.now.overall, report.before.overall)
    blocks.append("\n".join(lines if report.single else ["All employers", *lines]))
    if report.objectives:
        blocks.append("\n".join(["Objectives", *("• " + o for o in report.objectives)]))
    if not report.single:
        # Each employer shows only what it did, so a long list of employers stays readable.
        for name, now, before in report.employers:
            blocks.append("\n".join([name, *figure_lines(now, before, brief=True)]))
        if quiet := quiet_line(report):
            blocks.append(quiet)
    return blocks


def chart_data(report: Report) -> ChartData:
    overall = report.now.overall
    # The busiest employers, in the report's order; the chart has room for a few only.
    employers = report.employers
    busiest = sorted(
        range(len(employers)), key=lambda n: -(employers[n][1].activity + employers[n][2].activity)
    )[:CHART_EMPLOYERS]
    shown = [employers[n] for n in sorted(busiest)]
    return ChartData(
        title=f"Partnership report: {report.title}",
        subtitle=f"{_span(report.period)} ({days_text(report.period.days)})",
        funnel=(
            ("Students reached", overall.reached),
            ("Interests", overall.interests),
            ("Invitations", overall.invitations),
            ("Placements", overall.placements),
        ),
        reply_times=[(name, now.median_reply_hours) for name, now, _ in shown],
        more=len(report.employers) - len(shown),
    )


# --- Markdown and CSV, for ``oppbot report`` ---------------------------------------------------

# (column, heading, the figure, how Markdown shows it)
_COLUMNS: tuple[tuple[str, str, Callable[[Figures], float | None], Callable[[float], str]], ...] = (
    ("published", "Published", lambda f: f.published, _number),
    ("reached", "Reached", lambda f: f.reached, _number),
    ("interests", "Interests", lambda f: f.interests, _number),
    ("reply_rate", "Reply rate", lambda f: f.reply_rate, _percent),
    ("median_reply_hours", "Median reply", lambda f: f.median_reply_hours, fmt_duration),
    ("invitations", "Invitations", lambda f: f.invitations, _number),
    ("placements", "Placements", lambda f: f.placements, _number),
    ("hours_confirmed", "Hours", lambda f: f.hours, _number),
    ("student_rating", "Students' rating", lambda f: f.student_rating.value, lambda v: f"{v:.1f}"),
    (
        "supervisor_rating",
        "Supervisors' rating",
        lambda f: f.supervisor_rating.value,
        lambda v: f"{v:.1f}",
    ),
)
ALL_EMPLOYERS = "All employers"


def report_markdown(report: Report) -> str:
    period = report.period
    lines = [
        f"# Partnership report: {report.title}",
        "",
        f"{_span(period)} ({days_text(period.days)}). In brackets: {_before(period)} "
        f"({_span(period.previous)}).",
        "",
        "| Employer | " + " | ".join(heading for _, heading, _, _ in _COLUMNS) + " |",
        "| --- " * (len(_COLUMNS) + 1) + "|",
    ]
    overall = (ALL_EMPLOYERS, report.now.overall, report.before.overall)
    for name, now, before in (overall, *report.employers):
        cells = [name.replace("|", "\\|")]
        for _, _, figure, show in _COLUMNS:
            value, earlier = figure(now), figure(before)
            cell = show(value) if value is not None else "–"
            cells.append(f"{cell} ({show(earlier) if earlier is not None else '–'})")
        lines.append("| " + " | ".join(cells) + " |")
    if quiet := quiet_line(report):
        lines += ["", quiet]
    if report.objectives:
        lines += ["", "## Objectives", "", *(f"- {o}" for o in report.objectives)]
    return "\n".join(lines) + "\n"


def report_csv(report: Report) -> str:
    out = io.StringIO()
    # CRLF, the standard's line end: a field holding a lone CR is then quoted, not broken.
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["employer", "period_start", "period_end"]
    for column, _, _, _ in _COLUMNS:
        header += [column, f"{column}_previous"]
    writer.writerow(header)
    # A spreadsheet sorts and filters: every employer gets its row, the quiet ones too.
    employers = sorted(report.employers + report.quiet, key=lambda row: row[0].lower())
    overall = (ALL_EMPLOYERS, report.now.overall, report.before.overall)
    for name, now, before in (overall, *employers):
        row = [name, report.period.start.isoformat(), report.period.end.isoformat()]
        for _, _, figure, _ in _COLUMNS:
            row += [_csv_value(figure(now)), _csv_value(figure(before))]
        writer.writerow([_csv_cell(cell) for cell in row])
    return out.getvalue()


def _csv_value(value: float | None) -> str:
    return "" if value is None else plain(value, 2)


# A spreadsheet runs a cell that starts with one of these as a formula (an employer may be
# called "=HYPERLINK(...)"); a leading quote keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# --- Chat commands ----------------------------------------------------------------------------


def _view(ctx: Context) -> tuple[Scope, str, bool]:
    """Whose figures the person talking may see: (scope, its name, one employer's own)."""
    if ctx.role == Role.EMPLOYER:
        organisation = ctx.person.organisation
        if organisation is None:
            raise UserError(
                "You're not linked to an employer yet. Ask the school for an employer invite code."
            )
        return Scope(organisation_id=organisation.id), organisation.name, True
    if ctx.role == Role.ADMIN:
        return Scope(), "all schools", False
    school = staff_school(ctx)
    return Scope(school_id=school.id), school.name, False


@registry.command(
    "report",
    "health",
    roles=STAFF | EMPLOYERS,
    help="how the partnerships are doing: /report, /report 30d, /report 2026-09-01 2026-12-20",
)
def report(ctx: Context, args: str) -> list[Reply]:
    period = parse_period(args, local_today(ctx), person_zone(ctx.person))
    scope, title, single = _view(ctx)
    built = build_report(ctx.session, scope, title, period, single=single)
    blocks = report_blocks(built)
    messages = _pack(blocks, ctx.caps.max_text)
    if built.empty:
        return [Reply(text) for text in messages]
    chart = Attachment(CHART_NAME, render(chart_data(built)), "image/png")
    return [Reply(text, file=chart if n == 0 else None) for n, text in enumerate(messages)]


def _pack(blocks: list[str], limit: int) -> list[str]:
    """Blocks joined into as few messages as fit the platform's limit; a block too long for
    one message goes on in the next at a line's end, so nothing is lost."""
    messages: list[str] = []
    for block in blocks:
        for piece in _lines_within(block, limit):
            if messages and len(messages[-1]) + 2 + len(piece) <= limit:
                messages[-1] += "\n\n" + piece
            else:
                messages.append(piece)
    return messages


def _lines_within(block: str, limit: int) -> list[str]:
    """``block`` in pieces of whole lines of at most ``limit`` characters (a longer line is
    cut into pieces of its own)."""
    pieces: list[str] = []
    for line in block.split("\n"):
        for start in range(0, max(len(line), 1), limit):
            part = line[start : start + limit]
            if pieces and len(pieces[-1]) + 1 + len(part) <= limit and start == 0:
                pieces[-1] += "\n" + part
            else:
                pieces.append(part)
    return pieces


@registry.command(
    "objective",
    roles=STAFF,
    help="set a partnership objective: /objective placements 10 for Acme Ltd by 2027-03-31",
)
def objective(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    match = _OBJECTIVE.fullmatch(" ".join(args.split()))
    if match is None:
        raise UserError(OBJECTIVE_HELP)
    name = _metric_name(match["metric"])
    metric = METRICS.get(name)
    if metric is None:
        raise UserError(f"I can't measure {match['metric']}. {OBJECTIVE_HELP}")
    target = _target(name, metric, match["target"], match["unit"])
    employer = _employer(ctx, match["employer"]) if match["employer"] else None
    today = local_today(ctx)
    ends_on = _end_date(match["by"], today) if match["by"] else today + timedelta(days=DEFAULT_DAYS)
    same_employer = (
        Objective.organisation_id == employer.id
        if employer is not None
        else Objective.organisation_id.is_(None)
    )
    # Setting the same aim again changes it, rather than adding a second one beside it.
    existing = ctx.session.scalar(
        select(Objective).where(
            Objective.school_id == school.id,
            same_employer,
            Objective.metric == name,
            Objective.ends_on >= today,
        )
    )
    if existing is None:
        existing = Objective(
            school_id=school.id,
            organisation=employer,
            metric=name,
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
    [value] = objective_values(ctx.session, [existing], person_zone(ctx.person))
    return [
        Reply(
            f"{said}, from {fmt_date(existing.starts_on)} to {fmt_date(ends_on)}. "
            f"So far:\n{progress_line(existing, value)}\n\nSee them all with /objectives."
        )
    ]


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
        raise UserError("Please give the end date as YYYY-MM-DD, like by 2027-03-31.") from None
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
        .where(Organisation.name.ilike(f"%{escape_like(clean)}%", escape="\\"))
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
        return [Reply(f"{school.name} has no objectives yet. {OBJECTIVE_HELP}")]
    values = objective_values(ctx.session, rows, person_zone(ctx.person))
    lines = [f"Objectives of {school.name}:"]
    buttons = []
    for n, (row, value) in enumerate(zip(rows, values, strict=True), start=1):
        lines.append(f"{n}. {progress_line(row, value)}")
        buttons.append((Button(f"Remove {n}", f"obx:{row.id}"),))
    if len(rows) == MAX_LISTED:
        total = ctx.session.scalar(
            select(func.count()).select_from(Objective).where(Objective.school_id == school.id)
        )
        if total and total > MAX_LISTED:
            lines.append(f"…and {total - MAX_LISTED} more, ending sooner. Remove some to see them.")
    return [Reply("\n".join(lines), tuple(buttons))]


@registry.action("obx", roles=STAFF)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    school = staff_school(ctx)
    row = ctx.session.get(Objective, parse_id(args[0] if args else None))
    if row is None or row.school_id != school.id:
        raise UserError("I can't find that objective at your school. Send /objectives to see them.")
    label = METRICS[row.metric].label
    whose = f", {row.organisation.name}" if row.organisation is not None else ""
    ctx.session.delete(row)
    return [Reply(f"Removed the objective: {label}{whose}.", replace=True)]
