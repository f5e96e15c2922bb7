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
    Encounter,
    EncounterKind,
    Feedback,
    FeedbackStage,
    FeedbackStatus,
    HoursEntry,
    HoursStatus,
    Interest,
    InterestMessage,
    InterestStatus,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    OpportunityView,
    Organisation,
    Person,
    Placement,
    Role,
    School,
)

H = HoursStatus

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
# A student already on a placement at the demo employer.
DEMO_PLACED_STUDENT = ("sam", "Sam", "Rivers")


def seed(session: Session, now: datetime) -> bool:
    """Add the demo school, classes, employers and opportunities; False if already there."""
    if session.scalar(select(School.id).where(School.name == SCHOOL)) is not None:
        return False
    school = School(name=SCHOOL, created_at=now)
    cohorts = [
        Cohort(school=school, name=name, join_code=code, created_at=now)
        for name, code in COHORT_CODES.items()
    ]
    session.add_all(cohorts)
    organisations: dict[str, Organisation] = {}
    opportunities: list[Opportunity] = []
    today = now.date()
    for n, (employer, title, kind, place, remote, paid, days, tags, min_age, text) in enumerate(
        LISTINGS
    ):
        org = organisations.setdefault(employer, Organisation(name=employer, created_at=now))
        opportunities.append(
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
                owner_school=school,
                published_at=now - timedelta(hours=n),
                created_at=now,
                updated_at=now,
            )
        )
    session.add_all(opportunities)
    user, name, employer = DEMO_EMPLOYER
    maya = Person(
        name=name,
        role=Role.EMPLOYER,
        organisation=organisations[employer],
        school=school,
        onboarded_at=now,
        created_at=now,
    )
    _console_user(session, user, maya, now)
    user, name = DEMO_TEACHER
    _console_user(
        session,
        user,
        Person(name=name, role=Role.TEACHER, school=school, onboarded_at=now, created_at=now),
        now,
    )
    placed = next(o for o in opportunities if o.organisation.name == employer)
    _placement_story(session, now, cohorts[0], placed, maya, opportunities)
    _encounters_story(session, now, cohorts, organisations["Acme Robotics"], DEMO_TEACHER[0])
    return True


# Classmates with some evidence of encounters, and some without yet, for /evidence:
# (first name, family name, class, what they had: "fair", "talk" (listening only), "visit").
DEMO_CLASSMATES = (
    ("Ava", "Patel", "Year 11", ("fair",)),
    ("Ben", "Carter", "Year 11", ("fair", "visit")),
    ("Chloe", "Nguyen", "Year 11", ("talk",)),
    ("Dan", "Okoro", "Year 11", ()),
    ("Eve", "Lewis", "Year 12", ("fair",)),
    ("Finn", "Hughes", "Year 12", ()),
)


def _encounters_story(
    session: Session, now: datetime, cohorts: list[Cohort], acme: Organisation, teacher: str
) -> None:
    """What the demo teacher recorded this school year: a careers fair, a talk, a site visit."""
    recorder = session.scalar(select(Person).join(Account).where(Account.external_id == teacher))
    by_name = {c.name: c for c in cohorts}
    today = now.date()
    # Early in the school year (September), "weeks ago" would fall in the year before.
    year_start = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    happened = {
        "fair": ("careers fair", 20, None, None, True, EncounterKind.ENCOUNTER),
        "talk": ("employer talk", 12, acme, None, False, EncounterKind.ENCOUNTER),
        "visit": ("site visit", 5, acme, None, True, EncounterKind.WORKPLACE),
    }
    for first, family, cohort_name, had in DEMO_CLASSMATES:
        cohort = by_name[cohort_name]
        student = Person(
            name=first,
            family_name=family,
            role=Role.STUDENT,
            cohort=cohort,
            grade=int(cohort_name.split()[-1]),
            under_18=True,
            timezone="Europe/London",
            onboarded_at=now - timedelta(days=40),
            created_at=now - timedelta(days=40),
        )
        session.add(student)
        for what in had:
            activity, days_ago, org, org_name, two_way, kind = happened[what]
            session.add(
                Encounter(
                    student=student,
                    school_id=cohort.school.id,
                    grade=student.grade,
                    happened_on=max(today - timedelta(days=days_ago), year_start),
                    kind=kind,
                    activity=activity,
                    organisation=org,
                    organisation_name=org_name,
                    two_way=two_way,
                    recorded_by=recorder,
                    created_at=now,
                )
            )


