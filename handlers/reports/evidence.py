"""Evidence of students' encounters with employers: /evidence, /record, and the nudge.

Teachers see their school's coverage per year group (``handlers.reports.encounters`` counts
it), open one student's record, record what happened outside oppbot for a class or some
students in one step, and nudge the students without an encounter through an announcement. A student
sees their own record with /record, confirms the employers' events they went to (asked once
after the day, by ``ask_attendance``, or from /record), and downloads it as a file. Employers
never see any of it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import (
    STAFF,
    STUDENTS,
    Attachment,
    Button,
    Context,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from bot.i18n import N_, _, _n, _p, fmt_number, speaking_to
from handlers import actions
from handlers.common import (
    WhenError,
    clip,
    fmt_date,
    local_today,
    parse_day,
    parse_id,
    staff_labels,
    staff_school,
    student_school_id,
)
from handlers.messaging import draft_for_students, retext_draft
from handlers.reports.encounters import (
    ENCOUNTER,
    EXPERIENCE,
    MEASURES,
    NONE_YET,
    PLACEMENT_ACTIVITIES,
    SOURCES,
    GroupCoverage,
    Item,
    SchoolYear,
    StudentEvidence,
    coverage,
    coverage_lines,
    evidence_for,
    school_students,
    school_year,
    year_group_label,
)
from handlers.reports.export import wide_csv
from handlers.reports.figures import fmt_hours
from storage.db import transaction
from storage.models import (
    Cohort,
    Encounter,
    EncounterKind,
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityKind,
    Organisation,
    Person,
    Placement,
    Role,
)
from storage.outbox import Outgoing, enqueue_many

registry = Registry()

STATE = "evidence_record"
MAX_LISTED = 10
MAX_ACTIVITY = 80
# Words that say what kind an activity is; anything else is asked.
_KINDS: dict[str, EncounterKind] = {
    "careers fair": EncounterKind.ENCOUNTER,
    "fair": EncounterKind.ENCOUNTER,
    "talk": EncounterKind.ENCOUNTER,
    "assembly": EncounterKind.ENCOUNTER,
    "workshop": EncounterKind.ENCOUNTER,
    "mentoring": EncounterKind.ENCOUNTER,
    "mock interview": EncounterKind.ENCOUNTER,
    "interview": EncounterKind.ENCOUNTER,
    "enterprise": EncounterKind.ENCOUNTER,
    "competition": EncounterKind.ENCOUNTER,
    "site visit": EncounterKind.WORKPLACE,
    "workplace visit": EncounterKind.WORKPLACE,
    "visit": EncounterKind.WORKPLACE,
    "work experience": EncounterKind.WORKPLACE,
    "placement": EncounterKind.WORKPLACE,
    "internship": EncounterKind.WORKPLACE,
    "shadowing": EncounterKind.WORKPLACE,
    "work shadowing": EncounterKind.WORKPLACE,
    "job shadowing": EncounterKind.WORKPLACE,
}
KIND_WORDS = {
    EncounterKind.ENCOUNTER: N_("encounter"),
    EncounterKind.WORKPLACE: N_("workplace experience"),
}
# "careers fair with Acme on 20 nov for Year 11": the employer and the day are optional.
_RECORD = re.compile(
    r"(?P<activity>.+?)(?:\s+with\s+(?P<org>.+?))?(?:\s+on\s+(?P<day>.+?))?\s+for\s+(?P<who>.+)",
    re.IGNORECASE | re.DOTALL,
)
_GRADE = re.compile(r"(?:year|grade|y)?\s*(\d{1,2})", re.IGNORECASE)
# Translators: what follows /record is typed in English; keep it as it is.
RECORD_USAGE = N_(
    "Record what happened like this: /record careers fair with Acme on 2026-11-20 for "
    "Year 11 (a class, a year group, or names: for Uma Shah, Bob Lee). To see one student's "
    "record: /record NAME."
)
# Events students go to: after its day, a student invited through oppbot says whether they went.
_ATTENDED = (OpportunityKind.EVENT, OpportunityKind.SITE_VISIT)
_ATTENDED_KIND = {
    OpportunityKind.EVENT: EncounterKind.ENCOUNTER,
    OpportunityKind.SITE_VISIT: EncounterKind.WORKPLACE,
}
# "Did you go?" is asked about events of the last two weeks only: one long past (the job was
# not running then, or the invitation came late) is for /record, not a surprise message.
ASK_WITHIN = timedelta(days=14)


def this_year(ctx: Context) -> SchoolYear:
    return school_year(local_today(ctx), ctx.timing.school_year_start)


def _grade_arg(text: str) -> int | None:
    match = _GRADE.fullmatch(text.strip())
    if match is None:
        raise UserError(
            _("Say which year group by its number, like /evidence 11 or /evidence Year 11.")
        )
    return int(match.group(1))


# --- Coverage ---------------------------------------------------------------------------------


@registry.command(
    "evidence",
    "coverage",
    roles=STAFF,
    help=N_("who has met employers this school year, per year group: /evidence Year 11"),
)
def evidence(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    grade = _grade_arg(args) if args.strip() else None
    year = this_year(ctx)
    groups = coverage(ctx.session, school.id, year, local_today(ctx), grade=grade)
    if not groups:
        if grade is None:
            return [Reply(_("No students at {school} yet.", school=school.name))]
        return [
            Reply(
                _(
                    "No students in {group} at {school} yet.",
                    group=year_group_label(grade),
                    school=school.name,
                )
            )
        ]
    lines = [
        _(
            "Encounters with employers, school year {year} ({start} to {end}):",
            year=year.label,
            start=fmt_date(year.start),
            end=fmt_date(year.end),
        ),
        *coverage_lines(groups),
    ]
    buttons: list[tuple[Button, ...]] = []
    for group in groups:
        lines += _missing_lines(ctx, group, detailed=grade is not None, buttons=buttons)
    buttons.append(
        (Button(_("Download (CSV)"), actions.EVIDENCE_CSV.payload(_grade_token(grade))),)
    )
    if grade is None:
        lines.append(_("/evidence 11 lists a year group's students without them."))
    lines += ["", _("Record what happened outside oppbot with /record (/record alone says how).")]
    return [Reply("\n".join(lines), tuple(buttons))]


def _nudge_encounter(count: int, group: str) -> str:
    return _n(
        "Nudge {n} with no encounter ({group})",
        "Nudge {n} with no encounter ({group})",
        count,
        group=group,
    )


def _nudge_experience(count: int, group: str) -> str:
    return _n(
        "Nudge {n} with no experience ({group})",
        "Nudge {n} with no experience ({group})",
        count,
        group=group,
    )


# A nudge button's name for the students who gave no year group.
_NO_GRADE = "x"


def _grade_token(grade: int | None) -> str:
    return "all" if grade is None else str(grade)


def _missing_lines(
    ctx: Context, group: GroupCoverage, *, detailed: bool, buttons: list[tuple[Button, ...]]
) -> list[str]:
    """Who in ``group`` has neither measure yet (named when ``detailed``), with a button to
    nudge them and, for each one named, a button to open their record."""
    lines: list[str] = []
    # One number per student across both lists, in the group's (alphabetical) order.
    named = [
        s.student.id for s in group.students if any(not s.meets(m, group.year) for m in MEASURES)
    ]
    numbers = {sid: n for n, sid in enumerate(named, start=1)}
    for measure, short, nudge in (
        (ENCOUNTER, "enc", _nudge_encounter),
        (EXPERIENCE, "wex", _nudge_experience),
    ):
        missing = group.missing(measure)
        if not missing:
            continue
        buttons.append(
            (
                Button(
                    nudge(len(missing), group.label)[:40],
                    actions.EVIDENCE_NUDGE.payload(
                        _NO_GRADE if group.grade is None else group.grade, short
                    ),
                ),
            )
        )
        if not detailed:
            continue
        listed = missing[:MAX_LISTED]
        labels = staff_labels(ctx.session, [s.student for s in listed])
        lines += ["", _(NONE_YET[measure], group=group.label)]
        for s in listed:
            lines.append(f"{numbers[s.student.id]}. {labels[s.student.id]}")
        if len(missing) > len(listed):
            lines.append(
                _(
                    "… and {count} more (the CSV has them all)",
                    count=fmt_number(len(missing) - len(listed)),
                )
            )
    if detailed:
        shown = sorted(
            numbers[s.student.id] for m in MEASURES for s in group.missing(m)[:MAX_LISTED]
        )
        buttons += [
            (
                Button(
                    _("{number}: record", number=n), actions.EVIDENCE_RECORD.payload(named[n - 1])
                ),
            )
            for n in sorted(set(shown))
        ]
    return lines


def _groups(ctx: Context, token: str | None) -> tuple[int | None, list[GroupCoverage]]:
    """The year group a button names ("all": the whole school), and its coverage."""
    school = staff_school(ctx)
    if token is None or not (token == "all" or token.isdigit()):
        raise UserError(_("That button is from an earlier message. Send /evidence again."))
    grade = None if token == "all" else int(token)
    groups = coverage(ctx.session, school.id, this_year(ctx), local_today(ctx), grade=grade)
    return grade, groups


@registry.action(actions.EVIDENCE_CSV, roles=STAFF)
def csv_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    grade, groups = _groups(ctx, args[0] if args else None)
    year = this_year(ctx)
    name = "evidence" + (f"-year-{grade}" if grade is not None else "") + f"-{year.start.year}.csv"
    return [
        Reply(
            _("Here's the evidence: one row per student, one column per measure."),
            file=Attachment(name, wide_csv(groups).encode(), "text/csv"),
        )
    ]


@registry.action(actions.EVIDENCE_NUDGE, roles=STAFF)
def nudge_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    token = args[0] if args else ""
    measure = {"enc": ENCOUNTER, "wex": EXPERIENCE}.get(args[1] if len(args) > 1 else "")
    if measure is None or not (token == _NO_GRADE or token.isdigit()):
        raise UserError(_("That button is from an earlier message. Send /evidence again."))
    grade = None if token == _NO_GRADE else int(token)
    _grade, groups = _groups(ctx, "all" if grade is None else token)
    ids = [s.student.id for g in groups if g.grade == grade for s in g.missing(measure)]
    if not ids:
        return [Reply(_("Everyone there has one now: nobody to nudge."))]
    # The draft is the teacher's to read and change, so it is worded in their language.
    text = (
        _(
            "You haven't met an employer yet this school year. There are opportunities open for "
            "you right now: send /browse to see the ones you can apply for."
        )
        if measure == ENCOUNTER
        else _(
            "You haven't had a workplace experience yet: a visit, a day of job shadowing or a "
            "placement. Send /browse to see the ones open to you now."
        )
    )
    aid, preview = draft_for_students(ctx, ids, text)
    rows = (
        *preview.buttons,
        (Button(_("Write my own text"), actions.EVIDENCE_OWN_TEXT.payload(aid)),),
    )
    return [Reply(preview.text, rows)]


@registry.action(actions.EVIDENCE_OWN_TEXT, roles=STAFF)
def own_text_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    ctx.start_dialog(
        "evidence_nudge_text", NudgeTextDialog(announcement=parse_id(args[0] if args else None))
    )
    return [Reply(_("Type your message for them (up to {most} characters).", most=2000))]


class NudgeTextDialog(TypedDict):
    """The nudge's own wording typed by a teacher: for which draft announcement."""

    announcement: int


