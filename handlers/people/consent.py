"""A guardian's consent for a student under 18: recorded, confirmed, withdrawn.

Until consent is on file, employers hear only that a student is interested. A teacher records
consent the school holds ("Consent on file"), or the guardian confirms it through the bot with a
one-time code the student passes on. Either way every change is audited, and applications the
employer has not seen yet are sent with the student's details as soon as consent arrives.

A code works once, for 14 days, and only from an account that is nobody's student, teacher or
employer (a guardian of a sibling is fine), so a classmate, the student's second account or an
employer holding it can't consent. The guardian says who they are before confirming, and the
student's teachers see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Literal, NotRequired, TypedDict, cast

from sqlalchemy import CursorResult, func, select, update

from bot.core import DIALOG, EVERYONE, STAFF, STUDENTS, Button, Context, Registry, Reply, UserError
from bot.i18n import LANGUAGES, N_, _, _n, _p, current, language, speaking_to
from handlers import actions
from handlers.applications import share_pending
from handlers.common import (
    fmt_date,
    parse_id,
    school_staff,
    staff_label,
    staff_labels,
    staff_school,
    student_school_id,
)
from handlers.people.general import chosen_language, language_buttons
from handlers.people.invites import new_code
from handlers.people.onboarding import normalise_code
from storage.models import (
    AuditEntry,
    Cohort,
    GuardianCode,
    Interest,
    InterestStatus,
    Person,
    Role,
    School,
)

registry = Registry()

CODE_LIFETIME = timedelta(days=14)
MAX_LISTED = 10
_GUARDIAN_CODE = re.compile(r"G-[A-Z0-9]{4}-[A-Z0-9]{4}")
GUARDIAN_DIALOG = "guardian_consent"
MAX_GUARDIAN_NAME = 100
MAX_RELATIONSHIP = 40
RELATIONSHIPS = {
    "mother": N_("Mother"),
    "father": N_("Father"),
    "parent": N_("Parent"),
    "carer": N_("Carer"),
    "guardian": N_("Guardian"),
}
_WORDS = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '.-])*", re.UNICODE)
# The same refusals whatever the student: they say nothing about who the code is for.
NOT_A_GUARDIAN_ACCOUNT = N_(
    "A guardian's code works only from the parent's or guardian's own account, not from a "
    "student's, teacher's or employer's. Please pass it on to them."
)
NO_LONGER_WORKS = N_(
    "That code no longer works: each code works once, for {days} days. "
    "The student can get a new one with /guardian."
)
LANGUAGE_QUESTION = N_("Which language would you like me to use?")


def no_longer_works() -> str:
    return _(NO_LONGER_WORKS, days=CODE_LIFETIME.days)


def _audit(ctx: Context, student: Person, action: str, via: str) -> None:
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=student.id,
            action=action,
            detail={"via": via},
        )
    )


def _tell_teachers(ctx: Context, student: Person, text: Callable[[], str], key: str) -> None:
    """Queue ``text()`` for each of the student's teachers, worded in the teacher's language."""
    for teacher in school_staff(ctx.session, student_school_id(student)):
        if teacher.id != ctx.person.id:
            with speaking_to(teacher):
                ctx.notify(
                    teacher, text(), kind="consent", key=f"{key}:{teacher.id}", about=student
                )


def record_consent(ctx: Context, student: Person, *, via: str) -> int:
    """Put consent on file and share what employers were waiting for; returns how many."""
    student.guardian_consent_at = ctx.now
    _audit(ctx, student, "consent_given", via)
    return share_pending(ctx, student)


def _shared_note(shared: int) -> str:
    if shared == 0:
        return ""
    return " " + _n(
        "I've sent the student's details to the employer for {n} waiting application.",
        "I've sent the student's details to the employer for {n} waiting applications.",
        shared,
    )


# --- The student -----------------------------------------------------------------------------


@registry.command("guardian", roles=STUDENTS, help=N_("a code for your guardian's consent"))
def guardian(ctx: Context, args: str) -> list[Reply]:
    student = ctx.person
    if not student.under_18:
        return [Reply(_("You're 18 or over, so you don't need a guardian's consent."))]
    if student.guardian_consent_at is not None:
        return [
            Reply(
                _(
                    "Your guardian's consent is on file (since {date}), so employers see your "
                    "first name, class, fields and notes when you register interest.",
                    date=fmt_date(student.guardian_consent_at.date()),
                ),
                ((Button(_("Withdraw consent"), actions.CONSENT_WITHDRAW.payload(student.id)),),),
            )
        ]
    # Only the newest code works, so a code handed to the wrong person can be replaced.
    ctx.session.execute(
        update(GuardianCode)
        .where(GuardianCode.student_id == student.id, GuardianCode.used_at.is_(None))
        .values(expires_at=ctx.now)
    )
    code = GuardianCode(
        code=new_code("G"),
        student_id=student.id,
        expires_at=ctx.now + CODE_LIFETIME,
        created_at=ctx.now,
    )
    ctx.session.add(code)
    return [
        Reply(
            _(
                "Ask your parent or guardian to send me this from their own account:\n\n"
                "{command}\n\n"
                "It works once, for {days} days. Until then employers only hear that a student "
                "is interested, and your school follows up.",
                command="/consent " + code.code,
                days=CODE_LIFETIME.days,
            )
        )
    ]


# --- /consent: the guardian's code, or a teacher's list ---------------------------------------


@registry.command(
    "consent",
    roles=EVERYONE,
    help=N_("confirm a guardian's consent: /consent CODE (teachers: NAME)"),
)
def consent(ctx: Context, args: str) -> list[Reply]:
    code = normalise_code(args)
    if _GUARDIAN_CODE.fullmatch(code):
        row = _usable_code(ctx, code)
        # Before anything else the guardian chooses the language the request is made in.
        ctx.start_dialog(GUARDIAN_DIALOG, GuardianDialog(code=row.code, step="language"))
        return [_language_question()]
    if ctx.role in STAFF:
        return [_consent_list(ctx, args.strip())]
    if args:
        raise UserError(
            _(
                "That doesn't look like a consent code. They look like G-ABCD-EFGH: "
                "check it and try again."
            )
        )
    if ctx.role == Role.STUDENT:
        return [Reply(_("Your guardian gives consent with a code: send /guardian to get one."))]
    return [
        Reply(_("Send /consent followed by the code the student gave you: /consent G-ABCD-EFGH"))
    ]


def _language_question() -> Reply:
    """The question in the language we guessed first, then in each of the others."""
    first = current()
    lines = [_(LANGUAGE_QUESTION)]
    for code in LANGUAGES:
        # The pseudo-language is English underneath: no English line beside it.
        if code != first and not (code == "en" and first not in LANGUAGES):
            with language(code):
                lines.append(_(LANGUAGE_QUESTION))
    return Reply("\n".join(lines), language_buttons(actions.GUARDIAN, "lang"))


def _name_question() -> Reply:
    return Reply(
        _(
            "Thank you. Before you confirm: what's your full name? The student's teachers "
            "will see it with your confirmation."
        )
    )


def _usable_code(ctx: Context, code: str) -> GuardianCode:
    """The code, if this account may use it now; every refusal is the same for any student."""
    # Checked first, so that a student, teacher or employer learns nothing about the code.
    if ctx.role is not None:
        raise UserError(_(NOT_A_GUARDIAN_ACCOUNT))
    row = ctx.session.scalar(select(GuardianCode).where(GuardianCode.code == code))
    if row is None:
        raise UserError(_("That code doesn't match anything. Check it and try again."))
    if (
        row.used_at is not None
        or row.expires_at <= ctx.now
        or row.student.guardian_consent_at is not None
    ):
        raise UserError(no_longer_works())
    return row


def _words(text: str, limit: int, refusal: str) -> str:
    clean = " ".join(text.split())
    if not 0 < len(clean) <= limit or not _WORDS.fullmatch(clean):
        raise UserError(_("{refusal} (up to {limit} letters).", refusal=refusal, limit=limit))
    return clean


def _relationship_question(name: str, student: Person) -> Reply:
    buttons = [
        Button(_(label), actions.GUARDIAN.payload("rel", word))
        for word, label in RELATIONSHIPS.items()
    ]
    return Reply(
        _(
            "Thank you, {name}. How are you related to {student}? Tap one, or type it "
            "(like grandmother).",
            name=name,
            student=student.first_name or _("the student"),
        ),
        (tuple(buttons[:3]), tuple(buttons[3:])),
    )


def _confirm_question(ctx: Context, code: GuardianCode, name: str, relationship: str) -> Reply:
    student = code.student
    first = student.first_name or _("the student")
    school = student.cohort.school.name if student.cohort is not None else _("their school")
    return Reply(
        _(
            "Please confirm: as {student}'s {relationship}, you, {name}, agree that {school} "
            "may share {student}'s first name, class, chosen fields and notes with the "
            "employers {student} registers interest in. Nothing else is shared, and consent "
            "can be withdrawn at any time through the school. {school}'s teachers will see "
            "your name, that you are {student}'s {relationship}, and when you confirmed.",
            student=first,
            relationship=relationship_label(relationship),
            name=name,
            school=school,
        ),
        (
            (
                Button(_("I confirm"), actions.GUARDIAN.payload("yes")),
                Button(_("Cancel"), actions.GUARDIAN.payload("no")),
            ),
        ),
    )


def relationship_label(word: str) -> str:
    """A relationship in the guardian's language: a button's in lower case, a typed one as is."""
    label = RELATIONSHIPS.get(word)
    return _(label).lower() if label is not None else word


class GuardianDialog(TypedDict):
    """A guardian's consent under way: the code, the step reached, and what they have told so
    far (their name from the "relationship" step on, the relationship at "confirm")."""

    name: NotRequired[str]
    code: str
    step: Literal["language", "name", "relationship", "confirm"]
    guardian: NotRequired[str]
    relationship: NotRequired[str]


def _guardian_dialog(ctx: Context) -> GuardianDialog:
    dialog = ctx.typed_state(DIALOG, GuardianDialog)
    if dialog is None or dialog.get("name") != GUARDIAN_DIALOG:
        raise UserError(
            _("That button is from an earlier conversation. Send /consent with the code again.")
        )
    return dialog


@registry.dialog(GUARDIAN_DIALOG, action=actions.GUARDIAN)
def guardian_typed(ctx: Context, text: str, dialog: GuardianDialog) -> list[Reply]:
    code = _usable_code(ctx, dialog.get("code", ""))
    if dialog.get("step") == "language":
        chosen = chosen_language(text)
        if chosen is None:
            return [_language_question()]
        return [_language_chosen(ctx, code, chosen)]
    if dialog.get("step") == "name":
        name = _words(text, MAX_GUARDIAN_NAME, _("Please type just your name, like Jane Patel"))
        ctx.start_dialog(
            GUARDIAN_DIALOG, GuardianDialog(code=code.code, guardian=name, step="relationship")
        )
        return [_relationship_question(name, code.student)]
    if dialog.get("step") == "relationship":
        relationship = _words(
            text, MAX_RELATIONSHIP, _("Please type just how you're related, like grandmother")
        ).lower()
        return [_confirm_step(ctx, code, dialog["guardian"], relationship)]
    return [_confirm_question(ctx, code, dialog["guardian"], dialog["relationship"])]


def _language_chosen(ctx: Context, code: GuardianCode, chosen: str) -> Reply:
    ctx.person.language = chosen
    ctx.start_dialog(GUARDIAN_DIALOG, GuardianDialog(code=code.code, step="name"))
    with language(chosen):
        return _name_question()


def _confirm_step(ctx: Context, code: GuardianCode, name: str, relationship: str) -> Reply:
    ctx.start_dialog(
        GUARDIAN_DIALOG,
        GuardianDialog(code=code.code, guardian=name, relationship=relationship, step="confirm"),
    )
    return _confirm_question(ctx, code, name, relationship)


@registry.action(actions.GUARDIAN, roles=EVERYONE)
def guardian_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if args == ["no"]:
        ctx.clear_state(DIALOG)
        return [Reply(_("OK, nothing was recorded."), replace=True)]
    dialog = _guardian_dialog(ctx)
    code = _usable_code(ctx, dialog.get("code", ""))
    match args, dialog.get("step"):
        case ["lang", chosen], "language" if chosen in LANGUAGES:
            return [_language_chosen(ctx, code, chosen)]
        case ["rel", word], "relationship" if word in RELATIONSHIPS:
            return [_confirm_step(ctx, code, dialog["guardian"], word)]
        case ["yes"], "confirm":
            return _confirmed(ctx, code, dialog["guardian"], dialog["relationship"])
    raise UserError(_("That button is from an earlier question. Please answer the one above."))


def _confirmed(ctx: Context, code: GuardianCode, name: str, relationship: str) -> list[Reply]:
    # Claimed in one statement, so two people pressing at once can't both use the code.
    claimed = cast(
        CursorResult[Any],
        ctx.session.execute(
            update(GuardianCode)
            .where(GuardianCode.id == code.id, GuardianCode.used_at.is_(None))
            .values(
                used_at=ctx.now,
                used_by_id=ctx.person.id,
                guardian_name=name,
                guardian_relationship=relationship,
            )
        ),
    )
    if claimed.rowcount != 1:
        raise UserError(no_longer_works())
    ctx.clear_state(DIALOG)
    student = code.student
    record_consent(ctx, student, via="guardian")
    with speaking_to(student):
        ctx.notify(
            student,
            _(
                "{name} ({relationship}) confirmed your guardian's consent. From now on, "
                "employers see your first name, class, fields and notes when you register "
                "interest. If that isn't your parent or guardian, tell your teacher, or "
                "withdraw it with /guardian.",
                name=name,
                relationship=relationship_label(relationship),
            ),
            kind="consent",
            key=f"consent:{code.id}:student",
        )
    _tell_teachers(
        ctx,
        student,
        lambda: _(
            "{student}: {name} ({relationship}) confirmed a guardian's consent through the bot "
            "with the student's code. Please check it matches your records.",
            student=staff_label(ctx.session, student),
            name=name,
            relationship=relationship_label(relationship),
        ),
        key=f"consent:{code.id}",
    )
    return [
        Reply(
            _(
                "Thank you, {name}! Consent is recorded, and {student}'s school is told.",
                name=name,
                student=student.first_name,
            ),
            replace=True,
        )
    ]


def confirmations(ctx: Context, students: Iterable[Person]) -> dict[int, GuardianCode]:
    """The used code behind each student's consent on file, where a guardian confirmed it."""
    since = {s.id: s.guardian_consent_at for s in students if s.guardian_consent_at is not None}
    found: dict[int, GuardianCode] = {}
    if since:
        for code in ctx.session.scalars(
            select(GuardianCode)
            .where(GuardianCode.student_id.in_(since), GuardianCode.used_at.is_not(None))
            .order_by(GuardianCode.used_at, GuardianCode.id)
        ):
            # A code used before consent was withdrawn and recorded again is not the reason.
            assert code.used_at is not None
            if code.used_at >= since[code.student_id]:
                found[code.student_id] = code
    return found


