"""A guardian's consent for a student under 18: recorded, confirmed, withdrawn.

Until consent is on file, employers hear only that a student is interested. A teacher records
consent the school holds ("Consent on file"), or the guardian confirms it through the bot with a
one-time code the student passes on. Either way every change is audited, and applications the
employer has not seen yet are sent with the student's details as soon as consent arrives.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from bot.core import EVERYONE, STAFF, STUDENTS, Button, Context, Registry, Reply, UserError
from handlers.invites import new_code
from handlers.matches import share_pending
from handlers.onboarding import normalise_code
from handlers.present import fmt_date, parse_id
from handlers.schools import (
    cohort_label,
    escape_like,
    school_staff,
    staff_school,
    student_school_id,
)
from storage.models import AuditEntry, Cohort, GuardianCode, Person, Role

registry = Registry()

CODE_LIFETIME = timedelta(days=14)
MAX_LISTED = 10
_GUARDIAN_CODE = re.compile(r"G-[A-Z0-9]{4}-[A-Z0-9]{4}")


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


def _tell_teachers(ctx: Context, student: Person, text: str, key: str) -> None:
    for teacher in school_staff(ctx.session, student_school_id(student)):
        if teacher.id != ctx.person.id:
            ctx.notify(teacher, text, kind="consent", key=f"{key}:{teacher.id}", about=student)


def record_consent(ctx: Context, student: Person, *, via: str) -> int:
    """Put consent on file and share what employers were waiting for; returns how many."""
    student.guardian_consent_at = ctx.now
    _audit(ctx, student, "consent_given", via)
    return share_pending(ctx, student)


def _shared_note(shared: int) -> str:
    if shared == 0:
        return ""
    plural = "application" if shared == 1 else "applications"
    return f" I've sent the student's details to the employer for {shared} waiting {plural}."


# --- The student -----------------------------------------------------------------------------


@registry.command("guardian", roles=STUDENTS, help="a code for your guardian's consent")
def guardian(ctx: Context, args: str) -> list[Reply]:
    student = ctx.person
    if not student.under_18:
        return [Reply("You're 18 or over, so you don't need a guardian's consent.")]
    if student.guardian_consent_at is not None:
        return [
            Reply(
                f"Your guardian's consent is on file (since "
                f"{fmt_date(student.guardian_consent_at.date())}), so employers see your first "
                "name, class, fields and notes when you register interest.",
                ((Button("Withdraw consent", f"cw:{student.id}"),),),
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
            "Ask your parent or guardian to send me this from their own account:\n\n"
            f"/consent {code.code}\n\n"
            f"It works once, for {CODE_LIFETIME.days} days. Until then employers only hear "
            "that a student is interested, and your school follows up."
        )
    ]


# --- /consent: the guardian's code, or a teacher's list ---------------------------------------


@registry.command(
    "consent", roles=EVERYONE, help="confirm a guardian's consent: /consent CODE (teachers: NAME)"
)
def consent(ctx: Context, args: str) -> list[Reply]:
    code = normalise_code(args)
    if _GUARDIAN_CODE.fullmatch(code):
        return [_guardian_question(ctx, _usable_code(ctx, code))]
    if ctx.role in STAFF:
        return [_consent_list(ctx, args.strip())]
    if args:
        raise UserError(
            "That doesn't look like a consent code. They look like G-ABCD-EFGH: "
            "check it and try again."
        )
    if ctx.role == Role.STUDENT:
        return [Reply("Your guardian gives consent with a code: send /guardian to get one.")]
    return [Reply("Send /consent followed by the code the student gave you: /consent G-ABCD-EFGH")]


def _usable_code(ctx: Context, code: str) -> GuardianCode:
    row = ctx.session.scalar(select(GuardianCode).where(GuardianCode.code == code))
    if row is None:
        raise UserError("That code doesn't match anything. Check it and try again.")
    if row.student_id == ctx.person.id:
        raise UserError("This code is for your parent or guardian: please pass it on to them.")
    if row.used_at is not None or row.student.guardian_consent_at is not None:
        raise UserError("Thank you, but consent for this student is already on file.")
    if row.expires_at <= ctx.now:
        raise UserError("That code has expired. The student can get a new one with /guardian.")
    return row


def _guardian_question(ctx: Context, code: GuardianCode) -> Reply:
    student = code.student
    name = student.first_name or "the student"
    school = student.cohort.school.name if student.cohort is not None else "their school"
    return Reply(
        f"Please confirm: as {name}'s parent or guardian, you agree that {school} may share "
        f"{name}'s first name, class, chosen fields and notes with the employers {name} "
        "registers interest in. Nothing else is shared, and consent can be withdrawn at any "
        "time through the school.",
        ((Button("I confirm", f"gcy:{code.code}"), Button("Cancel", "gcn")),),
    )


@registry.action("gcy", roles=EVERYONE)
def guardian_confirmed(ctx: Context, args: list[str]) -> list[Reply]:
    code = _usable_code(ctx, normalise_code(args[0] if args else ""))
    student = code.student
    code.used_at = ctx.now
    record_consent(ctx, student, via="guardian")
    ctx.notify(
        student,
        "Your guardian confirmed their consent. From now on, employers see your first name, "
        "class, fields and notes when you register interest.",
        kind="consent",
        key=f"consent:{code.id}:student",
    )
    _tell_teachers(
        ctx,
        student,
        f"{student.name} ({cohort_label(student)}): a guardian confirmed consent through the "
        "bot with the student's code. Please check it matches your records.",
        key=f"consent:{code.id}",
    )
    return [Reply(f"Thank you! Consent is recorded, and {student.first_name}'s school is told.")]


@registry.action("gcn", roles=EVERYONE)
def guardian_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply("OK, nothing was recorded.", replace=True)]


def _school_students(ctx: Context, name: str) -> list[Person]:
    school = staff_school(ctx)
    query = (
        select(Person)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Cohort.school_id == school.id, Person.role == Role.STUDENT)
        .order_by(Person.name, Person.id)
        .limit(MAX_LISTED + 1)
    )
    if name:
        query = query.where(Person.name.ilike(f"%{escape_like(name)}%", escape="\\"))
    else:
        query = query.where(Person.under_18.is_(True), Person.guardian_consent_at.is_(None))
    return list(ctx.session.scalars(query))


def _consent_list(ctx: Context, name: str) -> Reply:
    students = _school_students(ctx, name)
    if not students:
        if name:
            return Reply(f"No student at your school is called anything like {name!r}.")
        return Reply("Every student under 18 at your school has consent on file.")
    title = (
        f"Students like {name!r}:"
        if name
        else "Students under 18 without a guardian's consent on file:"
    )
    lines, buttons = [title], []
    for n, student in enumerate(students[:MAX_LISTED], start=1):
        if not student.under_18:
            state = "18 or over, no consent needed"
        elif student.guardian_consent_at is not None:
            state = f"consent on file since {fmt_date(student.guardian_consent_at.date())}"
            buttons.append((Button(f"{n}: Withdraw consent", f"cw:{student.id}"),))
        else:
            state = "no consent yet"
            buttons.append((Button(f"{n}: Consent on file", f"cf:{student.id}"),))
        lines.append(f"{n}. {student.name} ({cohort_label(student)}): {state}")
    if len(students) > MAX_LISTED:
        lines.append(f"More than {MAX_LISTED}: add more of the name to narrow it down.")
    return Reply("\n".join(lines), tuple(buttons))


def _school_student(ctx: Context, raw_id: str | None) -> Person:
    """A student of the teacher's school, named by a button."""
    student = ctx.session.get(Person, parse_id(raw_id))
    school = staff_school(ctx)
    if student is None or student.role != Role.STUDENT or student_school_id(student) != school.id:
        raise UserError("I can't find that student at your school.")
    return student