@registry.dialog("evidence_nudge_text")
def nudge_text_typed(ctx: Context, text: str, dialog: NudgeTextDialog) -> list[Reply]:
    return [retext_draft(ctx, str(dialog.get("announcement")), text)]


# --- One student's record ---------------------------------------------------------------------


def _item_line(item: Item) -> str:
    facts = [_(KIND_WORDS[item.kind])]
    if item.kind == EncounterKind.ENCOUNTER:
        facts.append(_("two-way") if item.two_way else _("listening only"))
    facts.append(_(SOURCES[item.source]))
    # A placement's activity is our word for its kind; any other is what someone typed.
    activity = _(item.activity) if item.activity in PLACEMENT_ACTIVITIES else item.activity
    values = {
        "day": fmt_date(item.day),
        "activity": activity,
        "facts": ", ".join(facts),
    }
    if item.organisation:
        return _(
            "• {day}: {activity} with {employer} ({facts})", employer=item.organisation, **values
        )
    return _("• {day}: {activity} ({facts})", **values)


def record_lines(evidence: StudentEvidence, year: SchoolYear, *, own: bool) -> list[str]:
    """A student's encounters and experiences, hours and feedback (``own``: for the student)."""
    lines = []
    if evidence.items:
        lines += [_("Encounters with employers and workplace experiences:")]
        lines += [_item_line(i) for i in evidence.items]
    else:
        lines.append(_("No encounters with employers recorded yet."))
    lines += [
        "",
        _(
            "This school year ({year}): {on_record} on record, {hours} confirmed on placements, "
            "{feedback}.",
            year=year.label,
            on_record=fmt_number(len(evidence.in_year(year))),
            hours=fmt_hours(evidence.hours_minutes / 60),
            feedback=_n(
                "feedback given once",
                "feedback given {n} times",
                evidence.feedback_given,
            ),
        ),
    ]
    for measure, words in MEASURES.items():
        if not evidence.meets(measure, year):
            lines.append("✗ " + _("Not yet: {measure}", measure=_(words)))
        elif own:
            lines.append("✓ " + _("You have {measure}", measure=_(words)))
        else:
            lines.append("✓ " + _("Has {measure}", measure=_(words)))
    return lines