def consent_state(student: Person, confirmation: GuardianCode | None) -> str:
    """Where a student's consent stands, for staff: who confirmed it, and when."""
    if not student.under_18:
        return _("18 or over, no consent needed")
    if student.guardian_consent_at is None:
        return _("no consent yet")
    since = fmt_date(student.guardian_consent_at.date())
    if confirmation is None:
        return _("consent on file since {date}, recorded by the school", date=since)
    if confirmation.guardian_name is None:
        # Used before names were asked, or the guardian has since deleted their details.
        return _(
            "consent on file since {date}, confirmed by a guardian through the bot "
            "(no name on record)",
            date=since,
        )
    return _(
        "consent on file since {date}, confirmed by {name} ({relationship})",
        date=since,
        name=confirmation.guardian_name,
        relationship=confirmation.guardian_relationship,
    )


def _school_students(ctx: Context, name: str) -> list[Person]:
    school = staff_school(ctx)
    query = (
        select(Person)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Cohort.school_id == school.id, Person.role == Role.STUDENT)
        .order_by(Person.name, func.coalesce(Person.family_name, ""), Person.id)
        .limit(MAX_LISTED + 1)
    )
    if name:
        # "uma", "shah" or "uma shah" all find Uma Shah.
        full = Person.name + " " + func.coalesce(Person.family_name, "")
        query = query.where(full.icontains(" ".join(name.split()), autoescape=True))
    else:
        query = query.where(Person.under_18.is_(True), Person.guardian_consent_at.is_(None))
    return list(ctx.session.scalars(query))


