"""Who belongs to which school or employer, and what may be shared about a student.

Shared by the employer, consent, teacher and announcement handlers, so that each asks the same
question the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import Context, UserError
from bot.i18n import _
from storage.models import Cohort, Opportunity, Person, Role, School

STAFF_ROLES = (Role.TEACHER, Role.ADMIN)


def may_share(student: Person) -> bool:
    """Whether the school may pass this student's details to an employer.

    A minor's details need a guardian's consent on file; an adult (or someone who did not say)
    decides for themselves by registering interest.
    """
    return not student.under_18 or student.guardian_consent_at is not None


def student_label(student: Person | None) -> str:
    """How an employer sees a student: by first name only, and only while sharing is allowed."""
    if student is None or not may_share(student) or not student.first_name:
        return _("The student")
    return student.first_name


def _full_name(name: str, family: str | None) -> str:
    if not family:
        return name
    # An initial reads as one: "Uma S."
    return f"{name} {family}." if len(family) == 1 else f"{name} {family}"


def full_name(person: Person) -> str:
    """A student's first and family name, as their school knows them (never for employers)."""
    return _full_name(person.name, person.family_name)


def staff_labels(session: Session, students: Iterable[Person]) -> dict[int, str]:
    """How staff see each student, by id: full name and class, and the student number too
    when a classmate has the same name, so that no two students read alike."""
    students = list(students)
    cohorts = {s.cohort_id for s in students} - {None}
    namesakes: Counter[tuple[int | None, str]] = Counter()
    if cohorts:
        for cohort_id, name, family in session.execute(
            select(Person.cohort_id, Person.name, Person.family_name).where(
                Person.cohort_id.in_(cohorts), Person.role == Role.STUDENT
            )
        ):
            namesakes[(cohort_id, _full_name(name, family).casefold())] += 1
    labels = {}
    for student in students:
        name = full_name(student) or _("A student")
        cohort = cohort_label(student)
        labels[student.id] = (
            _("{name} ({cohort}, student #{number})", name=name, cohort=cohort, number=student.id)
            if namesakes[(student.cohort_id, name.casefold())] > 1
            else _("{name} ({cohort})", name=name, cohort=cohort)
        )
    return labels


def staff_label(session: Session, student: Person) -> str:
    """One student as staff see them: see ``staff_labels``."""
    return staff_labels(session, [student])[student.id]


def only_school(session: Session) -> School | None:
    """The school, when the database holds exactly one (a single-school installation)."""
    if session.scalar(select(func.count()).select_from(School)) != 1:
        return None
    return session.scalars(select(School)).one()


def school_named(session: Session, name: str, now: datetime) -> School:
    """The school called ``name``, created if there is none yet."""
    clean = " ".join(name.split())
    found = session.scalar(select(School).where(School.name == clean))
    if found is None:
        found = School(name=clean, created_at=now)
        session.add(found)
        session.flush()
    return found


def student_school_id(student: Person) -> int | None:
    return student.cohort.school_id if student.cohort is not None else None


def known_school(ctx: Context) -> School | None:
    """The school of the teacher talking, if there is one.

    A teacher who joined before their school existed (or with a code made without one) is
    linked to it here when the installation has only one school.
    """
    person = ctx.person
    if person.school is None:
        person.school = only_school(ctx.session)
    return person.school


def staff_school(ctx: Context) -> School:
    """The school of the teacher talking, or a polite refusal when there is none."""
    school = known_school(ctx)
    if school is None:
        raise UserError(
            _(
                "You're not linked to a school yet. Ask for a teacher invite code made with "
                "oppbot invite --role teacher --school NAME, and /join with it."
            )
        )
    return school


def school_staff(session: Session, school_id: int | None) -> list[Person]:
    """The teachers and coordinators of a school (none for a student without a class)."""
    if school_id is None:
        return []
    return list(
        session.scalars(
            select(Person)
            .where(Person.role.in_(STAFF_ROLES), Person.school_id == school_id)
            .order_by(Person.id)
        )
    )


def members_of(session: Session, organisation_id: int) -> list[Person]:
    """The members of an employer (the people its match notifications and hours go to)."""
    return list(
        session.scalars(
            select(Person)
            .where(Person.organisation_id == organisation_id, Person.role == Role.EMPLOYER)
            .order_by(Person.id)
        )
    )


def all_staff(session: Session) -> list[Person]:
    """Every teacher and coordinator (of every school)."""
    return list(
        session.scalars(select(Person).where(Person.role.in_(STAFF_ROLES)).order_by(Person.id))
    )


def owns(session: Session, school: School, opportunity: Opportunity) -> bool:
    """Whether ``school``'s staff may change ``opportunity``: it published or approved it.

    A listing without an owner (imported before any school existed) becomes the school's
    when it is the only one, as every other record of a one-school installation is.
    """
    if opportunity.owner_school_id is None and only_school(session) is school:
        opportunity.owner_school_id = school.id
    return opportunity.owner_school_id == school.id


def school_cohorts(session: Session, school: School) -> list[Cohort]:
    return list(
        session.scalars(
            select(Cohort).where(Cohort.school_id == school.id).order_by(Cohort.name, Cohort.id)
        )
    )


def cohort_label(student: Person) -> str:
    return student.cohort.name if student.cohort is not None else _("no class")
