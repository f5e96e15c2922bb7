"""The evidence a school gives for each student's encounters with employers: the figures.

What counts, and from where (the chat commands are in ``handlers.reports.evidence``):

- a placement is a workplace experience (an event or mentoring placement is an encounter),
  dated by its first day, with the hours confirmed and the feedback given on it; it is read
  from ``placements`` each time, never copied, so changing its dates or removing it can never
  leave a stale or doubled count;
- an ``Encounter`` row: what a teacher recorded (a careers fair outside oppbot, for a class or
  some students), or a student's confirmed attendance of an employer's event they were
  invited to through oppbot.

Meaningful (Gatsby Benchmark 5) means two-way: the student talked with the employer, not only
listened. Every placement is two-way; a recorded encounter is as the teacher said.

The targets are the benchmarks': every student has at least one meaningful encounter every
school year, and a workplace experience by 16 and again by 18. Each of those is a two-year key
stage (Years 10 and 11, then 12 and 13), so a student counts as having one when it happened
this school year or the one before. Both targets are 100% of the year group.

A year group is the student's grade. A student who deletes their data leaves the evidence:
their placements and encounters stay only as anonymous counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.i18n import N_, _, _n, fmt_number
from storage.models import (
    Cohort,
    Encounter,
    EncounterKind,
    Feedback,
    FeedbackStatus,
    HoursEntry,
    HoursStatus,
    Interest,
    Opportunity,
    OpportunityKind,
    Person,
    Placement,
    Role,
)

TARGET_PERCENT = 100
# The measures coverage is counted on, as objectives store them.
ANY_ENCOUNTER = "encounter"
ENCOUNTER = "meaningful_encounter"
EXPERIENCE = "workplace_experience"
# The benchmarks' two, which /evidence shows.
MEASURES = {
    ENCOUNTER: N_("a meaningful encounter this school year"),
    EXPERIENCE: N_("a workplace experience this school year or last"),
}
# The same measures in the sentences that show them.
WITH_MEASURE = {
    ENCOUNTER: N_("with a meaningful encounter this school year"),
    EXPERIENCE: N_("with a workplace experience this school year or last"),
}
NONE_YET = {
    ENCOUNTER: N_("{group}, no meaningful encounter this school year yet:"),
    EXPERIENCE: N_("{group}, no workplace experience this school year or last yet:"),
}
# What a school may aim for with /objective, as "Year 10 with ..." says it.
OBJECTIVE_MEASURES = {
    ANY_ENCOUNTER: N_("{group} with an encounter"),
    ENCOUNTER: N_("{group} with a meaningful encounter"),
    EXPERIENCE: N_("{group} with a workplace experience"),
}
# Placements on these are encounters; any other placement is an experience of a workplace.
_ENCOUNTER_PLACEMENTS = (OpportunityKind.EVENT, OpportunityKind.MENTORING)
_PLACEMENT_ACTIVITY = {
    OpportunityKind.INTERNSHIP: N_("internship"),
    OpportunityKind.JOB_SHADOWING: N_("job shadowing"),
    OpportunityKind.COOP: N_("co-op placement"),
    OpportunityKind.MENTORING: N_("mentoring"),
    OpportunityKind.SITE_VISIT: N_("site visit"),
    OpportunityKind.EVENT: N_("event"),
}
# Placements' activities are these words; any other activity is what a person typed.
PLACEMENT_ACTIVITIES = frozenset(_PLACEMENT_ACTIVITY.values())
SOURCES = {
    "placement": N_("placement"),
    "teacher": N_("recorded by a teacher"),
    "student": N_("you went"),
}


@dataclass(frozen=True)
class SchoolYear:
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        return f"{self.start.year}/{str(self.end.year)[-2:]}"

    def previous(self) -> SchoolYear:
        return school_year(self.start.replace(year=self.start.year - 1), self.start_md)

    @property
    def start_md(self) -> tuple[int, int]:
        return (self.start.month, self.start.day)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def school_year(day: date, start: tuple[int, int] = (9, 1)) -> SchoolYear:
    """The school year ``day`` falls in, when school years begin on ``start`` (month, day)."""
    month, first = start
    begins = date(day.year, month, first)
    if day < begins:
        begins = date(day.year - 1, month, first)
    ends = date(begins.year + 1, month, first).toordinal() - 1
    return SchoolYear(begins, date.fromordinal(ends))


@dataclass(frozen=True)
class Item:
    """One piece of evidence for one student."""

    student_id: int
    day: date
    kind: EncounterKind
    activity: str
    organisation: str
    two_way: bool
    source: str  # placement, teacher or student

    @property
    def meaningful(self) -> bool:
        return self.two_way


@dataclass
class StudentEvidence:
    student: Person
    items: list[Item] = field(default_factory=list)
    hours_minutes: int = 0  # confirmed, this school year
    feedback_given: int = 0  # by the student, this school year

    def in_year(self, year: SchoolYear) -> list[Item]:
        return [i for i in self.items if i.day in year]

    def has_encounter(self, year: SchoolYear) -> bool:
        return any(i.meaningful for i in self.in_year(year))

    def has_experience(self, year: SchoolYear) -> bool:
        before = year.previous()
        return any(
            i.kind == EncounterKind.WORKPLACE and (i.day in year or i.day in before)
            for i in self.items
        )

    def meets(self, measure: str, year: SchoolYear) -> bool:
        if measure == ANY_ENCOUNTER:
            # Any encounter or experience this school year, two-way or not.
            return bool(self.in_year(year))
        return self.has_encounter(year) if measure == ENCOUNTER else self.has_experience(year)


@dataclass(frozen=True)
class GroupCoverage:
    grade: int | None
    students: list[StudentEvidence]
    year: SchoolYear

    @property
    def label(self) -> str:
        return year_group_label(self.grade)

    def meeting(self, measure: str) -> list[StudentEvidence]:
        return [s for s in self.students if s.meets(measure, self.year)]

    def missing(self, measure: str) -> list[StudentEvidence]:
        return [s for s in self.students if not s.meets(measure, self.year)]

    def percent(self, measure: str) -> float:
        return 100 * len(self.meeting(measure)) / len(self.students) if self.students else 0.0


def year_group_label(grade: int | None) -> str:
    return _("Year {grade}", grade=grade) if grade is not None else _("Year group not given")


def school_students(
    session: Session, school_id: int, *, grade: int | None = None, ids: Collection[int] = ()
) -> list[Person]:
    query = (
        select(Person)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Cohort.school_id == school_id, Person.role == Role.STUDENT)
        .options(selectinload(Person.cohort))
        .order_by(Person.grade, Person.name, func.coalesce(Person.family_name, ""), Person.id)
    )
    if grade is not None:
        query = query.where(Person.grade == grade)
    if ids:
        query = query.where(Person.id.in_(list(ids)))
    return list(session.scalars(query))


def evidence_for(
    session: Session, school_id: int, students: Iterable[Person], year: SchoolYear, today: date
) -> list[StudentEvidence]:
    """Each student's evidence up to ``today``, with hours and feedback of ``year``."""
    found = {s.id: StudentEvidence(s) for s in students}
    if not found:
        return []
    _add_placements(session, school_id, found, today)
    _add_recorded(session, school_id, found, today)
    _add_hours(session, school_id, found, year, today)
    _add_feedback(session, school_id, found, year)
    for evidence in found.values():
        evidence.items.sort(key=lambda i: (i.day, i.activity))
    return list(found.values())