def _consent_list(ctx: Context, name: str) -> Reply:
    students = _school_students(ctx, name)
    if not students:
        if name:
            return Reply(
                _("No student at your school is called anything like “{name}”.", name=name)
            )
        return Reply(_("Every student under 18 at your school has consent on file."))
    title = (
        _("Students like “{name}”:", name=name)
        if name
        else _("Students under 18 without a guardian's consent on file:")
    )
    listed = students[:MAX_LISTED]
    labels = staff_labels(ctx.session, listed)
    confirmed = confirmations(ctx, listed)
    lines, buttons = [title], []
    for n, student in enumerate(listed, start=1):
        if student.under_18 and student.guardian_consent_at is not None:
            label = _("{n}: Withdraw consent", n=n)
            buttons.append((Button(label, actions.CONSENT_WITHDRAW.payload(student.id)),))
        elif student.under_18:
            label = _("{n}: Consent on file", n=n)
            buttons.append((Button(label, actions.CONSENT_ON_FILE.payload(student.id)),))
        state = consent_state(student, confirmed.get(student.id))
        lines.append(_("{n}. {student}: {state}", n=n, student=labels[student.id], state=state))
    if len(students) > MAX_LISTED:
        lines.append(_("More than {max}: add more of the name to narrow it down.", max=MAX_LISTED))
    return Reply("\n".join(lines), tuple(buttons))