def _school_student(ctx: Context, raw_id: str | None) -> Person:
    student = ctx.session.get(Person, parse_id(raw_id))
    school = staff_school(ctx)
    if student is None or student.role != Role.STUDENT or student_school_id(student) != school.id:
        raise UserError(_("I can't find that student at your school."))
    return student


def _staff_record(ctx: Context, student: Person) -> Reply:
    school = staff_school(ctx)
    year = this_year(ctx)
    (evidence,) = evidence_for(ctx.session, school.id, [student], year, local_today(ctx))
    label = staff_labels(ctx.session, [student])[student.id]
    return Reply("\n".join([f"{label}:", "", *record_lines(evidence, year, own=False)]))


@registry.action(actions.EVIDENCE_RECORD, roles=STAFF)
def record_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_staff_record(ctx, _school_student(ctx, args[0] if args else None))]


def _find_students(ctx: Context, name: str) -> list[Person]:
    school = staff_school(ctx)
    full = Person.name + " " + func.coalesce(Person.family_name, "")
    return list(
        ctx.session.scalars(
            select(Person)
            .join(Cohort, Cohort.id == Person.cohort_id)
            .where(
                Cohort.school_id == school.id,
                Person.role == Role.STUDENT,
                full.icontains(" ".join(name.split()), autoescape=True),
            )
            .order_by(Person.name, func.coalesce(Person.family_name, ""), Person.id)
            .limit(MAX_LISTED + 1)
        )
    )


