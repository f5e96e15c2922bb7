"""The partnership health report: /report, and the report's text and chart.

A teacher sees their own school's students with every employer; an employer sees only their
own organisation (with every school), never another's; an admin sees everything. The figures
come from ``handlers.reports.figures``; this module words them for the chat and draws them in
the chart
(``handlers.reports.export`` writes them as Markdown and CSV for ``oppbot report``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.core import EMPLOYERS, STAFF, Attachment, Context, Registry, Reply, Timing, UserError
from bot.i18n import N_, _, _n, fmt_number
from handlers.common import fmt_date, local_today, person_zone, staff_school
from handlers.reports.chart import ChartData, render
from handlers.reports.figures import (
    Breakdown,
    Figures,
    Period,
    PeriodError,
    Scope,
    compute,
    days_text,
    fmt_duration,
    fmt_percent,
    fmt_rating,
    parse_period,
    shown,
)
from handlers.reports.objectives import objective_values, progress_line
from storage.models import Objective, Organisation, Person, Role, School

registry = Registry()

CHART_NAME = "partnership-report.png"
# The employers the chart names, the busiest first; the report lists the rest.
CHART_EMPLOYERS = 8
# The heading of the figures of every employer together (the report's and its files').
ALL_EMPLOYERS = N_("All employers")


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
    session: Session,
    scope: Scope,
    title: str,
    period: Period,
    *,
    single: bool = False,
    year_start: tuple[int, int] = Timing.school_year_start,
) -> Report:
    """The report of ``scope`` over ``period``; coverage objectives are measured in school years
    beginning on ``year_start`` (month, day)."""
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
        objectives=_objectives_in(session, scope, period, year_start),
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


def _objectives_in(
    session: Session, scope: Scope, period: Period, year_start: tuple[int, int]
) -> list[str]:
    """Progress of the objectives whose window overlaps ``period``, that ``scope`` may see, as
    of the period's last day."""
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
    values = objective_values(
        session, objectives, period.zone, period.end, year_start, scope.organisation_id
    )
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
        _("{school}: {objective}", school=schools[o.school_id], objective=progress_line(o, value))
        if schools
        else progress_line(o, value)
        for o, value in zip(objectives, values, strict=True)
    ]


def _change(now: float, before: float) -> str:
    """The change from ``before`` to ``now`` at the precision the figures are shown in."""
    shown_now, shown_before = round(now, 1), round(before, 1)
    if shown_now == shown_before:
        return " " + _("(no change)")
    by = shown(abs(shown_now - shown_before))
    return " " + (_("(up {by})", by=by) if shown_now > shown_before else _("(down {by})", by=by))


def _was(before: float | None, show: Callable[[float], str]) -> str:
    return " " + _("(was {value})", value=show(before)) if before is not None else ""


# The report's figures, by what they count.
PUBLISHED = N_("Opportunities published: {count}")
REACHED = N_("Students reached: {count}")
INTERESTS = N_("Interests registered: {count}")
INVITATIONS = N_("Invitations: {count}")
PLACEMENTS = N_("Placements: {count}")


def figure_lines(now: Figures, before: Figures, *, brief: bool = False) -> list[str]:
    """One line per figure; ``brief`` leaves out those with nothing in either period."""
    lines: list[tuple[str, bool]] = []
    for label, mine, earlier in (
        (PUBLISHED, now.published, before.published),
        (REACHED, now.reached, before.reached),
        (INTERESTS, now.interests, before.interests),
    ):
        text = _(label, count=fmt_number(mine)) + _change(mine, earlier)
        lines.append((text, bool(mine or earlier)))
    if now.reply_rate is not None:
        rate = _(
            "{percent} ({replied} of {answerable} answered)",
            percent=fmt_percent(now.reply_rate),
            replied=fmt_number(now.replied),
            answerable=fmt_number(now.answerable),
        )
    else:
        rate = _("no interests to answer yet")
    lines.append(
        (
            _("Reply rate: {rate}", rate=rate) + _was(before.reply_rate, fmt_percent),
            now.answerable > 0 or before.answerable > 0,
        )
    )
    median = now.median_reply_hours
    lines.append(
        (
            _(
                "Median reply time: {time}",
                time=fmt_duration(median) if median is not None else _("no replies yet"),
            )
            + _was(before.median_reply_hours, fmt_duration),
            bool(now.reply_hours or before.reply_hours),
        )
    )
    for label, mine, earlier in (
        (INVITATIONS, now.invitations, before.invitations),
        (PLACEMENTS, now.placements, before.placements),
    ):
        text = _(label, count=fmt_number(mine)) + _change(mine, earlier)
        lines.append((text, bool(mine or earlier)))
    lines.append(
        (
            _("Hours confirmed: {hours}", hours=shown(now.hours))
            + _change(now.hours, before.hours),
            bool(now.minutes or before.minutes),
        )
    )
    lines += _rating_lines(now, before)
    return ["• " + text for text, anything in lines if anything or not brief]