def _school_student(ctx: Context, raw_id: str | None) -> Person:
    """A student of the teacher's school, named by a button."""
    student = ctx.session.get(Person, parse_id(raw_id))
    school = staff_school(ctx)
    if student is None or student.role != Role.STUDENT or student_school_id(student) != school.id:
        raise UserError(_("I can't find that student at your school."))
    return student


@registry.action(actions.CONSENT_ON_FILE, roles=STAFF)
def consent_on_file(ctx: Context, args: list[str]) -> list[Reply]:
    student = _school_student(ctx, args[0] if args else None)
    label = staff_label(ctx.session, student)
    if not student.under_18:
        raise UserError(
            _("{student} is 18 or over, so no guardian's consent is needed.", student=label)
        )
    if student.guardian_consent_at is not None:
        state = consent_state(student, confirmations(ctx, [student]).get(student.id))
        raise UserError(_("{student}: {state}.", student=label, state=state))
    shared = record_consent(ctx, student, via="teacher")
    with speaking_to(student):
        ctx.notify(
            student,
            _(
                "Your school has your guardian's consent on file. From now on, employers see "
                "your first name, class, fields and notes when you register interest."
            ),
            kind="consent",
            key=f"consent:{student.id}:{ctx.now.isoformat()}",
        )
    done = _("Consent on file for {student}.", student=label)
    return [Reply(done + _shared_note(shared))]