def _lookup(ctx: Context, name: str) -> Reply:
    students = _find_students(ctx, name)
    if not students:
        raise UserError(_("No student at your school is called anything like “{name}”.", name=name))
    if len(students) == 1:
        return _staff_record(ctx, students[0])
    listed = students[:MAX_LISTED]
    labels = staff_labels(ctx.session, listed)
    lines = [_("Students like “{name}”:", name=name)]
    lines += [f"{n}. {labels[s.id]}" for n, s in enumerate(listed, start=1)]
    if len(students) > MAX_LISTED:
        lines.append(
            _("More than {most}: add more of the name to narrow it down.", most=MAX_LISTED)
        )
    buttons = tuple(
        (Button(_("{number}: record", number=n), actions.EVIDENCE_RECORD.payload(s.id)),)
        for n, s in enumerate(listed, 1)
    )
    return Reply("\n".join(lines), buttons)


# --- /record ----------------------------------------------------------------------------------


@registry.command(
    "record",
    "experiences",
    roles=STUDENTS | STAFF,
    help=N_(
        "encounters with employers: my experiences (students); record one for a class "
        "(teachers: /record careers fair with Acme on 2026-11-20 for Year 11)"
    ),
)
def record(ctx: Context, args: str) -> list[Reply]:
    if ctx.role == Role.STUDENT:
        return [_my_record(ctx)]
    text = " ".join(args.split())
    if not text:
        return [Reply(_(RECORD_USAGE))]
    match = _RECORD.fullmatch(text)
    if match is None:
        return [_lookup(ctx, text)]
    return [_start_recording(ctx, match)]


def _start_recording(ctx: Context, match: re.Match[str]) -> Reply:
    school = staff_school(ctx)
    activity = match["activity"].strip()
    if len(activity) > MAX_ACTIVITY:
        raise UserError(
            _("Please name the activity in under {most} characters.", most=MAX_ACTIVITY)
        )
    today = local_today(ctx)
    day = today
    if match["day"]:
        try:
            day = parse_day(match["day"], today, past=True, zone=ctx.person.zone)
        except WhenError as error:
            raise UserError(str(error)) from None
        if day > today:
            raise UserError(_("That day hasn't come yet. Record it once it has happened."))
    org_id, org_name = _organisation(ctx, match["org"])
    students, who = _audience(ctx, school.id, match["who"].strip())
    kind = _kind_of(activity)
    state = {
        "activity": activity,
        "org_id": org_id,
        "org_name": org_name,
        "day": day.isoformat(),
        "students": [s.id for s in students],
        "who": who,
        "kind": kind.value if kind else None,
        "two_way": None,
    }
    ctx.set_state(STATE, state)
    return _next_question(ctx, state)


