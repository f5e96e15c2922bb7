"""The reports as files: the partnership report as Markdown and CSV (``oppbot report``), and
the evidence of encounters as CSV (``oppbot evidence``, /evidence's download), all with the
same guard against cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from bot.i18n import N_, _, _p
from handlers.reports.encounters import GroupCoverage
from handlers.reports.figures import Figures, days_text, fmt_duration, fmt_percent, plain, shown
from handlers.reports.report import (
    ALL_EMPLOYERS,
    Report,
    period_before,
    period_span,
    quiet_line,
)
from storage.models import EncounterKind, Person

# (column, heading, the figure, how Markdown shows it)
_COLUMNS: tuple[tuple[str, str, Callable[[Figures], float | None], Callable[[float], str]], ...] = (
    ("published", N_("Published"), lambda f: f.published, shown),
    ("reached", N_("Reached"), lambda f: f.reached, shown),
    ("interests", N_("Interests"), lambda f: f.interests, shown),
    ("reply_rate", N_("Reply rate"), lambda f: f.reply_rate, fmt_percent),
    ("median_reply_hours", N_("Median reply"), lambda f: f.median_reply_hours, fmt_duration),
    ("invitations", N_("Invitations"), lambda f: f.invitations, shown),
    ("placements", N_("Placements"), lambda f: f.placements, shown),
    ("hours_confirmed", N_("Hours"), lambda f: f.hours, shown),
    (
        "student_rating",
        N_("Students' rating"),
        lambda f: f.student_rating.value,
        lambda v: f"{v:.1f}",
    ),
    (
        "supervisor_rating",
        N_("Supervisors' rating"),
        lambda f: f.supervisor_rating.value,
        lambda v: f"{v:.1f}",
    ),
)


def report_markdown(report: Report) -> str:
    period = report.period
    lines = [
        "# " + _("Partnership report: {title}", title=report.title),
        "",
        _(
            "{span} ({days}). In brackets: {before} ({before_span}).",
            span=period_span(period),
            days=days_text(period.days),
            before=period_before(period),
            before_span=period_span(period.previous),
        ),
        "",
        "| " + " | ".join([_("Employer"), *(_(column[1]) for column in _COLUMNS)]) + " |",
        "| --- " * (len(_COLUMNS) + 1) + "|",
    ]
    overall = (_(ALL_EMPLOYERS), report.now.overall, report.before.overall)
    for name, now, before in (overall, *report.employers):
        cells = [name.replace("|", "\\|")]
        for _column, _heading, figure, show in _COLUMNS:
            value, earlier = figure(now), figure(before)
            cell = show(value) if value is not None else "–"
            cells.append(f"{cell} ({show(earlier) if earlier is not None else '–'})")
        lines.append("| " + " | ".join(cells) + " |")
    if quiet := quiet_line(report):
        lines += ["", quiet]
    if report.objectives:
        lines += ["", "## " + _("Objectives"), "", *(f"- {o}" for o in report.objectives)]
    return "\n".join(lines) + "\n"


def report_csv(report: Report) -> str:
    out = io.StringIO()
    # CRLF, the standard's line end: a field holding a lone CR is then quoted, not broken.
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["employer", "period_start", "period_end"]
    # The partnership CSV is for scripts and spreadsheets of the operator: its columns are names.
    for column, *_rest in _COLUMNS:
        header += [column, f"{column}_previous"]
    writer.writerow(header)
    # A spreadsheet sorts and filters: every employer gets its row, the quiet ones too.
    employers = sorted(report.employers + report.quiet, key=lambda row: row[0].lower())
    overall = (ALL_EMPLOYERS, report.now.overall, report.before.overall)
    for name, now, before in (overall, *employers):
        row = [name, report.period.start.isoformat(), report.period.end.isoformat()]
        for _column, _heading, figure, _show in _COLUMNS:
            row += [_csv_value(figure(now)), _csv_value(figure(before))]
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def _csv_value(value: float | None) -> str:
    return "" if value is None else plain(value, 2)


# A spreadsheet runs a cell that starts with one of these as a formula (an employer may be
# called "=HYPERLINK(...)"); a leading quote keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# --- The evidence of encounters ---------------------------------------------------------------


# Translators: the columns of the spreadsheet a teacher downloads from /evidence. English keeps
# the names scripts read; give them as short words in your language.
WIDE_COLUMNS = (
    N_("student_id"),
    N_("first_name"),
    N_("family_name"),
    N_("class"),
    N_("year_group"),
    N_("school_year_start"),
    N_("school_year_end"),
    N_("encounters"),
    N_("meaningful_encounters"),
    N_("workplace_experiences"),
    N_("workplace_experiences_this_and_last_year"),
    N_("hours_confirmed"),
    N_("feedback_given"),
    N_("encounter_target_met"),
    N_("experience_target_met"),
)
LONG_COLUMNS = (
    N_("student_id"),
    N_("first_name"),
    N_("family_name"),
    N_("class"),
    N_("year_group"),
    N_("date"),
    N_("kind"),
    N_("activity"),
    N_("employer"),
    N_("two_way"),
    N_("source"),
)


def _write(columns: tuple[str, ...], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    # CRLF, the standard's line end, as in the partnership report's CSV.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_(column) for column in columns])
    for row in rows:
        writer.writerow([csv_cell(_cell(value)) for value in row])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _p("spreadsheet cell", "yes") if value else _p("spreadsheet cell", "no")
    return str(value)


def _who(student: Person) -> list[object]:
    cohort = student.cohort.name if student.cohort is not None else ""
    return [student.id, student.name, student.family_name or "", cohort, student.grade]


def wide_csv(groups: Iterable[GroupCoverage]) -> str:
    """One row per student, one column per measure."""
    rows = []
    for group in groups:
        year = group.year
        before = year.previous()
        for s in group.students:
            this_year = s.in_year(year)
            rows.append(
                [
                    *_who(s.student),
                    year.start.isoformat(),
                    year.end.isoformat(),
                    len(this_year),
                    sum(i.meaningful for i in this_year),
                    sum(i.kind == EncounterKind.WORKPLACE for i in this_year),
                    sum(
                        i.kind == EncounterKind.WORKPLACE and (i.day in year or i.day in before)
                        for i in s.items
                    ),
                    f"{s.hours_minutes / 60:g}",
                    s.feedback_given,
                    s.has_encounter(year),
                    s.has_experience(year),
                ]
            )
    return _write(WIDE_COLUMNS, rows)


def long_csv(groups: Iterable[GroupCoverage]) -> str:
    """One row per encounter or experience of the school year."""
    rows = []
    for group in groups:
        for s in group.students:
            for item in s.in_year(group.year):
                rows.append(
                    [
                        *_who(s.student),
                        item.day.isoformat(),
                        item.kind.value,
                        item.activity,
                        item.organisation,
                        item.two_way,
                        item.source,
                    ]
                )
    return _write(LONG_COLUMNS, rows)