# --- Withdrawing consent ---------------------------------------------------------------------


def _withdrawable(ctx: Context, raw_id: str | None) -> Person:
    if ctx.role == Role.STUDENT:
        if parse_id(raw_id) != ctx.person.id:
            raise UserError(_("You can only withdraw consent for yourself."))
        student = ctx.person
    else:
        student = _school_student(ctx, raw_id)
    if student.guardian_consent_at is None:
        raise UserError(_("There's no guardian's consent on file to withdraw."))
    return student


@registry.action(actions.CONSENT_WITHDRAW, roles=STUDENTS | STAFF)
def withdraw_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    student = _withdrawable(ctx, args[0] if args else None)
    question = (
        _(
            "Withdraw your guardian's consent? Employers will hear nothing identifying about "
            "new applications until consent is given again."
        )
        if student.id == ctx.person.id
        else _(
            "Withdraw {student}'s guardian's consent? Employers will hear nothing identifying "
            "about new applications until consent is given again.",
            student=staff_label(ctx.session, student),
        )
    )
    return [
        Reply(
            question,
            (
                (
                    Button(
                        _("Yes, withdraw consent"),
                        actions.CONSENT_WITHDRAW_YES.payload(student.id),
                    ),
                    Button(_p("consent", "Keep it"), actions.CONSENT_WITHDRAW_KEEP.payload()),
                ),
            ),
        )
    ]


@registry.action(actions.CONSENT_WITHDRAW_KEEP, roles=STUDENTS | STAFF)
def withdraw_kept(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply(_("Good, consent stays on file."), replace=True)]


@registry.action(actions.CONSENT_WITHDRAW_YES, roles=STUDENTS | STAFF)
def withdraw_confirmed(ctx: Context, args: list[str]) -> list[Reply]:
    student = _withdrawable(ctx, args[0] if args else None)
    student.guardian_consent_at = None
    by_student = student.id == ctx.person.id
    _audit(ctx, student, "consent_withdrawn", "student" if by_student else "teacher")
    key = f"consent-withdrawn:{student.id}:{ctx.now.isoformat()}"
    if by_student:
        _tell_teachers(
            ctx,
            student,
            lambda: _(
                "{student} withdrew their guardian's consent. Employers will hear nothing "
                "identifying about new applications.",
                student=staff_label(ctx.session, student),
            ),
            key=key,
        )
        done = _(
            "Consent withdrawn. Employers will hear nothing identifying about new applications."
        )
    else:
        with speaking_to(student):
            ctx.notify(
                student,
                _(
                    "Your school withdrew your guardian's consent. Employers will hear nothing "
                    "identifying about your new applications. Ask your teacher if you have "
                    "questions."
                ),
                kind="consent",
                key=key,
            )
        done = _("Consent withdrawn for {student}.", student=staff_label(ctx.session, student))
    return [Reply(done, replace=True)]


def consent_waiting(ctx: Context, school: School) -> list[Person]:
    """The school's students whose applications wait for a guardian's consent, in name order."""
    waiting = select(Interest.person_id).where(
        Interest.school_id == school.id,
        Interest.status == InterestStatus.INTERESTED,
        Interest.details_shared_at.is_(None),
    )
    return list(
        ctx.session.scalars(
            select(Person)
            .where(
                Person.id.in_(waiting),
                Person.under_18.is_(True),
                Person.guardian_consent_at.is_(None),
            )
            .order_by(Person.name, Person.id)
        )
    )