def _kind_of(activity: str) -> EncounterKind | None:
    words = activity.lower()
    for phrase in sorted(_KINDS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", words):
            return _KINDS[phrase]
    return None


def _organisation(ctx: Context, name: str | None) -> tuple[int | None, str | None]:
    if not name:
        return None, None
    clean = " ".join(name.split())
    if len(clean) > 200:
        raise UserError(_("That employer's name is too long. Please shorten it."))
    found = ctx.session.scalars(
        select(Organisation)
        .where(Organisation.name.istartswith(clean, autoescape=True))
        .order_by(func.length(Organisation.name), Organisation.id)
        .limit(2)
    ).all()
    exact = [o for o in found if o.name.lower() == clean.lower()]
    if exact or len(found) == 1:
        org = (exact or found)[0]
        return org.id, org.name
    return None, clean


def _audience(ctx: Context, school_id: int, who: str) -> tuple[list[Person], str]:
    """The students ``who`` names: a class, a year group, or names separated by commas."""
    cohort = ctx.session.scalar(
        select(Cohort).where(Cohort.school_id == school_id, func.lower(Cohort.name) == who.lower())
    )
    if cohort is not None:
        students = list(
            ctx.session.scalars(
                select(Person)
                .where(Person.cohort_id == cohort.id, Person.role == Role.STUDENT)
                .order_by(Person.id)
            )
        )
        if not students:
            raise UserError(_("{cohort} has no students yet.", cohort=cohort.name))
        return students, cohort.name
    grade = _GRADE.fullmatch(who)
    if grade is not None and not who.isdigit():
        students = school_students(ctx.session, school_id, grade=int(grade.group(1)))
        if not students:
            raise UserError(
                _("No students in {group} yet.", group=year_group_label(int(grade.group(1))))
            )
        return students, year_group_label(int(grade.group(1)))
    chosen: dict[int, Person] = {}
    for name in re.split(r",|\band\b", who):
        name = name.strip()
        if not name:
            continue
        matches = _find_students(ctx, name)
        exact = [s for s in matches if _full(s).lower() == name.lower()]
        if len(exact) == 1:
            matches = exact
        if not matches:
            raise UserError(
                _(
                    "No class, year group or student at your school is called “{name}”.",
                    name=name,
                )
                + " "
                + _(RECORD_USAGE)
            )
        if len(matches) > 1:
            labels = staff_labels(ctx.session, matches[:MAX_LISTED])
            raise UserError(
                _(
                    "“{name}” could be several students: {students}. Please add the family name.",
                    name=name,
                    students="; ".join(labels.values()),
                )
            )
        chosen[matches[0].id] = matches[0]
    if not chosen:
        raise UserError(_(RECORD_USAGE))
    labels = staff_labels(ctx.session, chosen.values())
    return list(chosen.values()), ", ".join(labels.values())


def _full(student: Person) -> str:
    return f"{student.name} {student.family_name or ''}".strip()


def _next_question(ctx: Context, state: dict[str, Any]) -> Reply:
    if state["kind"] is None:
        return Reply(
            _(
                "Was {activity} an encounter with an employer (a talk, a fair) or a "
                "workplace experience (a visit, shadowing, a placement)?",
                activity=state["activity"],
            ),
            (
                (
                    Button(_p("button", "Encounter"), actions.EVIDENCE_KIND.payload("enc")),
                    Button(
                        _p("button", "Workplace experience"), actions.EVIDENCE_KIND.payload("wex")
                    ),
                ),
                (Button(_p("button", "Cancel"), actions.EVIDENCE_CANCEL.payload()),),
            ),
        )
    if state["two_way"] is None:
        return Reply(
            _(
                "Did the students talk with the employer (ask questions, take part), or only "
                "listen?"
            ),
            (
                (
                    Button(_("They talked with them"), actions.EVIDENCE_TWO_WAY.payload("y")),
                    Button(_("Only listened"), actions.EVIDENCE_TWO_WAY.payload("n")),
                ),
                (Button(_p("button", "Cancel"), actions.EVIDENCE_CANCEL.payload()),),
            ),
        )
    return Reply(
        _confirmation(state),
        (
            (
                Button(_p("button", "Save"), actions.EVIDENCE_SAVE.payload()),
                Button(_p("button", "Cancel"), actions.EVIDENCE_CANCEL.payload()),
            ),
        ),
    )


def _confirmation(state: dict[str, Any]) -> str:
    """The question before saving: what, with whom, when, of which kind, for whom."""
    values = {
        "activity": state["activity"],
        "day": fmt_date(date.fromisoformat(state["day"])),
        "way": _("two-way") if state["two_way"] else _("listening only"),
        "who": clip(state["who"], 600),
    }
    n = len(state["students"])
    encounter = EncounterKind(state["kind"]) == EncounterKind.ENCOUNTER
    if state["org_name"]:
        if encounter:
            return _n(
                "Record {activity} with {employer} on {day} as an encounter ({way}) for "
                "{n} student: {who}?",
                "Record {activity} with {employer} on {day} as an encounter ({way}) for "
                "{n} students: {who}?",
                n,
                employer=state["org_name"],
                **values,
            )
        return _n(
            "Record {activity} with {employer} on {day} as a workplace experience ({way}) for "
            "{n} student: {who}?",
            "Record {activity} with {employer} on {day} as a workplace experience ({way}) for "
            "{n} students: {who}?",
            n,
            employer=state["org_name"],
            **values,
        )
    if encounter:
        return _n(
            "Record {activity} on {day} as an encounter ({way}) for {n} student: {who}?",
            "Record {activity} on {day} as an encounter ({way}) for {n} students: {who}?",
            n,
            **values,
        )
    return _n(
        "Record {activity} on {day} as a workplace experience ({way}) for {n} student: {who}?",
        "Record {activity} on {day} as a workplace experience ({way}) for {n} students: {who}?",
        n,
        **values,
    )


def _pending(ctx: Context) -> dict[str, Any]:
    state = ctx.state(STATE)
    if state is None:
        raise UserError(_("Nothing is waiting to be recorded.") + " " + _(RECORD_USAGE))
    return state


@registry.action(actions.EVIDENCE_KIND, roles=STAFF)
def kind_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    state = _pending(ctx)
    kind = {"enc": EncounterKind.ENCOUNTER, "wex": EncounterKind.WORKPLACE}.get(
        args[0] if args else ""
    )
    if kind is None:
        raise UserError(_("That button is from an earlier question. Please use the one above."))
    state["kind"] = kind.value
    ctx.set_state(STATE, state)
    return [_replaced(_next_question(ctx, state))]


@registry.action(actions.EVIDENCE_TWO_WAY, roles=STAFF)
def two_way_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    state = _pending(ctx)
    if not args or args[0] not in ("y", "n"):
        raise UserError(_("That button is from an earlier question. Please use the one above."))
    state["two_way"] = args[0] == "y"
    ctx.set_state(STATE, state)
    return [_replaced(_next_question(ctx, state))]


def _replaced(reply: Reply) -> Reply:
    return Reply(reply.text, reply.buttons, replace=True)


@registry.action(actions.EVIDENCE_SAVE, roles=STAFF)
def save_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    state = _pending(ctx)
    if state["kind"] is None or state["two_way"] is None:
        return [_next_question(ctx, state)]
    school = staff_school(ctx)
    # Re-checked: a student may have left the school (or deleted their data) meanwhile.
    students = school_students(ctx.session, school.id, ids=state["students"])
    for student in students:
        ctx.session.add(
            Encounter(
                student_id=student.id,
                school_id=school.id,
                grade=student.grade,
                happened_on=date.fromisoformat(state["day"]),
                kind=EncounterKind(state["kind"]),
                activity=state["activity"],
                organisation_id=state["org_id"],
                organisation_name=state["org_name"],
                two_way=state["two_way"],
                recorded_by_id=ctx.person.id,
                created_at=ctx.now,
            )
        )
    ctx.clear_state(STATE)
    n = len(students)
    return [
        Reply(
            _n(
                "Recorded for {n} student. /evidence shows the coverage.",
                "Recorded for {n} students. /evidence shows the coverage.",
                n,
            ),
            replace=True,
        )
    ]


@registry.action(actions.EVIDENCE_CANCEL, roles=STAFF)
def cancel_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    ctx.clear_state(STATE)
    return [Reply(_("OK, nothing was recorded."), replace=True)]


# --- A student's own record -------------------------------------------------------------------


def _my_evidence(ctx: Context) -> tuple[StudentEvidence, SchoolYear]:
    year = this_year(ctx)
    school_id = student_school_id(ctx.person)
    if school_id is None:
        return StudentEvidence(ctx.person), year
    (evidence,) = evidence_for(ctx.session, school_id, [ctx.person], year, local_today(ctx))
    return evidence, year


def _event_day() -> ColumnElement[date]:
    """An event's last day (its only day, for most)."""
    return func.coalesce(Opportunity.end_date, Opportunity.start_date)


def _unconfirmed() -> Select[Interest]:
    """Interests in an employer's event or site visit the student was invited to through
    oppbot, whose attendance nobody has recorded (a placement is its own evidence)."""
    placed = select(Placement.interest_id)
    said = select(Encounter.interest_id).where(Encounter.interest_id.is_not(None))
    return (
        select(Interest)
        .join(Opportunity, Opportunity.id == Interest.opportunity_id)
        .where(
            Interest.status.in_((InterestStatus.INVITED, InterestStatus.PLACED)),
            Opportunity.kind.in_(_ATTENDED),
            Interest.id.not_in(placed),
            Interest.id.not_in(said),
        )
    )


def _unconfirmed_events(ctx: Context, *, said_no: bool = False) -> list[Interest]:
    """The student's employers' events, past and not yet said (``said_no``: nor said "no")."""
    query = _unconfirmed().where(
        Interest.person_id == ctx.person.id, _event_day() <= local_today(ctx)
    )
    if not said_no:
        query = query.where(Interest.not_attended_at.is_(None))
    return list(ctx.session.scalars(query.order_by(Opportunity.start_date, Interest.id)))


def _my_record(ctx: Context) -> Reply:
    evidence, year = _my_evidence(ctx)
    lines = [
        _("Your experiences with employers (useful for a CV or a college application):"),
        "",
    ]
    lines += record_lines(evidence, year, own=True)
    buttons: list[tuple[Button, ...]] = []
    events = _unconfirmed_events(ctx)
    if events:
        lines += ["", _("Did you go? Tell me, and it goes on your record:")]
        for n, interest in enumerate(events[:MAX_LISTED], start=1):
            opp = interest.opportunity
            lines.append(f"{n}. {opp.title} — {opp.organisation.name}")
            buttons.append(
                (
                    Button(
                        _("{number}: I went", number=n), actions.EVIDENCE_WENT.payload(interest.id)
                    ),
                )
            )
    if evidence.items:
        buttons.append((Button(_("Download as a file"), actions.EVIDENCE_DOWNLOAD.payload()),))
    return Reply("\n".join(lines), tuple(buttons))


@registry.action(actions.EVIDENCE_WENT, roles=STUDENTS)
def went_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    _attended(ctx, _own_event(ctx, args[0] if args else None))
    return [_my_record(ctx)]


def _own_event(ctx: Context, raw_id: str | None) -> Interest:
    """The student's past event a button names, if its attendance is still to be said."""
    interest_id = parse_id(raw_id)
    interest = next(
        (i for i in _unconfirmed_events(ctx, said_no=True) if i.id == interest_id), None
    )
    if interest is None or student_school_id(ctx.person) is None:
        raise UserError(_("That's already on your record, or isn't one of your events. /record"))
    return interest


def _attended(ctx: Context, interest: Interest) -> None:
    """The student went: the event goes on their record (a "no" said before was a slip)."""
    school_id = student_school_id(ctx.person)
    assert school_id is not None  # ``_own_event`` checked it
    opp = interest.opportunity
    interest.not_attended_at = None
    ctx.session.add(
        Encounter(
            student_id=ctx.person.id,
            school_id=school_id,
            grade=ctx.person.grade,
            happened_on=opp.start_date or local_today(ctx),
            kind=_ATTENDED_KIND[opp.kind],
            activity=opp.title[:MAX_ACTIVITY],
            organisation_id=opp.organisation_id,
            # Invited by the employer themselves: the student met them, not only listened.
            two_way=True,
            interest_id=interest.id,
            created_at=ctx.now,
        )
    )
    ctx.session.flush()


@registry.action(actions.EVIDENCE_ATTENDED, roles=STUDENTS)
def attendance_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    """Yes or No to the "Did you go?" that ``ask_attendance`` sent."""
    answer = args[1] if len(args) > 1 else ""
    if answer not in ("y", "n"):
        raise UserError(_("That button is from an earlier message. /record shows your events."))
    interest = _own_event(ctx, args[0])
    opp = interest.opportunity
    if answer == "y":
        _attended(ctx, interest)
        return [
            Reply(
                _(
                    "Great: {title} with {employer} is on your record now. /record shows it all.",
                    title=opp.title,
                    employer=opp.organisation.name,
                ),
                replace=True,
            )
        ]
    interest.not_attended_at = ctx.now
    return [
        Reply(
            _(
                "Thanks for telling me. {title} stays off your record; if you did go after all, "
                "/record lets you say so.",
                title=opp.title,
            ),
            replace=True,
        )
    ]


# Long because claim, ask and mark-asked must be one visible transaction per batch.
def ask_attendance(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 200
) -> int:
    """Ask each student invited to an employer's event or site visit, once the day is over in
    their time zone, whether they went; returns how many were asked.

    Each interest is claimed with ``FOR UPDATE SKIP LOCKED`` and marked asked in the
    transaction that queues the question, so several workers ask it once; the question waits
    for the end of the student's quiet hours.
    """
    # Any time zone's today is at most a day after UTC's: an event before UTC's today may be
    # over for the student, which is checked in their own zone below.
    utc_today = now.astimezone(UTC).date()
    asked = 0
    after_id = 0
    while True:
        with transaction(session_factory) as session:
            claimed = session.scalars(
                _unconfirmed()
                .where(
                    Interest.id > after_id,
                    Interest.person_id.is_not(None),
                    Interest.attendance_asked_at.is_(None),
                    Interest.not_attended_at.is_(None),
                    _event_day() <= utc_today,
                    _event_day() >= utc_today - ASK_WITHIN,
                )
                .order_by(Interest.id)
                .limit(batch)
                .with_for_update(skip_locked=True, of=Interest)
            ).all()
            messages = []
            for interest in claimed:
                after_id = interest.id
                student, opp = interest.person, interest.opportunity
                assert student is not None  # the query keeps only interests with a student
                day = opp.end_date or opp.start_date
                assert day is not None  # the query keeps only events with a day
                if day >= now.astimezone(student.zone).date():
                    continue  # still that day (or before) where the student lives
                interest.attendance_asked_at = now
                if student_school_id(student) is None:
                    continue  # no school to hold the evidence: nothing to record
                with speaking_to(student):
                    messages.append(_did_you_go(student, interest, day))
            asked += len(enqueue_many(session, messages, now=now, quiet=timing.quiet))
        if len(claimed) < batch:
            return asked


def _did_you_go(student: Person, interest: Interest, day: date) -> Outgoing:
    opp = interest.opportunity
    return Outgoing(
        student,
        _(
            "Did you go to {title} with {employer} on {day}? If you did, it goes on your record "
            "of experiences with employers (useful for a CV or a college application).",
            title=opp.title,
            employer=opp.organisation.name,
            day=fmt_date(day),
        ),
        "attendance",
        f"attendance:{student.id}:{opp.id}",
        stored_buttons(
            [
                [
                    Button(_("Yes, I went"), actions.EVIDENCE_ATTENDED.payload(interest.id, "y")),
                    Button(_p("button", "No"), actions.EVIDENCE_ATTENDED.payload(interest.id, "n")),
                ]
            ]
        ),
        about=student,
    )


@registry.action(actions.EVIDENCE_DOWNLOAD, roles=STUDENTS)
def download_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    evidence, year = _my_evidence(ctx)
    name = " ".join(filter(None, [ctx.person.name, ctx.person.family_name]))
    school = ctx.person.cohort.school.name if ctx.person.cohort is not None else ""
    lines = [_("Experiences with employers: {name}", name=name), school, ""]
    lines += [line.removeprefix("• ") for line in record_lines(evidence, year, own=True)]
    return [
        Reply(
            _("Here's your record as a file."),
            file=Attachment("my-experiences.txt", ("\n".join(lines) + "\n").encode(), "text/plain"),
        )
    ]


def mydata_lines(ctx: Context) -> list[str]:
    """What a teacher recorded about the student, or they confirmed, for /mydata."""
    rows = ctx.session.scalars(
        select(Encounter)
        .where(Encounter.student_id == ctx.person.id)
        .order_by(Encounter.happened_on, Encounter.id)
    ).all()
    if not rows:
        return []
    lines = ["", _("Encounters with employers recorded (/record shows them all):")]
    for row in rows:
        employer = row.organisation.name if row.organisation else row.organisation_name
        day = fmt_date(row.happened_on)
        lines.append(
            _(
                "• {day}: {activity} with {employer}",
                day=day,
                activity=row.activity,
                employer=employer,
            )
            if employer
            else f"• {day}: {row.activity}"
        )
    return lines