def _add_placements(
    session: Session, school_id: int, found: dict[int, StudentEvidence], today: date
) -> None:
    """Each placement that has started, as a two-way workplace experience or encounter."""
    placements = session.execute(
        select(Placement, Opportunity.kind)
        .join(Interest, Interest.id == Placement.interest_id)
        .join(Opportunity, Opportunity.id == Interest.opportunity_id)
        .where(Placement.school_id == school_id, Placement.student_id.in_(list(found)))
        .options(selectinload(Placement.organisation))
        .order_by(Placement.id)
    ).all()
    for placement, kind in placements:
        assert placement.student_id is not None
        day = placement.start_date or placement.created_at.date()
        if day > today:
            continue  # not started yet: no experience so far
        found[placement.student_id].items.append(
            Item(
                student_id=placement.student_id,
                day=day,
                kind=(
                    EncounterKind.ENCOUNTER
                    if kind in _ENCOUNTER_PLACEMENTS
                    else EncounterKind.WORKPLACE
                ),
                activity=_PLACEMENT_ACTIVITY[kind],
                organisation=placement.organisation.name,
                two_way=True,
                source="placement",
            )
        )


def _add_recorded(
    session: Session, school_id: int, found: dict[int, StudentEvidence], today: date
) -> None:
    """The encounters teachers and students recorded, up to ``today``."""
    recorded = session.scalars(
        select(Encounter)
        .where(
            Encounter.school_id == school_id,
            Encounter.student_id.in_(list(found)),
            Encounter.happened_on <= today,
        )
        .options(selectinload(Encounter.organisation))
        .order_by(Encounter.happened_on, Encounter.id)
    )
    for row in recorded:
        assert row.student_id is not None
        organisation = row.organisation.name if row.organisation else row.organisation_name
        found[row.student_id].items.append(
            Item(
                student_id=row.student_id,
                day=row.happened_on,
                kind=row.kind,
                activity=row.activity,
                organisation=organisation or "",
                two_way=row.two_way,
                source="teacher" if row.recorded_by_id is not None else "student",
            )
        )