@registry.action("cf", roles=STAFF)
def consent_on_file(ctx: Context, args: list[str]) -> list[Reply]:
    student = _school_student(ctx, args[0] if args else None)
    if not student.under_18:
        raise UserError(f"{student.name} is 18 or over, so no guardian's consent is needed.")
    if student.guardian_consent_at is not None:
        raise UserError(f"Consent for {student.name} is already on file.")
    shared = record_consent(ctx, student, via="teacher")
    ctx.notify(
        student,
        "Your school has your guardian's consent on file. From now on, employers see your "
        "first name, class, fields and notes when you register interest.",
        kind="consent",
        key=f"consent:{student.id}:{ctx.now.isoformat()}",
    )
    return [Reply(f"Consent on file for {student.name}.{_shared_note(shared)}")]


# --- Withdrawing consent ---------------------------------------------------------------------


def _withdrawable(ctx: Context, raw_id: str | None) -> Person:
    if ctx.role == Role.STUDENT:
        if parse_id(raw_id) != ctx.person.id:
            raise UserError("You can only withdraw consent for yourself.")
        student = ctx.person
    else:
        student = _school_student(ctx, raw_id)
    if student.guardian_consent_at is None:
        raise UserError("There's no guardian's consent on file to withdraw.")
    return student


@registry.action("cw", roles=STUDENTS | STAFF)
def withdraw_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    student = _withdrawable(ctx, args[0] if args else None)
    whose = "your" if student.id == ctx.person.id else f"{student.name}'s"
    return [
        Reply(
            f"Withdraw {whose} guardian's consent? Employers will hear nothing identifying "
            "about new applications until consent is given again.",
            (
                (
                    Button("Yes, withdraw consent", f"cwy:{student.id}"),
                    Button("Keep it", "cwn"),
                ),
            ),
        )
    ]


@registry.action("cwn", roles=STUDENTS | STAFF)
def withdraw_kept(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply("Good, consent stays on file.", replace=True)]


@registry.action("cwy", roles=STUDENTS | STAFF)
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
            f"{student.name} ({cohort_label(student)}) withdrew their guardian's consent. "
            "Employers will hear nothing identifying about new applications.",
            key=key,
        )
        done = "Consent withdrawn. Employers will hear nothing identifying about new applications."
    else:
        ctx.notify(
            student,
            "Your school withdrew your guardian's consent. Employers will hear nothing "
            "identifying about your new applications. Ask your teacher if you have questions.",
            kind="consent",
            key=key,
        )
        done = f"Consent withdrawn for {student.name}."
    return [Reply(done, replace=True)]
