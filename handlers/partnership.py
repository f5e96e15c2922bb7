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
from dataclasses import dataclass
from datetime import date, timedelta

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
    fmt_duration,
    parse_period,
    plain,
)
from handlers.present import fmt_date, parse_id
from handlers.schools import escape_like, staff_school
from storage.models import Objective, Organisation, Role, School

registry = Registry()

CHART_NAME = "partnership-report.png"
MAX_LISTED = 20
MAX_AHEAD = timedelta(days=2 * 365)
_OBJECTIVE = re.compile(
    r"(?P<metric>\S+)\s+(?:within\s+)?(?P<target>\d{1,6}(?:\.\d{1,2})?)\s*(?:%|days?|hours?)?"
    r"(?:\s+for\s+(?P<employer>.+?))?(?:\s+by\s+(?P<by>\S+))?",
    re.IGNORECASE,
)


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
    "published": Metric("Opportunities published", "count", 1, 10_000, _number),
    "reached": Metric("Students reached", "count", 1, 100_000, _number),
    "interests": Metric("Interests registered", "count", 1, 100_000, _number),
    "invitations": Metric("Invitations", "count", 1, 100_000, _number),
    "placements": Metric("Placements", "count", 1, 10_000, _number),
    "hours": Metric("Hours confirmed", "count", 1, 1_000_000, _hours),
    "reply_rate": Metric("Reply rate", "least", 1, 100, _percent),
    "reply_days": Metric("Median reply time", "most", 0.1, 365, _days),
    "student_rating": Metric("Feedback from students", "least", 1, 5, _rating),
    "supervisor_rating": Metric("Feedback from supervisors", "least", 1, 5, _rating),
}
OBJECTIVE_HELP = (
    "Set an objective like /objective placements 10, /objective reply_days 3 for Acme Ltd, "
    "or /objective hours 200 by 2027-03-31 (the default is 90 days from today).\n"
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
    aim = f"within {metric.show(target)}" if metric.goal == "most" else metric.show(target)
    if value is None:
        return f"{metric.label}{whose}: not measured yet, target {aim}"
    met = value <= target if metric.goal == "most" else value >= target
    return f"{metric.label}{whose}: {metric.show(value)}, target {aim}: " + (
        "on track" if met else "behind"
    )


def objective_values(
    session: Session, objectives: Sequence[Objective], organisation_id: int | None = None
) -> list[float | None]:
    """Each objective's figure over its own window, among its school's students.

    ``organisation_id`` narrows every figure to one employer (an employer's own view). The
    figures of one school's objectives come from one ``compute`` whatever their number.
    """
    values: list[float | None] = [None] * len(objectives)
    by_school: dict[int, list[int]] = {}
    for n, objective in enumerate(objectives):
        by_school.setdefault(objective.school_id, []).append(n)
    for school_id, indexes in by_school.items():
        windows = sorted({(objectives[n].starts_on, objectives[n].ends_on) for n in indexes})
        breakdowns = compute(
            session, Scope(school_id, organisation_id), [Period(*w) for w in windows]
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
    # (employer, figures now, figures before) for those with anything in either period.
    employers: list[tuple[str, Figures, Figures]]
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
    employers = [
        (names[org_id], now.of(org_id), before.of(org_id))
        for org_id in sorted(ids, key=lambda i: (names[i].lower(), i))
    ]
    return Report(
        title=title,
        period=period,
        now=now,
        before=before,
        employers=employers,
        objectives=_objectives_in(session, scope, period),
        single=single,
    )


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
    values = objective_values(session, objectives, scope.organisation_id)
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


def _change(now: float, before: float, show: Callable[[float], str] = _number) -> str:
    if now == before:
        return " (no change)"
    return f" ({'up' if now > before else 'down'} {show(abs(now - before))})"


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
        rate = f"{_percent(now.reply_rate)} ({now.replied} of {now.shared} answered)"
    else:
        rate = "no interests to answer yet"
    lines.append(
        (
            f"Reply rate: {rate}{_was(before.reply_rate, _percent)}",
            now.shared > 0 or before.shared > 0,
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


def report_blocks(report: Report) -> list[str]:
    """The report as chat text, in blocks that may be sent as separate messages."""
    period = report.period
    if report.empty:
        return [
            f"Nothing to report for {report.title} from {_span(period)}, nor in the "
            f"{period.days} days before: no opportunities, views or interests yet. "
            "Try a longer period: /report year"
        ]
    blocks = [
        f"Partnership report for {report.title}, {_span(period)} ({period.days} days). "
        f"In brackets: the change since the {period.days} days before."
    ]
    lines = figure_lines(report.now.overall, report.before.overall)
    blocks.append("\n".join(lines if report.single else ["All employers", *lines]))
    if report.objectives:
        blocks.append("\n".join(["Objectives", *("• " + o for o in report.objectives)]))
    if not report.single:
        # Each employer shows only what it did, so a long list of employers stays readable.
        for name, now, before in report.employers:
            blocks.append("\n".join([name, *figure_lines(now, before, brief=True)]))
    return blocks


def chart_data(report: Report) -> ChartData:
    overall = report.now.overall
    return ChartData(
        title=f"Partnership report: {report.title}",
        subtitle=f"{_span(report.period)} ({report.period.days} days)",
        funnel=(
            ("Students reached", overall.reached),
            ("Interests", overall.interests),
            ("Invitations", overall.invitations),
            ("Placements", overall.placements),
        ),
        reply_times=[(name, now.median_reply_hours) for name, now, _ in report.employers],
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


def _table_rows(report: Report) -> list[tuple[str, Figures, Figures]]:
    return [(ALL_EMPLOYERS, report.now.overall, report.before.overall), *report.employers]


def report_markdown(report: Report) -> str:
    period = report.period
    lines = [
        f"# Partnership report: {report.title}",
        "",
        f"{_span(period)} ({period.days} days). In brackets: the {period.days} days before "
        f"({_span(period.previous)}).",
        "",
        "| Employer | " + " | ".join(heading for _, heading, _, _ in _COLUMNS) + " |",
        "| --- " * (len(_COLUMNS) + 1) + "|",
    ]
    for name, now, before in _table_rows(report):
        cells = [name.replace("|", "\\|")]
        for _, _, figure, show in _COLUMNS:
            value, earlier = figure(now), figure(before)
            cell = show(value) if value is not None else "–"
            cells.append(f"{cell} ({show(earlier) if earlier is not None else '–'})")
        lines.append("| " + " | ".join(cells) + " |")
    if report.objectives:
        lines += ["", "## Objectives", "", *(f"- {o}" for o in report.objectives)]
    return "\n".join(lines) + "\n"


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["employer", "period_start", "period_end"]
    for column, _, _, _ in _COLUMNS:
        header += [column, f"{column}_previous"]
    writer.writerow(header)
    for name, now, before in _table_rows(report):
        row = [name, report.period.start.isoformat(), report.period.end.isoformat()]
        for _, _, figure, _ in _COLUMNS:
            row += [_csv_value(figure(now)), _csv_value(figure(before))]
        writer.writerow(row)
    return out.getvalue()


def _csv_value(value: float | None) -> str:
    return "" if value is None else plain(value, 2)


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
    period = parse_period(args, ctx.now.date())
    scope, title, single = _view(ctx)
    built = build_report(ctx.session, scope, title, period, single=single)
    blocks = report_blocks(built)
    messages = _pack(blocks, ctx.caps.max_text)
    if built.empty:
        return [Reply(text) for text in messages]
    chart = Attachment(CHART_NAME, render(chart_data(built)), "image/png")
    return [Reply(text, file=chart if n == 0 else None) for n, text in enumerate(messages)]


def _pack(blocks: list[str], limit: int) -> list[str]:
    """Blocks joined into as few messages as fit the platform's limit."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block[:limit])
    return messages


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
    name = match["metric"].lower().replace("-", "_")
    if name not in METRICS and name + "s" in METRICS:
        name += "s"  # "placement" for "placements"
    metric = METRICS.get(name)
    if metric is None:
        raise UserError(f"I can't measure {match['metric']}. {OBJECTIVE_HELP}")
    target = float(match["target"])
    if not metric.low <= target <= metric.high:
        raise UserError(
            f"For {metric.label.lower()}, choose a target from {metric.show(metric.low)} "
            f"to {metric.show(metric.high)}."
        )
    employer = _employer(ctx, match["employer"]) if match["employer"] else None
    today = ctx.now.date()
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
    [value] = objective_values(ctx.session, [existing])
    return [
        Reply(
            f"{said}, from {fmt_date(existing.starts_on)} to {fmt_date(ends_on)}. "
            f"So far:\n{progress_line(existing, value)}\n\nSee them all with /objectives."
        )
    ]


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
    values = objective_values(ctx.session, rows)
    lines = [f"Objectives of {school.name}:"]
    buttons = []
    for n, (row, value) in enumerate(zip(rows, values, strict=True), start=1):
        lines.append(f"{n}. {progress_line(row, value)}")
        buttons.append((Button(f"Remove {n}", f"obx:{row.id}"),))
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
