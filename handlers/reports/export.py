"""The reports as files: the partnership report as Markdown and CSV (``oppbot report``), and
the evidence of encounters as CSV (``oppbot evidence``, /evidence's download), all with the
same guard against cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from handlers.reports.encounters import GroupCoverage
from handlers.reports.figures import Figures, days_text, fmt_duration, fmt_percent, plain
from handlers.reports.report import Report, period_before, period_span, quiet_line
from storage.models import EncounterKind, Person

# (column, heading, the figure, how Markdown shows it)
_COLUMNS: tuple[tuple[str, str, Callable[[Figures], float | None], Callable[[float], str]], ...] = (
    ("published", "Published", lambda f: f.published, plain),
    ("reached", "Reached", lambda f: f.reached, plain),
    ("interests", "Interests", lambda f: f.interests, plain),
    ("reply_rate", "Reply rate", lambda f: f.reply_rate, fmt_percent),
    ("median_reply_hours", "Median reply", lambda f: f.median_reply_hours, fmt_duration),
    ("invitations", "Invitations", lambda f: f.invitations, plain),
    ("placements", "Placements", lambda f: f.placements, plain),
    ("hours_confirmed", "Hours", lambda f: f.hours, plain),
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
        f"{period_span(period)} ({days_text(period.days)}). In brackets: {period_before(period)} "
        f"({period_span(period.previous)}).",
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


WIDE_COLUMNS = (
    "student_id",
    "first_name",
    "family_name",
    "class",
    "year_group",
    "school_year_start",
    "school_year_end",
    "encounters",
    "meaningful_encounters",
    "workplace_experiences",
    "workplace_experiences_this_and_last_year",
    "hours_confirmed",
    "feedback_given",
    "encounter_target_met",
    "experience_target_met",
)
LONG_COLUMNS = (
    "student_id",
    "first_name",
    "family_name",
    "class",
    "year_group",
    "date",
    "kind",
    "activity",
    "employer",
    "two_way",
    "source",
)


def _write(columns: tuple[str, ...], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    # CRLF, the standard's line end, as in the partnership report's CSV.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(_cell(value)) for value in row])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
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