# Long because it is one demo student's story told in order, row by row.
def _placement_story(
    session: Session,
    now: datetime,
    cohort: Cohort,
    opportunity: Opportunity,
    supervisor: Person,
    opportunities: list[Opportunity],
) -> None:
    """A student two weeks into a placement (`oppbot chat --as sam`): an application the
    employer answered, hours logged and partly confirmed, and feedback at the midpoint, so
    that /hours, /placements and /report have something to show."""
    user, name, family_name = DEMO_PLACED_STUDENT
    sam = Person(
        name=name,
        family_name=family_name,
        role=Role.STUDENT,
        cohort=cohort,
        grade=12,
        under_18=False,
        under_16=False,
        timezone="Europe/London",
        onboarded_at=now - timedelta(days=30),
        created_at=now - timedelta(days=30),
    )
    _console_user(session, user, sam, now)
    session.flush()
    session.add_all(
        OpportunityView(
            person_id=sam.id,
            opportunity_id=o.id,
            school_id=cohort.school_id,
            first_seen_at=now - timedelta(days=25),
        )
        for o in opportunities[:4]
    )
    applied = now - timedelta(days=21)
    interest = Interest(
        person=sam,
        opportunity=opportunity,
        school_id=cohort.school_id,
        status=InterestStatus.PLACED,
        note="I have built two robots for the school science fair.",
        details_shared_at=applied,
        employer_replied_at=applied + timedelta(days=1, hours=3),
        created_at=applied,
        updated_at=now - timedelta(days=15),
    )
    session.add(interest)
    session.flush()
    for kind, text, days_ago in (
        ("invite", "Could you come in for a chat on Monday at 10?", 20),
        ("reply", "Yes please, see you on Monday!", 20),
        ("placed", "", 15),
    ):
        session.add(
            InterestMessage(
                interest_id=interest.id,
                sender=supervisor if kind != "reply" else sam,
                from_role=Role.STUDENT if kind == "reply" else Role.EMPLOYER,
                kind=kind,
                text=text,
                created_at=now - timedelta(days=days_ago),
            )
        )
    today = now.date()
    placement = Placement(
        interest=interest,
        student=sam,
        organisation=opportunity.organisation,
        school_id=cohort.school_id,
        supervisor=supervisor,
        start_date=today - timedelta(days=14),
        end_date=today + timedelta(days=7),
        expected_hours=40,
        created_at=now - timedelta(days=15),
        updated_at=now - timedelta(days=15),
    )
    session.add(placement)
    for days_ago, hours, status in (
        (13, 3, H.CONFIRMED),
        (12, 3, H.CONFIRMED),
        (6, 4, H.CONFIRMED),
        (5, 3, H.PENDING),
    ):
        session.add(
            HoursEntry(
                placement=placement,
                work_date=today - timedelta(days=days_ago),
                minutes=hours * 60,
                status=status,
                logged_at=now - timedelta(days=days_ago),
                reviewed_at=now - timedelta(days=days_ago - 1) if status == H.CONFIRMED else None,
            )
        )
    session.add(
        Feedback(
            placement=placement,
            stage=FeedbackStage.MIDPOINT,
            respondent_role=Role.STUDENT,
            respondent=sam,
            status=FeedbackStatus.ANSWERED,
            due_at=now - timedelta(days=4),
            asked_at=now - timedelta(days=4),
            answered_at=now - timedelta(days=4),
            rating=5,
            comment="Everyone is friendly and I soldered my first circuit board!",
        )
    )


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