def _add_hours(
    session: Session,
    school_id: int,
    found: dict[int, StudentEvidence],
    year: SchoolYear,
    today: date,
) -> None:
    """Confirmed placement hours worked in ``year`` up to ``today``."""
    hours = session.execute(
        select(Placement.student_id, func.sum(HoursEntry.minutes))
        .join(HoursEntry, HoursEntry.placement_id == Placement.id)
        .where(
            Placement.school_id == school_id,
            Placement.student_id.in_(list(found)),
            HoursEntry.status == HoursStatus.CONFIRMED,
            HoursEntry.work_date >= year.start,
            HoursEntry.work_date <= min(year.end, today),
        )
        .group_by(Placement.student_id)
    ).all()
    for student_id, minutes in hours:
        # The join to placements of these students rules out placements without a student.
        assert student_id is not None
        found[student_id].hours_minutes = int(minutes or 0)


def _add_feedback(
    session: Session, school_id: int, found: dict[int, StudentEvidence], year: SchoolYear
) -> None:
    """How many feedback forms each student answered in ``year``."""
    feedback = session.execute(
        select(Feedback.respondent_id, Feedback.answered_at)
        .join(Placement, Placement.id == Feedback.placement_id)
        .where(
            Placement.school_id == school_id,
            Feedback.respondent_id.in_(list(found)),
            Feedback.status == FeedbackStatus.ANSWERED,
            Feedback.answered_at.is_not(None),
        )
    ).all()
    for student_id, answered_at in feedback:
        # The query keeps answered feedback from these students only.
        assert student_id is not None and answered_at is not None
        if answered_at.date() in year:
            found[student_id].feedback_given += 1


def coverage(
    session: Session, school_id: int, year: SchoolYear, today: date, *, grade: int | None = None
) -> list[GroupCoverage]:
    """Per year group, every student's evidence (only ``grade``'s when given)."""
    students = school_students(session, school_id, grade=grade)
    by_grade: dict[int | None, list[StudentEvidence]] = defaultdict(list)
    for evidence in evidence_for(session, school_id, students, year, today):
        by_grade[evidence.student.grade].append(evidence)
    order = sorted(by_grade, key=lambda g: (g is None, g or 0))
    return [GroupCoverage(g, by_grade[g], year) for g in order]


def measure_percent(
    session: Session, school_id: int, measure: str, grade: int, day: date, start: tuple[int, int]
) -> float | None:
    """The share of a year group meeting ``measure`` on ``day``, in the school year ``day``
    falls in (school years beginning on ``start``); None when the year group has no students."""
    year = school_year(day, start)
    students = school_students(session, school_id, grade=grade)
    evidence = evidence_for(session, school_id, students, year, day)
    if not evidence:
        return None
    return 100 * sum(e.meets(measure, year) for e in evidence) / len(evidence)


def coverage_lines(groups: list[GroupCoverage]) -> list[str]:
    """Per year group, the two measures against their targets (for the chat and Markdown)."""
    lines = []
    for group in groups:
        n = len(group.students)
        lines.append(_n("{group}: {n} student", "{group}: {n} students", n, group=group.label))
        for measure, words in WITH_MEASURE.items():
            lines.append(
                "  "
                + _(
                    "{measure}: {have} of {total} ({percent}, target {target})",
                    measure=_(words),
                    have=fmt_number(len(group.meeting(measure))),
                    total=fmt_number(n),
                    percent=_("{percent}%", percent=fmt_number(round(group.percent(measure)))),
                    target=_("{percent}%", percent=fmt_number(TARGET_PERCENT)),
                )
            )
    return lines


def coverage_markdown(
    title: str, groups: list[GroupCoverage], labels: dict[int, str], year: SchoolYear
) -> str:
    """The coverage as Markdown, with who has neither measure yet (``labels``: staff's names)."""
    lines = [
        "# " + _("Encounters with employers: {title}", title=title),
        "",
        _(
            "School year {year} ({start} to {end})",
            year=year.label,
            start=year.start.isoformat(),
            end=year.end.isoformat(),
        ),
        "",
    ]
    if not groups:
        return "\n".join([*lines, _("No students yet.")]) + "\n"
    lines += [
        "| "
        + " | ".join([_("year group"), _("students"), *(_(w) for w in WITH_MEASURE.values())])
        + " |",
        "| --- | ---: | ---: | ---: |",
    ]
    for group in groups:
        cells = [
            _(
                "{have} ({percent}%; target {target}%)",
                have=len(group.meeting(m)),
                percent=round(group.percent(m)),
                target=TARGET_PERCENT,
            )
            for m in MEASURES
        ]
        lines.append(f"| {group.label} | {len(group.students)} | " + " | ".join(cells) + " |")
    for group in groups:
        for measure in MEASURES:
            missing = group.missing(measure)
            if missing:
                lines += ["", "## " + _(NONE_YET[measure], group=group.label), ""]
                lines += [f"- {labels[s.student.id]}" for s in missing]
    return "\n".join(lines) + "\n"