def _rating_lines(now: Figures, before: Figures) -> list[tuple[str, bool]]:
    """The feedback figures, each with whether there is anything in either period."""
    lines = []
    for label, rating, previous in (
        (N_("Feedback from students: {rating}"), now.student_rating, before.student_rating),
        (
            N_("Feedback from supervisors: {rating}"),
            now.supervisor_rating,
            before.supervisor_rating,
        ),
    ):
        if rating.value is not None:
            said = _n(
                "{rating} ({n} answer)",
                "{rating} ({n} answers)",
                rating.count,
                rating=fmt_rating(rating.value),
            )
        else:
            said = _("none yet")
        lines.append(
            (
                _(label, rating=said) + _was(previous.value, fmt_rating),
                bool(rating.count or previous.count),
            )
        )
    return lines


def period_span(period: Period) -> str:
    """The period's first and last days, as the report shows them."""
    return _("{start} to {end}", start=fmt_date(period.start), end=fmt_date(period.end))


def period_before(period: Period) -> str:
    """The period just before, as the report names it."""
    return _n("the day before", "the {n} days before", period.days)


def quiet_line(report: Report) -> str | None:
    """One line for the employers that only published, or None without any."""
    if not report.quiet:
        return None
    count = len(report.quiet)
    now = sum(row[1].published for row in report.quiet)
    before = sum(row[2].published for row in report.quiet)
    # Translators: {opportunities} is "{n} opportunity" or "{n} opportunities", {change} the
    # change since the period before, like " (up 2)".
    return _n(
        "{n} other employer published {opportunities}{change}, with no students' activity yet.",
        "{n} other employers published {opportunities}{change}, with no students' activity yet.",
        count,
        opportunities=_n("{n} opportunity", "{n} opportunities", now),
        change=_change(now, before),
    )


def report_blocks(report: Report) -> list[str]:
    """The report as chat text, in blocks that may be sent as separate messages."""
    period = report.period
    if report.empty:
        # A year or more found nothing either: a longer period would not help.
        nothing = _(
            "Nothing to report for {title} from {span}, nor in {before}: no opportunities, "
            "views or interests yet.",
            title=report.title,
            span=period_span(period),
            before=period_before(period),
        )
        if period.days < 365:
            return [nothing + " " + _("Try a longer period: /report year")]
        return [nothing]
    blocks = [
        _(
            "Partnership report for {title}, {span} ({days}). In brackets: the change since "
            "{before}.",
            title=report.title,
            span=period_span(period),
            days=days_text(period.days),
            before=period_before(period),
        )
    ]
    lines = figure_lines(report.now.overall, report.before.overall)
    blocks.append("\n".join(lines if report.single else [_(ALL_EMPLOYERS), *lines]))
    if report.objectives:
        blocks.append("\n".join([_("Objectives"), *("• " + o for o in report.objectives)]))
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
        title=_("Partnership report: {title}", title=report.title),
        subtitle=f"{period_span(report.period)} ({days_text(report.period.days)})",
        funnel=(
            (_("Students reached"), overall.reached),
            (_("Interests"), overall.interests),
            (_("Invitations"), overall.invitations),
            (_("Placements"), overall.placements),
        ),
        reply_times=[(name, now.median_reply_hours) for name, now, _ in shown],
        more=len(report.employers) - len(shown),
    )


def _view(ctx: Context) -> tuple[Scope, str, bool]:
    """Whose figures the person talking may see: (scope, its name, one employer's own)."""
    if ctx.role == Role.EMPLOYER:
        organisation = ctx.person.organisation
        if organisation is None:
            raise UserError(
                _(
                    "You're not linked to an employer yet. Ask the school for an employer "
                    "invite code."
                )
            )
        return Scope(organisation_id=organisation.id), organisation.name, True
    if ctx.role == Role.ADMIN:
        return Scope(), _("all schools"), False
    school = staff_school(ctx)
    return Scope(school_id=school.id), school.name, False


@registry.command(
    "report",
    "health",
    roles=STAFF | EMPLOYERS,
    help=N_("how the partnerships are doing: /report, /report 30d, /report last month"),
)
def report(ctx: Context, args: str) -> list[Reply]:
    try:
        period = parse_period(args, local_today(ctx), person_zone(ctx.person))
    except PeriodError as error:
        raise UserError(str(error)) from None
    scope, title, single = _view(ctx)
    built = build_report(
        ctx.session, scope, title, period, single=single, year_start=ctx.timing.school_year_start
    )
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
