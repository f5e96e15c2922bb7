"""Demo data for trying oppbot locally: one school, two classes, a few employers.

Dates are relative to today so that the demo never goes stale. Seeding twice does nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    Account,
    Cohort,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    Person,
    Role,
    School,
)

SCHOOL = "Riverside High"
COHORT_CODES = {"Year 11": "RIVER-11", "Year 12": "RIVER-12"}

K = OpportunityKind
# (employer, title, kind, place, remote, paid, days to deadline, tags, min_age, description)
LISTINGS: list[
    tuple[
        str,
        str,
        OpportunityKind,
        str,
        bool,
        bool | None,
        int | None,
        tuple[str, ...],
        int | None,
        str,
    ]
] = [
    (
        "Acme Robotics",
        "Robotics summer internship",
        K.INTERNSHIP,
        "Leeds",
        False,
        True,
        21,
        ("engineering", "technology"),
        16,
        "Build and test small warehouse robots with our engineers for six weeks.",
    ),
    (
        "Acme Robotics",
        "Shadow a software engineer",
        K.JOB_SHADOWING,
        "Leeds",
        False,
        False,
        10,
        ("technology",),
        None,
        "Spend a day with our software team: stand-up, code review, demo.",
    ),
    (
        "Northside Hospital",
        "Ward volunteering placement",
        K.COOP,
        "Bradford",
        False,
        False,
        35,
        ("health",),
        16,
        "Help on a children's ward two afternoons a week during term.",
    ),
    (
        "Northside Hospital",
        "Careers in medicine open day",
        K.EVENT,
        "Bradford",
        False,
        None,
        5,
        ("health", "science"),
        None,
        "Talks from doctors, nurses and paramedics, and a tour.",
    ),
    (
        "Pixel & Ink Studio",
        "Graphic design mentoring",
        K.MENTORING,
        "Online",
        True,
        False,
        None,
        ("creative",),
        None,
        "Monthly video calls with a designer who reviews your portfolio.",
    ),
    (
        "Pixel & Ink Studio",
        "Junior designer internship",
        K.INTERNSHIP,
        "Leeds",
        False,
        True,
        45,
        ("creative", "business"),
        18,
        "Paid summer role on client projects. For school leavers.",
    ),
    (
        "Yorkshire Water",
        "Treatment works site visit",
        K.SITE_VISIT,
        "Harrogate",
        False,
        None,
        14,
        ("engineering", "science"),
        None,
        "See how a city's water is cleaned. Boots provided.",
    ),
    (
        "Yorkshire Water",
        "Civil engineering co-op",
        K.COOP,
        "Leeds",
        False,
        True,
        60,
        ("engineering", "trades"),
        16,
        "One day a week with our civil engineering site team.",
    ),
    (
        "Brightside Bank",
        "Finance remote internship",
        K.INTERNSHIP,
        "Remote",
        True,
        True,
        30,
        ("business",),
        16,
        "Learn budgeting and analysis with our finance team, from home.",
    ),
    (
        "City Council",
        "Work experience in local government",
        K.JOB_SHADOWING,
        "Leeds",
        False,
        False,
        25,
        ("public",),
        None,
        "A week across planning, libraries and the mayor's office.",
    ),
    (
        "Brightside Bank",
        "Coding club mentor match",
        K.MENTORING,
        "Online",
        True,
        False,
        None,
        ("technology", "business"),
        None,
        "Pair with a developer for a term of weekly coding help.",
    ),
    (
        "Leeds Grand Hotel",
        "Hospitality taster week",
        K.JOB_SHADOWING,
        "Leeds",
        False,
        True,
        3,
        ("hospitality",),
        16,
        "Front desk, kitchen and events: see a big hotel from inside.",
    ),
]

# Console users that exist in the demo (`oppbot chat --as maya`, `--as tess`): an employer
# member who gets match notifications, and a teacher at the demo school.
DEMO_EMPLOYER = ("maya", "Maya Okafor", "Acme Robotics")
DEMO_TEACHER = ("tess", "Tess Morgan")


def seed(session: Session, now: datetime) -> bool:
    """Add the demo school, classes, employers and opportunities; False if already there."""
    if session.scalar(select(School.id).where(School.name == SCHOOL)) is not None:
        return False
    school = School(name=SCHOOL, created_at=now)
    session.add_all(
        Cohort(school=school, name=name, join_code=code, created_at=now)
        for name, code in COHORT_CODES.items()
    )
    organisations: dict[str, Organisation] = {}
    today = now.date()
    for n, (employer, title, kind, place, remote, paid, days, tags, min_age, text) in enumerate(
        LISTINGS
    ):
        org = organisations.setdefault(employer, Organisation(name=employer, created_at=now))
        session.add(
            Opportunity(
                organisation=org,
                kind=kind,
                title=title,
                description=text,
                location=place,
                remote=remote,
                paid=paid,
                deadline=today + timedelta(days=days) if days is not None else None,
                start_date=_next_month(today),
                status=OpportunityStatus.OPEN,
                min_age=min_age,
                tags=[OpportunityTag(tag=t) for t in tags],
                published_at=now - timedelta(hours=n),
                created_at=now,
                updated_at=now,
            )
        )
    user, name, employer = DEMO_EMPLOYER
    _console_user(
        session,
        user,
        Person(
            name=name,
            role=Role.EMPLOYER,
            organisation=organisations[employer],
            onboarded_at=now,
            created_at=now,
        ),
        now,
    )
    user, name = DEMO_TEACHER
    _console_user(
        session,
        user,
        Person(name=name, role=Role.TEACHER, school=school, onboarded_at=now, created_at=now),
        now,
    )
    return True


def _console_user(session: Session, user: str, person: Person, now: datetime) -> None:
    session.add(
        Account(
            person=person,
            platform="console",
            external_id=user,
            chat_id=user,
            display_name=person.name,
            last_seen_at=now,
            created_at=now,
        )
    )


def _next_month(today: date) -> date:
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)
