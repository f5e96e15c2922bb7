"""The partnership health report: every figure from a known data set, for a teacher and for
an employer; the period grammar; objectives; the chart; `oppbot report` as Markdown and CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import build
from bot.cli import main
from bot.config import Settings
from bot.core import STALE_BUTTON_TEXT, Capabilities, Core
from bot.i18n import language
from handlers import build_registry
from handlers.reports.chart import HEIGHT, WIDTH, render
from handlers.reports.figures import (
    Breakdown,
    Figures,
    Period,
    PeriodError,
    Scope,
    compute,
    fmt_duration,
    parse_period,
    period_help,
)
from handlers.reports.objectives import progress_line
from handlers.reports.report import Report, _pack, build_report, chart_data, figure_lines
from storage.models import (
    Account,
    Cohort,
    Feedback,
    FeedbackStage,
    FeedbackStatus,
    HoursEntry,
    HoursStatus,
    Interest,
    InterestMessage,
    InterestStatus,
    Objective,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityView,
    Organisation,
    Person,
    Placement,
    Role,
    School,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard

# The period the figures are checked over, and the one before it (20 days each).
PERIOD = "2026-11-01 2026-11-20"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Ids:
    schools: dict[str, int]
    orgs: dict[str, int]
    people: dict[str, int]
    interests: dict[str, int]


def build_data(factory: sessionmaker[Session]) -> Ids:
    """Two schools, three employers, and what happened in, before and outside ``PERIOD``.

    The comments give the figure each row should move; anything "outside" is in neither
    the period nor the one before it (2026-10-12 to 2026-10-31).
    """
    created = at(1, 1)
    with factory.begin() as s:
        riverside = School(name="Riverside High", created_at=created)
        hillcrest = School(name="Hillcrest", created_at=created)
        r11 = Cohort(school=riverside, name="Year 11", join_code="RIVER-11", created_at=created)
        h10 = Cohort(school=hillcrest, name="Year 10", join_code="HILL-10", created_at=created)
        acme = Organisation(name="Acme Ltd", created_at=created)
        bright = Organisation(name="Bright Labs", created_at=created)
        civic = Organisation(name="Civic Trust", created_at=created)
        s.add_all([r11, h10, acme, bright, civic])
        s.flush()

        people: dict[str, Person] = {}

        def person(name: str, role: Role, **fields: object) -> Person:
            row = Person(name=name, role=role, created_at=created, onboarded_at=created, **fields)
            row.accounts.append(
                Account(
                    platform="console",
                    external_id=name.lower(),
                    chat_id=f"chat-{name.lower()}",
                    last_seen_at=created,
                    created_at=created,
                )
            )
            s.add(row)
            people[name] = row
            return row

        for name in ("Ada", "Ben", "Cal"):
            person(name, Role.STUDENT, cohort_id=r11.id)
        for name in ("Dee", "Eli"):
            person(name, Role.STUDENT, cohort_id=h10.id)
        person("Tina", Role.TEACHER, school_id=riverside.id)
        person("Tom", Role.TEACHER, school_id=hillcrest.id)
        person("Maya", Role.EMPLOYER, organisation_id=acme.id)
        person("Bo", Role.EMPLOYER, organisation_id=bright.id)
        person("Ann", Role.ADMIN)
        s.flush()

        def opportunity(org: Organisation, title: str, published: datetime) -> Opportunity:
            row = Opportunity(
                organisation_id=org.id,
                kind=OpportunityKind.INTERNSHIP,
                title=title,
                status=OpportunityStatus.OPEN,
                published_at=published,
                created_at=published,
                updated_at=published,
            )
            s.add(row)
            return row

        o1 = opportunity(acme, "Software intern", at(11, 3))  # published now
        o2 = opportunity(acme, "Design intern", at(10, 20))  # published before
        o3 = opportunity(bright, "Lab assistant", at(11, 1, 0))  # published now (first moment)
        o4 = opportunity(civic, "Volunteer", at(9, 1))  # outside
        s.flush()

        school_of = {r11.id: riverside.id, h10.id: hillcrest.id}

        def view(who: str | None, opp: Opportunity, when: datetime) -> None:
            pid = people[who].id if who else None
            school = school_of[people[who].cohort_id] if who else None  # type: ignore[index]
            s.add(
                OpportunityView(
                    person_id=pid, opportunity_id=opp.id, school_id=school, first_seen_at=when
                )
            )

        view("Ada", o1, at(11, 2))  # Acme now
        view("Ada", o3, at(11, 4))  # Bright now; Ada is one student reached overall
        view("Ben", o1, at(11, 5))  # Acme now
        view("Ben", o2, at(11, 6))  # Acme now again: Ben is one student reached by Acme
        view("Cal", o2, at(10, 15))  # Acme before
        view("Dee", o1, at(11, 7))  # Acme now, Hillcrest: only Acme's own report sees it
        view("Eli", o3, at(11, 21, 0))  # outside (the first moment after the period)
        view(None, o3, at(11, 8))  # a student who deleted their data: Bright now, no school

        interests: dict[str, Interest] = {}

        def interest(
            key: str,
            who: str,
            opp: Opportunity,
            when: datetime,
            shared: datetime | None,
            replied: datetime | None,
        ) -> Interest:
            row = Interest(
                person_id=people[who].id,
                opportunity_id=opp.id,
                school_id=school_of[people[who].cohort_id],  # type: ignore[index]
                status=InterestStatus.INTERESTED,
                created_at=when,
                updated_at=when,
                details_shared_at=shared,
                employer_replied_at=replied,
            )
            s.add(row)
            interests[key] = row
            return row

        # Acme now: answered in 24 and 6 hours; Cal's details are not shared yet (consent).
        interest("ada-o1", "Ada", o1, at(11, 2, 10), at(11, 2, 10), at(11, 3, 10))
        interest("ben-o1", "Ben", o1, at(11, 5, 9), at(11, 5, 9), at(11, 5, 15))
        interest("cal-o1", "Cal", o1, at(11, 9), None, None)
        # Bright now: shared, never answered.
        interest("ada-o3", "Ada", o3, at(11, 4, 12), at(11, 4, 12), None)
        # Acme before: shared a day after it was registered, answered four days after that.
        interest("cal-o2", "Cal", o2, at(10, 15, 12), at(10, 16, 12), at(10, 20, 12))
        # Bright before (the last minutes of it), answered two hours later, in the period.
        interest("ben-o3", "Ben", o3, at(10, 31, 23, 30), at(10, 31, 23, 30), at(11, 1, 1, 30))
        # Acme now, Hillcrest: answered in 2 hours.
        interest("dee-o1", "Dee", o1, at(11, 7), at(11, 7), at(11, 7, 14))
        interest("eli-o3", "Eli", o3, at(11, 21), None, None)  # outside
        interest("eli-o4", "Eli", o4, at(9, 1), None, None)  # outside
        s.flush()

        def message(key: str, kind: str, when: datetime, role: Role = Role.EMPLOYER) -> None:
            s.add(
                InterestMessage(
                    interest_id=interests[key].id, from_role=role, kind=kind, created_at=when
                )
            )

        message("ada-o1", "invite", at(11, 3, 10))  # Acme now
        message("ada-o1", "invite", at(11, 4))  # the same application again: still one
        message("ben-o1", "question", at(11, 5, 15))  # not an invitation
        message("ben-o1", "reply", at(11, 5, 16), Role.STUDENT)
        message("cal-o2", "invite", at(10, 20, 12))  # Acme before
        message("dee-o1", "invite", at(11, 8))  # Acme now, Hillcrest
        message("ben-o3", "invite", at(11, 1, 1, 30))  # Bright now (registered before)

        def placement(key: str, school: School, when: datetime) -> Placement:
            row = interests[key]
            org_id = s.get(Opportunity, row.opportunity_id).organisation_id  # type: ignore[union-attr]
            placed = Placement(
                interest_id=row.id,
                student_id=row.person_id,
                organisation_id=org_id,
                school_id=school.id,
                supervisor_id=people["Maya"].id,
                start_date=when.date(),
                end_date=when.date() + timedelta(days=20),
                expected_hours=30,
                created_at=when,
                updated_at=when,
            )
            s.add(placed)
            return placed

        p_ada = placement("ada-o1", riverside, at(11, 10))  # Acme now
        p_cal = placement("cal-o2", riverside, at(10, 25))  # Acme before
        p_dee = placement("dee-o1", hillcrest, at(11, 12))  # Acme now, Hillcrest
        p_ben = placement("ben-o3", riverside, at(11, 20, 23, 59))  # Bright now (last minute)
        placement("eli-o4", hillcrest, at(9, 2))  # Civic, outside
        s.flush()

        def hours(p: Placement, day: date, minutes: int, status: HoursStatus) -> None:
            s.add(
                HoursEntry(
                    placement_id=p.id,
                    work_date=day,
                    minutes=minutes,
                    status=status,
                    logged_at=at(11, 22),
                )
            )

        hours(p_ada, date(2026, 11, 11), 180, HoursStatus.CONFIRMED)
        hours(p_ada, date(2026, 11, 12), 150, HoursStatus.CONFIRMED)
        hours(p_ada, date(2026, 11, 13), 120, HoursStatus.PENDING)  # not confirmed
        hours(p_ada, date(2026, 11, 14), 60, HoursStatus.QUERIED)  # not confirmed
        hours(p_ada, date(2026, 11, 20), 90, HoursStatus.CONFIRMED)  # the last day
        hours(p_ada, date(2026, 11, 21), 240, HoursStatus.CONFIRMED)  # outside
        hours(p_cal, date(2026, 10, 31), 300, HoursStatus.CONFIRMED)  # before
        hours(p_dee, date(2026, 11, 15), 200, HoursStatus.CONFIRMED)  # Hillcrest
        hours(p_ben, date(2026, 11, 1), 30, HoursStatus.CONFIRMED)  # Bright now

        def feedback(
            p: Placement,
            stage: FeedbackStage,
            role: Role,
            rating: int | None,
            answered: datetime,
        ) -> None:
            s.add(
                Feedback(
                    placement_id=p.id,
                    stage=stage,
                    respondent_role=role,
                    status=FeedbackStatus.ANSWERED if rating else FeedbackStatus.SKIPPED,
                    due_at=answered - timedelta(days=1),
                    answered_at=answered,
                    rating=rating,
                )
            )

        mid, end = FeedbackStage.MIDPOINT, FeedbackStage.END
        feedback(p_ada, mid, Role.STUDENT, 4, at(11, 15))
        feedback(p_ada, mid, Role.EMPLOYER, 5, at(11, 15))
        feedback(p_ada, end, Role.STUDENT, 5, at(11, 20, 23))
        feedback(p_ada, end, Role.EMPLOYER, None, at(11, 20))  # skipped: no rating
        feedback(p_cal, end, Role.STUDENT, 3, at(10, 28))  # before
        feedback(p_cal, end, Role.EMPLOYER, 2, at(11, 2))  # now
        feedback(p_dee, mid, Role.STUDENT, 1, at(11, 16))  # Hillcrest
        feedback(p_ben, mid, Role.EMPLOYER, 4, at(11, 21))  # outside
        s.flush()
        return Ids(
            schools={"Riverside High": riverside.id, "Hillcrest": hillcrest.id},
            orgs={"Acme Ltd": acme.id, "Bright Labs": bright.id, "Civic Trust": civic.id},
            people={name: p.id for name, p in people.items()},
            interests={key: i.id for key, i in interests.items()},
        )


@pytest.fixture
def ids(snapshot: Snapshot) -> Ids:
    return snapshot(lambda _core, factory, _clock: build_data(factory))


# --- The period grammar -----------------------------------------------------------------------

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("", date(2026, 8, 26), TODAY),
        ("term", date(2026, 8, 26), TODAY),
        ("this term", date(2026, 8, 26), TODAY),
        ("week", date(2026, 11, 17), TODAY),
        ("month", date(2026, 10, 25), TODAY),
        ("last 30 days", date(2026, 10, 25), TODAY),
        # "this" and "last" week, month and year follow the calendar (TODAY is a Monday).
        ("last month", date(2026, 10, 1), date(2026, 10, 31)),
        ("this month", date(2026, 11, 1), TODAY),
        ("last week", date(2026, 11, 16), date(2026, 11, 22)),
        ("this week", TODAY, TODAY),
        ("this year", date(2026, 1, 1), TODAY),
        ("last year", date(2025, 1, 1), date(2025, 12, 31)),
        ("Year", date(2025, 11, 24), TODAY),
        ("30d", date(2026, 10, 25), TODAY),
        ("30 days", date(2026, 10, 25), TODAY),
        ("1 day", TODAY, TODAY),
        ("2026-09-01 2026-09-30", date(2026, 9, 1), date(2026, 9, 30)),
        ("2026-09-01..2026-09-30", date(2026, 9, 1), date(2026, 9, 30)),
        ("2026-09-01 .. 2026-09-30", date(2026, 9, 1), date(2026, 9, 30)),
        ("2026-09-01 2026-09-01", date(2026, 9, 1), date(2026, 9, 1)),
    ],
)
def test_periods_people_type(text: str, start: date, end: date) -> None:
    assert parse_period(text, TODAY) == Period(start, end)


@pytest.mark.parametrize(
    ("lang", "text", "start", "end"),
    [
        ("es", "el mes pasado", date(2026, 10, 1), date(2026, 10, 31)),
        ("es", "Este trimestre", date(2026, 8, 26), TODAY),
        ("es", "30 días", date(2026, 10, 25), TODAY),
        ("pl", "zeszły tydzień", date(2026, 11, 16), date(2026, 11, 22)),
        ("pl", "w tym roku", date(2026, 1, 1), TODAY),
        ("pl", "30 dni", date(2026, 10, 25), TODAY),
        ("uk", "минулого місяця", date(2026, 10, 1), date(2026, 10, 31)),
        ("uk", "тиждень", date(2026, 11, 17), TODAY),
        ("ar", "الشهر الماضي", date(2026, 10, 1), date(2026, 10, 31)),
        ("ar", "هذا الأسبوع", TODAY, TODAY),
        ("ar", "٣٠ يوما", date(2026, 10, 25), TODAY),
        ("es", "last month", date(2026, 10, 1), date(2026, 10, 31)),  # English works too
    ],
)
def test_periods_in_the_teachers_language(lang: str, text: str, start: date, end: date) -> None:
    with language(lang):
        assert parse_period(text, TODAY) == Period(start, end)


@pytest.mark.parametrize(
    ("lang", "lead"),
    [
        ("en", "Say the period like "),
        ("es", "Indica el periodo así: "),
        ("pl", "Podaj okres tak: "),
        ("uk", "Вкажіть період так: "),
        ("ar", "اذكر الفترة هكذا: "),
    ],
)
def test_each_languages_period_examples_read_back(lang: str, lead: str) -> None:
    with language(lang):
        shown = period_help(TODAY)
        assert shown.startswith(lead), shown
        parts = re.split(r"\s*[,،]\s*|\s+(?:or|o|albo|або)\s+|\s*أو\s+", shown[len(lead) :])
        phrases = [p for p in parts if p][:-1]  # the last is "two dates: ..."
        assert len(phrases) == 6, phrases
        for phrase in phrases:
            assert parse_period(phrase, TODAY).end <= TODAY, phrase  # read, not refused


def test_another_languages_period_means_nothing_in_english() -> None:
    with pytest.raises(PeriodError):
        parse_period("el mes pasado", TODAY)


def test_calendar_periods_on_other_days() -> None:
    sunday = date(2026, 11, 29)
    assert parse_period("this week", sunday) == Period(date(2026, 11, 23), sunday)
    assert parse_period("last week", sunday) == Period(date(2026, 11, 16), date(2026, 11, 22))
    january = date(2027, 1, 1)
    assert parse_period("last month", january) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert parse_period("this month", january) == Period(january, january)
    march = date(2028, 3, 10)
    assert parse_period("last month", march) == Period(date(2028, 2, 1), date(2028, 2, 29))


def test_the_previous_period_is_as_long_and_just_before() -> None:
    period = parse_period(PERIOD, TODAY)
    assert period.days == 20
    assert period.previous == Period(date(2026, 10, 12), date(2026, 10, 31))
    assert parse_period("", TODAY).previous == Period(date(2026, 5, 28), date(2026, 8, 25))
    assert period.start_at == at(11, 1, 0)
    assert period.end_at == at(11, 21, 0)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("fortnight", "I don't understand that period. Say the period like 30d"),
        ("2026-09-01", "I don't understand that period"),
        ("0d", "Please choose between 1 and 3660 days."),
        ("9999 days", "Please choose between 1 and 3660 days."),
        ("2026-02-30 2026-03-10", "That isn't a real date."),
        ("2026-09-30 2026-09-01", "The period ends before it starts."),
        ("1999-01-01 1999-02-01", "Please choose dates from 2000 on."),
        ("2000-01-01 2026-01-01", "Please choose a period of at most 3660 days."),
        ("9999-12-30 9999-12-31", "That period ends more than a year from now."),
        ("2026-11-01 2027-11-25", "That period ends more than a year from now."),
        ("last term", "I don't know your term dates."),
    ],
)
def test_a_period_that_makes_no_sense_is_refused_with_an_example(text: str, says: str) -> None:
    with pytest.raises(PeriodError) as refused:
        parse_period(text, TODAY)
    assert str(refused.value).startswith(says)


# --- Every figure -----------------------------------------------------------------------------


def test_every_figure_for_a_school(session_factory: sessionmaker[Session], ids: Ids) -> None:
    period = parse_period(PERIOD, TODAY)
    with session_factory() as session:
        now, before = compute(
            session, Scope(school_id=ids.schools["Riverside High"]), [period, period.previous]
        )
    acme, bright = ids.orgs["Acme Ltd"], ids.orgs["Bright Labs"]
    # Civic Trust did nothing in either period, so it is not listed at all.
    assert set(now.employers) == set(before.employers) == {acme, bright}

    a = now.of(acme)
    assert (a.published, a.reached, a.interests, a.answerable, a.replied) == (1, 2, 3, 2, 2)
    assert (a.reply_rate, a.median_reply_hours) == (100, 15)
    assert (a.invitations, a.placements, a.minutes, a.hours) == (1, 1, 420, 7)
    assert (a.student_rating.value, a.student_rating.count) == (4.5, 2)
    assert (a.supervisor_rating.value, a.supervisor_rating.count) == (3.5, 2)

    b = now.of(bright)
    assert (b.published, b.reached, b.interests, b.answerable, b.replied) == (1, 1, 1, 1, 0)
    assert (b.reply_rate, b.median_reply_hours) == (0, None)
    assert (b.invitations, b.placements, b.minutes) == (1, 1, 30)
    assert (b.student_rating.value, b.supervisor_rating.value) == (None, None)

    o = now.overall
    assert (o.published, o.reached, o.interests, o.answerable, o.replied) == (2, 2, 4, 3, 2)
    assert o.reply_rate == pytest.approx(200 / 3)
    assert o.median_reply_hours == 15
    assert (o.invitations, o.placements, o.minutes, o.hours) == (2, 2, 450, 7.5)
    assert (o.student_rating.value, o.supervisor_rating.value) == (4.5, 3.5)

    a, b, o = before.of(acme), before.of(bright), before.overall
    assert (a.published, a.reached, a.interests, a.replied, a.median_reply_hours) == (
        1,
        1,
        1,
        1,
        96,
    )
    assert (a.invitations, a.placements, a.minutes, a.student_rating.value) == (1, 1, 300, 3)
    assert a.supervisor_rating.value is None
    assert (b.published, b.reached, b.interests, b.replied, b.median_reply_hours) == (
        0,
        0,
        1,
        1,
        2,
    )
    assert (b.invitations, b.placements, b.minutes) == (0, 0, 0)
    assert (o.published, o.reached, o.interests, o.reply_rate, o.median_reply_hours) == (
        1,
        1,
        2,
        100,
        49,
    )
    assert (o.invitations, o.placements, o.hours, o.student_rating.value) == (1, 1, 5, 3)


def test_an_employer_s_figures_cover_every_school_and_no_one_else(
    session_factory: sessionmaker[Session], ids: Ids
) -> None:
    period = parse_period(PERIOD, TODAY)
    with session_factory() as session:
        now, before = compute(
            session, Scope(organisation_id=ids.orgs["Acme Ltd"]), [period, period.previous]
        )
        [bright] = compute(session, Scope(organisation_id=ids.orgs["Bright Labs"]), [period])
        [everyone] = compute(session, Scope(), [period])
    assert set(now.employers) == {ids.orgs["Acme Ltd"]}
    o = now.overall
    # Dee at Hillcrest counts: her view, interest (2 hours to answer), invitation, placement,
    # 200 minutes and her rating of 1.
    assert (o.published, o.reached, o.interests, o.answerable, o.replied) == (1, 3, 4, 3, 3)
    assert (o.reply_rate, o.median_reply_hours) == (100, 6)
    assert (o.invitations, o.placements, o.minutes) == (2, 2, 620)
    assert o.student_rating.value == pytest.approx(10 / 3)
    assert o.supervisor_rating.value == 3.5
    b = before.overall
    assert (b.reached, b.interests, b.median_reply_hours, b.placements, b.hours) == (
        1,
        1,
        96,
        1,
        5,
    )
    # The student who deleted their data still counts as reached, but for no school.
    assert bright.overall.reached == 2
    assert everyone.overall.reached == 4
    assert everyone.overall.placements == 3


def test_the_report_takes_the_same_few_queries_however_many_employers(
    engine: Engine, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    period = parse_period(PERIOD, TODAY)
    riverside = ids.schools["Riverside High"]

    def add_employer(name: str, ends_on: date) -> None:
        with session_factory.begin() as s:
            org = Organisation(name=name, created_at=at(1, 1))
            opp = Opportunity(
                organisation=org,
                kind=OpportunityKind.EVENT,
                title="Open day",
                published_at=at(11, 2),
                created_at=at(11, 2),
                updated_at=at(11, 2),
            )
            s.add(opp)
            s.flush()
            s.add(
                OpportunityView(
                    person_id=ids.people["Ada"],
                    opportunity_id=opp.id,
                    school_id=riverside,
                    first_seen_at=at(11, 2),
                )
            )
            s.add(
                Objective(
                    school_id=riverside,
                    organisation_id=org.id,
                    metric="reached",
                    target=5,
                    starts_on=date(2026, 11, 1),
                    ends_on=ends_on,
                    created_at=at(11, 1),
                )
            )

    def statements() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            with session_factory() as session:
                report = build_report(session, Scope(school_id=riverside), "Riverside", period)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(report.objectives) == len(report.employers) - 2
        return len(seen)

    add_employer("Delta Co", date(2026, 12, 31))
    few = statements()
    for n in range(6):
        add_employer(f"Employer {n}", date(2027, 1, 1 + n))
    assert statements() == few <= 25


# --- /report in the chat ----------------------------------------------------------------------

TINA_REPORT = """\
Partnership report for Riverside High, 1 Nov 2026 to 20 Nov 2026 (20 days). \
In brackets: the change since the 20 days before.

All employers
• Opportunities published: 2 (up 1)
• Students reached: 2 (up 1)
• Interests registered: 4 (up 2)
• Reply rate: 67% (2 of 3 answered) (was 100%)
• Median reply time: 15 hours (was 2 days)
• Invitations: 2 (up 1)
• Placements: 2 (up 1)
• Hours confirmed: 7.5 (up 2.5)
• Feedback from students: 4.5 of 5 (2 answers) (was 3.0 of 5)
• Feedback from supervisors: 3.5 of 5 (2 answers)

Acme Ltd
• Opportunities published: 1 (no change)
• Students reached: 2 (up 1)
• Interests registered: 3 (up 2)
• Reply rate: 100% (2 of 2 answered) (was 100%)
• Median reply time: 15 hours (was 4 days)
• Invitations: 1 (no change)
• Placements: 1 (no change)
• Hours confirmed: 7 (up 2)
• Feedback from students: 4.5 of 5 (2 answers) (was 3.0 of 5)
• Feedback from supervisors: 3.5 of 5 (2 answers)

Bright Labs
• Opportunities published: 1 (up 1)
• Students reached: 1 (up 1)
• Interests registered: 1 (no change)
• Reply rate: 0% (0 of 1 answered) (was 100%)
• Median reply time: no replies yet (was 2 hours)
• Invitations: 1 (up 1)
• Placements: 1 (up 1)
• Hours confirmed: 0.5 (up 0.5)"""


def png_size(content: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, checking that it is one."""
    assert content[:8] == PNG_SIGNATURE
    assert content[12:16] == b"IHDR"
    return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")


def test_a_teacher_s_report_has_every_figure_and_a_chart(core: Core, ids: Ids) -> None:
    tina = Chat(core, "tina")
    [reply] = tina.send(f"/report {PERIOD}")
    assert reply.text == TINA_REPORT
    assert reply.file is not None
    assert (reply.file.filename, reply.file.mime) == ("partnership-report.png", "image/png")
    assert png_size(reply.file.content) == (WIDTH, HEIGHT) == (900, 520)
    with Image.open(io.BytesIO(reply.file.content)) as image:
        image.verify()
    with Image.open(io.BytesIO(reply.file.content)) as image:
        assert (image.format, image.size) == ("PNG", (900, 520))
    # The same figures draw the same picture.
    tina.send(f"/report {PERIOD}")
    assert tina.replies[0].file == reply.file


def test_an_employer_sees_only_their_own_organisation(core: Core, ids: Ids) -> None:
    maya = Chat(core, "maya")
    [reply] = maya.send(f"/report {PERIOD}")
    assert reply.text == (
        "Partnership report for Acme Ltd, 1 Nov 2026 to 20 Nov 2026 (20 days). "
        "In brackets: the change since the 20 days before.\n\n"
        "• Opportunities published: 1 (no change)\n"
        "• Students reached: 3 (up 2)\n"
        "• Interests registered: 4 (up 3)\n"
        "• Reply rate: 100% (3 of 3 answered) (was 100%)\n"
        "• Median reply time: 6 hours (was 4 days)\n"
        "• Invitations: 2 (up 1)\n"
        "• Placements: 2 (up 1)\n"
        "• Hours confirmed: 10.3 (up 5.3)\n"
        "• Feedback from students: 3.3 of 5 (3 answers) (was 3.0 of 5)\n"
        "• Feedback from supervisors: 3.5 of 5 (2 answers)"
    )
    assert reply.file is not None and png_size(reply.file.content) == (900, 520)
    bo = Chat(core, "bo")
    bo.send(f"/report {PERIOD}")
    assert "Partnership report for Bright Labs" in bo.text
    assert "• Students reached: 2 (up 2)" in bo.text
    # An employer's own report lists every figure, even those still to come.
    assert bo.text.endswith(
        "• Feedback from students: none yet\n• Feedback from supervisors: none yet"
    )
    assert "Acme" not in bo.text and "Riverside" not in bo.text


def test_the_default_period_is_this_term_by_the_clock(core: Core, ids: Ids) -> None:
    tina = Chat(core, "tina")
    tina.send("/report")
    assert tina.text.startswith(
        "Partnership report for Riverside High, 26 Aug 2026 to 23 Nov 2026 (90 days)."
    )
    # All six of Riverside's interests fall in this term, none in the term before.
    assert "• Interests registered: 6 (up 6)" in tina.text


def test_report_refusals(core: Core, ids: Ids, clock: FakeClock) -> None:
    tina = Chat(core, "tina")
    tina.send("/report fortnight")
    assert tina.text.startswith("I don't understand that period. Say the period like 30d")
    tina.send("/report 2020-01-01 2020-01-31")
    assert tina.text == (
        "Nothing to report for Riverside High from 1 Jan 2020 to 31 Jan 2020, nor in the 31 "
        "days before: no opportunities, views or interests yet. Try a longer period: /report year"
    )
    assert tina.replies[0].file is None
    ada = Chat(core, "ada")
    ada.send("/report")
    assert ada.text.startswith("Sorry, that is only for admins or employers or teachers.")


def test_an_admin_sees_everyone(core: Core, ids: Ids) -> None:
    ann = Chat(core, "ann")
    ann.send(f"/report {PERIOD}")
    assert ann.text.startswith("Partnership report for all schools, 1 Nov 2026")
    assert "All employers\n• Opportunities published: 2 (up 1)\n• Students reached: 4 (up 3)" in (
        ann.text
    )


def test_a_long_report_is_split_to_fit_the_platform(
    session_factory: sessionmaker[Session], clock: FakeClock, ids: Ids
) -> None:
    narrow = Core(
        session_factory,
        build_registry(),
        clock=clock,
        capabilities={"console": Capabilities(max_text=600)},
    )
    replies = Chat(narrow, "tina").send(f"/report {PERIOD}")
    assert len(replies) == 3
    assert all(len(r.text) <= 600 for r in replies)
    assert "\n\n".join(r.text for r in replies) == TINA_REPORT
    assert replies[0].file is not None and all(r.file is None for r in replies[1:])


# --- Objectives -------------------------------------------------------------------------------


def add_in_window(factory: sessionmaker[Session], ids: Ids) -> None:
    """After the objectives are set (23 Nov): one Acme placement of a Riverside student, one of
    a Hillcrest student, and a Riverside interest Bright answered in 2.1 days."""
    with factory.begin() as s:
        acme_opp = s.scalar(select(Opportunity.id).where(Opportunity.title == "Design intern"))
        bright_opp = s.scalar(select(Opportunity.id).where(Opportunity.title == "Lab assistant"))
        ada = Interest(
            person_id=ids.people["Ada"],
            opportunity_id=acme_opp,
            school_id=ids.schools["Riverside High"],
            created_at=at(11, 24),
            updated_at=at(11, 24),
        )
        cal = Interest(
            person_id=ids.people["Cal"],
            opportunity_id=bright_opp,
            school_id=ids.schools["Riverside High"],
            created_at=at(11, 24),
            updated_at=at(11, 24),
            details_shared_at=at(11, 24),
            employer_replied_at=at(11, 24) + timedelta(days=2.1),
        )
        eli = Interest(
            person_id=ids.people["Eli"],
            opportunity_id=acme_opp,
            school_id=ids.schools["Hillcrest"],
            created_at=at(11, 24),
            updated_at=at(11, 24),
        )
        s.add_all([ada, cal, eli])
        s.flush()
        for interest, school in ((ada, "Riverside High"), (eli, "Hillcrest")):
            s.add(
                Placement(
                    interest_id=interest.id,
                    student_id=interest.person_id,
                    organisation_id=ids.orgs["Acme Ltd"],
                    school_id=ids.schools[school],
                    created_at=at(12, 1),
                    updated_at=at(12, 1),
                )
            )


def objective_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Objective)) or 0


def test_objectives_progress_and_removal(
    core: Core, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    tina = Chat(core, "tina")
    tina.send("/objective placements 10 for acme ltd by 2027-03-31")
    assert tina.text == (
        "Objective set, from 23 Nov 2026 to 31 Mar 2027. So far:\n"
        "Placements, Acme Ltd: 0 of 10 by 31 Mar 2027 (0%)\n\n"
        "See them all with /objectives."
    )
    tina.send("/objective reply_days 3")
    assert "Objective set, from 23 Nov 2026 to 21 Feb 2027." in tina.text
    assert "Median reply time: not measured yet, target within 3 days" in tina.text
    add_in_window(session_factory, ids)

    tina.send("/objectives")
    assert tina.text == (
        "Objectives of Riverside High:\n"
        "1. Placements, Acme Ltd: 1 of 10 by 31 Mar 2027 (10%)\n"
        "2. Median reply time: 2.1 days, target within 3 days: on track"
    )
    assert [b.label for b in tina.buttons] == ["Remove 1", "Remove 2"]

    # Setting the same aim again changes it.
    tina.send("/objective placement 4 for Acme by 2027-01-31")
    assert tina.text.startswith("Objective updated, from 23 Nov 2026 to 31 Jan 2027.")
    assert "Placements, Acme Ltd: 1 of 4 by 31 Jan 2027 (25%)" in tina.text
    assert objective_count(session_factory) == 2
    tina.send("/objective reply_days 1.5")
    assert "Median reply time: 2.1 days, target within 1.5 days: behind" in tina.text

    # The report shows the objectives active in its period, measured over their own window.
    tina.send("/report")
    assert (
        "Objectives\n"
        "• Placements, Acme Ltd: 1 of 4 by 31 Jan 2027 (25%)\n"
        "• Median reply time: 2.1 days, target within 1.5 days: behind"
    ) in tina.text
    tina.send(f"/report {PERIOD}")
    assert "Objectives" not in tina.text
    # Acme sees the school's objective about Acme, not the school's overall one.
    maya = Chat(core, "maya")
    maya.send("/report")
    assert "• Riverside High: Placements, Acme Ltd: 1 of 4 by 31 Jan 2027 (25%)" in maya.text
    assert "Median reply time: 2.1 days" not in maya.text
    bo = Chat(core, "bo")
    bo.send("/report")
    assert "Objectives" not in bo.text


def test_removing_an_objective_is_checked(
    core: Core, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    tina, tom, ada = Chat(core, "tina"), Chat(core, "tom"), Chat(core, "ada")
    tina.send("/objective hours 200")
    tina.send("/objectives")
    remove = tina.button("Remove 1").payload
    assert remove.startswith("obx:")
    tom.press_payload(remove)
    assert tom.text == "I can't find that objective at your school. Send /objectives to see them."
    ada.press_payload(remove)
    assert ada.text.startswith("Sorry, that is only for admins or teachers.")
    tina.press_payload("obx:99999")
    assert tina.text.startswith("I can't find that objective at your school.")
    tina.press_payload("obx:x")
    assert tina.text == STALE_BUTTON_TEXT
    assert objective_count(session_factory) == 1
    tina.press_payload(remove)
    assert tina.text == "Removed the objective: Hours confirmed."
    assert tina.replies[0].replace
    assert objective_count(session_factory) == 0
    tina.send("/objectives")
    assert tina.text.startswith("Riverside High has no objectives yet. Set an objective like")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("", "Set an objective like /objective placements 10"),
        ("lots of placements", "Set an objective like"),
        ("magic 3", "I can't measure magic."),
        ("reply_rate 150", "For reply rate, choose a target from 1% to 100%."),
        ("student_rating 6", "For feedback from students, choose a target from 1.0 of 5"),
        ("placements 0", "For placements, choose a target from 1 to 10000."),
        ("placements 5 for Nobody Inc", "I don't know an employer called Nobody Inc."),
        ("placements 5 for L", "Which employer do you mean: Acme Ltd, Bright Labs?"),
        # LIKE's wildcards are taken literally: "L_d" is not "Ltd", "%" not every name.
        ("placements 5 for L_d", "I don't know an employer called L_d."),
        ("placements 5 for %", "I don't know an employer called %."),
        ("placements 5 by 2026-11-01", "That date has passed."),
        ("placements 5 by 2030-01-01", "That's more than two years ahead."),
        ("placements 5 by 2027-02-30", "Please give the end date as YYYY-MM-DD"),
    ],
)
def test_an_objective_that_makes_no_sense_is_refused(
    core: Core, session_factory: sessionmaker[Session], ids: Ids, args: str, says: str
) -> None:
    tina = Chat(core, "tina")
    tina.send(f"/objective {args}")
    assert tina.text.startswith(says), tina.text
    assert objective_count(session_factory) == 0


def test_only_staff_set_objectives(
    core: Core, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    for who in ("ada", "maya"):
        chat = Chat(core, who)
        chat.send("/objective placements 10")
        assert chat.text.startswith("Sorry, that is only for admins or teachers.")
        chat.send("/objectives")
        assert chat.text.startswith("Sorry, that is only for admins or teachers.")
    assert objective_count(session_factory) == 0


# --- oppbot report ----------------------------------------------------------------------------


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPPBOT_DATABASE_URL", url)
    factory = build(Settings(database_url=url)).session_factory
    build_data(factory)
    return factory


def test_oppbot_report_as_csv_with_a_chart(
    cli_database: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--period", PERIOD]) == 2
    assert capsys.readouterr().err == (
        "Say which school. Choose one with --school: Hillcrest, Riverside High.\n"
    )
    chart = tmp_path / "chart.png"
    args = ["report", "--school", "riverside  HIGH", "--period", PERIOD]
    assert main([*args, "--format", "csv", "--chart", str(chart)]) == 0
    out = capsys.readouterr()
    assert out.err == f"Chart written to {chart}\n"
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert [r["employer"] for r in rows] == ["All employers", "Acme Ltd", "Bright Labs"]
    overall, acme, bright = rows
    assert overall == {
        "employer": "All employers",
        "period_start": "2026-11-01",
        "period_end": "2026-11-20",
        "published": "2",
        "published_previous": "1",
        "reached": "2",
        "reached_previous": "1",
        "interests": "4",
        "interests_previous": "2",
        "reply_rate": "66.67",
        "reply_rate_previous": "100",
        "median_reply_hours": "15",
        "median_reply_hours_previous": "49",
        "invitations": "2",
        "invitations_previous": "1",
        "placements": "2",
        "placements_previous": "1",
        "hours_confirmed": "7.5",
        "hours_confirmed_previous": "5",
        "student_rating": "4.5",
        "student_rating_previous": "3",
        "supervisor_rating": "3.5",
        "supervisor_rating_previous": "",
    }
    # published, reached, interests, reply rate, median hours, invitations, placements, hours,
    # students' and supervisors' rating: each now and in the period before.
    assert list(acme.values())[3:] == [
        *("1", "1", "2", "1", "3", "1", "100", "100", "15", "96"),
        *("1", "1", "1", "1", "7", "5", "4.5", "3", "3.5", ""),
    ]
    assert list(bright.values())[3:] == [
        *("1", "0", "1", "0", "1", "1", "0", "100", "", "2"),
        *("1", "0", "1", "0", "0.5", "0", "", "", "", ""),
    ]
    assert png_size(chart.read_bytes()) == (900, 520)


def test_oppbot_report_as_markdown_for_one_employer(
    cli_database: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--school", "Hillcrest", "--employer", "acme ltd", "--period", PERIOD]
    assert main(args) == 0
    assert capsys.readouterr().out == (
        "# Partnership report: Hillcrest, Acme Ltd\n\n"
        "1 Nov 2026 to 20 Nov 2026 (20 days). In brackets: the 20 days before "
        "(12 Oct 2026 to 31 Oct 2026).\n\n"
        "| Employer | Published | Reached | Interests | Reply rate | Median reply | Invitations "
        "| Placements | Hours | Students' rating | Supervisors' rating |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| All employers | 1 (1) | 1 (0) | 1 (0) | 100% (–) | 2 hours (–) | 1 (0) | 1 (0) "
        "| 3.3 (0) | 1.0 (–) | – (–) |\n"
        "| Acme Ltd | 1 (1) | 1 (0) | 1 (0) | 100% (–) | 2 hours (–) | 1 (0) | 1 (0) "
        "| 3.3 (0) | 1.0 (–) | – (–) |\n"
    )
    assert main(["report", "--school", "Nowhere"]) == 2
    assert "No school called Nowhere." in capsys.readouterr().err
    assert main(["report", "--school", "Hillcrest", "--employer", "Nobody"]) == 2
    assert capsys.readouterr().err == "No employer called Nobody.\n"
    assert main(["report", "--school", "Hillcrest", "--period", "soon"]) == 2
    assert capsys.readouterr().err.startswith("I don't understand that period.")


@pytest.mark.parametrize(
    ("hours", "said"),
    [
        (0.001, "under a minute"),
        (1 / 60, "1 minute"),
        (0.5, "30 minutes"),
        (1, "1 hour"),
        (7.5, "7.5 hours"),
        (24, "1 day"),
        (60, "2.5 days"),
    ],
)
def test_reply_times_read_as_people_say_them(hours: float, said: str) -> None:
    assert fmt_duration(hours) == said


# --- Review fixes -----------------------------------------------------------------------------


def test_a_period_far_in_the_future_is_refused(core: Core, ids: Ids) -> None:
    tina = Chat(core, "tina")
    tina.send("/report 9999-12-30 9999-12-31")
    assert tina.text == "That period ends more than a year from now. Please choose nearer dates."


def test_the_cli_refuses_a_period_far_in_the_future(
    cli_database: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--school", "Riverside High", "--period", "9999-12-30 9999-12-31"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "That period ends more than a year from now. Please choose nearer dates.\n"
    )


def test_csv_cells_that_a_spreadsheet_would_run_are_kept_as_text(
    cli_database: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    names = ['=HYPERLINK("http://x.example","x")', "+1", "-2", "@SUM(A1)", "\tTab", "\rReturn"]
    with cli_database.begin() as s:
        for name in names:
            s.add(
                Opportunity(
                    organisation=Organisation(name=name, created_at=at(1, 1)),
                    kind=OpportunityKind.EVENT,
                    title="Open day",
                    published_at=at(11, 2),
                    created_at=at(11, 2),
                    updated_at=at(11, 2),
                )
            )
    args = ["report", "--school", "Riverside High", "--period", PERIOD, "--format", "csv"]
    assert main(args) == 0
    employers = [r["employer"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert sorted(employers) == sorted(
        ["All employers", "Acme Ltd", "Bright Labs", *("'" + name for name in names)]
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("reply_days 48 hours", "Median reply time: not measured yet, target within 2 days"),
        ("reply_days 2 days", "Median reply time: not measured yet, target within 2 days"),
        ("reply_days 36h", "Median reply time: not measured yet, target within 1.5 days"),
        ("reply within 3 days", "Median reply time: not measured yet, target within 3 days"),
        ("reply time 4 days", "Median reply time: not measured yet, target within 4 days"),
        ("Reply-time 12 hours", "Median reply time: not measured yet, target within 12 hours"),
        ("reply rate 80%", "Reply rate: not measured yet, target 80%"),
        ("reply_rate 75 percent", "Reply rate: not measured yet, target 75%"),
        ("hours 200 hours", "Hours confirmed: 0 of 200 hours"),
        ("hours 7.5", "Hours confirmed: 0 of 7.5 hours"),
        ("placements 5 for Made by Hand", "Placements, Made by Hand: 0 of 5 by 21 Feb 2027"),
        (
            "placements 5 for made by hand by 2027-01-31",
            "Placements, Made by Hand: 0 of 5 by 31 Jan 2027",
        ),
    ],
)
def test_objectives_as_people_say_them(
    core: Core, session_factory: sessionmaker[Session], args: str, says: str
) -> None:
    build_data(session_factory)
    with session_factory.begin() as s:
        s.add(Organisation(name="Made by Hand", created_at=at(1, 1)))
    tina = Chat(core, "tina")
    tina.send(f"/objective {args}")
    assert tina.text.startswith("Objective set"), tina.text
    assert says in tina.text, tina.text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("reply_rate 80 days", "Reply rate isn't measured in days. Try /objective reply_rate 80%."),
        ("placements 10%", "Placements isn't measured in %. Try /objective placements 10."),
        ("student_rating 4 hours", "Feedback from students isn't measured in hours."),
        ("reply_days 2 hours", "For median reply time, choose a target from 2.4 hours to 365 days"),
        ("hours 1000001", "For hours confirmed, choose a target from 1 hour to 1000000 hours."),
        ("placements -1", "For placements, choose a target from 1 to 10000."),
        ("placements 99999999999", "For placements, choose a target from 1 to 10000."),
        (
            "placements 2.5",
            "For placements, please give a whole number, like /objective placements",
        ),
        ("placements 5 by next week", "Set an objective like"),
    ],
)
def test_an_objective_in_the_wrong_unit_or_out_of_range_says_why(
    core: Core, session_factory: sessionmaker[Session], ids: Ids, args: str, says: str
) -> None:
    tina = Chat(core, "tina")
    tina.send(f"/objective {args}")
    assert tina.text.startswith(says), tina.text
    assert objective_count(session_factory) == 0


def test_report_and_objectives_follow_the_viewer_s_day(
    session_factory: sessionmaker[Session], ids: Ids
) -> None:
    # 03:00 UTC on the 24th is still the evening of the 23rd in Los Angeles.
    clock = FakeClock(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    core = Core(session_factory, build_registry(), clock=clock)
    riverside = ids.schools["Riverside High"]
    with session_factory.begin() as s:
        tina = s.get(Person, ids.people["Tina"])
        assert tina is not None
        tina.timezone = "America/Los_Angeles"
        o2 = s.scalar(select(Opportunity.id).where(Opportunity.title == "Design intern"))
        for who, when in (
            ("Ada", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)),  # 23 Nov, 18:00 there
            ("Ben", datetime(2026, 11, 23, 7, 30, tzinfo=UTC)),  # 22 Nov, 23:30 there
        ):
            s.add(
                Interest(
                    person_id=ids.people[who],
                    opportunity_id=o2,
                    school_id=riverside,
                    created_at=when,
                    updated_at=when,
                )
            )
    chat = Chat(core, "tina")
    chat.send("/report 1d")
    assert chat.text.startswith(
        "Partnership report for Riverside High, 23 Nov 2026 to 23 Nov 2026 (1 day). "
        "In brackets: the change since the day before."
    )
    assert "• Interests registered: 1 (no change)" in chat.text
    # Monday there, so this week is one day long.
    chat.send("/report this week")
    assert "23 Nov 2026 to 23 Nov 2026 (1 day)" in chat.text
    chat.send("/objective interests 5")
    assert chat.text.startswith("Objective set, from 23 Nov 2026 to 21 Feb 2027.")
    assert "Interests registered: 1 of 5" in chat.text


def test_the_cli_reports_in_the_school_s_time_zone(
    cli_database: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.cli.utcnow", lambda: datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    with cli_database.begin() as s:
        for tina in s.scalars(select(Person).where(Person.name == "Tina")):
            tina.timezone = "America/Los_Angeles"
    assert main(["report", "--school", "Riverside High", "--period", "1d"]) == 0
    assert "23 Nov 2026 to 23 Nov 2026 (1 day). In brackets: the day before" in (
        capsys.readouterr().out
    )
    # Hillcrest's teacher lives in UTC, where it is the 24th already.
    assert main(["report", "--school", "Hillcrest", "--period", "1d"]) == 0
    assert "24 Nov 2026 to 24 Nov 2026 (1 day)" in capsys.readouterr().out


def test_the_reply_rate_counts_only_interests_that_can_still_be_answered(
    session_factory: sessionmaker[Session], ids: Ids
) -> None:
    with session_factory.begin() as s:
        # Bright never answered Ada, who then withdrew; Acme answered Ben before he did.
        for key in ("ada-o3", "ben-o1"):
            row = s.get(Interest, ids.interests[key])
            assert row is not None
            row.status = InterestStatus.WITHDRAWN
    period = parse_period(PERIOD, TODAY)
    with session_factory() as session:
        [now] = compute(session, Scope(school_id=ids.schools["Riverside High"]), [period])
    bright, acme = now.of(ids.orgs["Bright Labs"]), now.of(ids.orgs["Acme Ltd"])
    assert (bright.answerable, bright.replied, bright.reply_rate) == (0, 0, None)
    assert (acme.answerable, acme.replied, acme.reply_rate) == (2, 2, 100)
    assert now.overall.reply_rate == 100


def test_a_student_who_deletes_their_data_still_counts_for_their_school(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    bob.press_payload(f"opp:{opportunity}")
    bob.press("I'm interested")
    bob.press("Send without a note")
    with session_factory() as session:
        school = session.scalar(select(School.id))
        view = session.scalars(select(OpportunityView)).one()
        interest = session.scalars(select(Interest)).one()
        assert view.school_id == interest.school_id == school is not None
    bob.send("/forget")
    bob.press("Yes, delete everything")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
        [now] = compute(session, Scope(school_id=school), [Period.last(1, clock.now.date())])
    assert (now.overall.reached, now.overall.interests) == (1, 1)
    # Withdrawn by leaving, unanswered: nothing the employer can still answer.
    assert now.overall.reply_rate is None


def test_an_objective_is_judged_as_it_is_shown() -> None:
    def line(metric: str, target: float, value: float) -> str:
        return progress_line(Objective(metric=metric, target=target), value)

    assert line("reply_days", 3, 3.04) == (
        "Median reply time: 3 days, target within 3 days: on track"
    )
    assert line("reply_days", 3, 3.06) == (
        "Median reply time: 3.1 days, target within 3 days: behind"
    )
    assert line("reply_rate", 80, 79.6) == "Reply rate: 80%, target 80%: on track"
    assert line("reply_rate", 80, 79.4) == "Reply rate: 79%, target 80%: behind"
    assert line("student_rating", 4, 3.96) == (
        "Feedback from students: 4.0 of 5, target 4.0 of 5: on track"
    )


def test_a_change_is_judged_as_it_is_shown() -> None:
    def hours_line(now: int, before: int) -> str:
        [line] = [
            text
            for text in figure_lines(Figures(minutes=now), Figures(minutes=before))
            if "Hours" in text
        ]
        return line

    assert hours_line(619, 620) == "• Hours confirmed: 10.3 (no change)"
    assert hours_line(618, 600) == "• Hours confirmed: 10.3 (up 0.3)"
    assert hours_line(600, 621) == "• Hours confirmed: 10 (down 0.3)"


def test_employers_without_the_school_s_students_share_one_line(
    core: Core, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    with session_factory.begin() as s:
        for n in range(5):
            org = Organisation(name=f"Company {n}", created_at=at(1, 1))
            for day in (2, 3) if n == 0 else (2,):
                s.add(
                    Opportunity(
                        organisation=org,
                        kind=OpportunityKind.EVENT,
                        title="Open day",
                        published_at=at(11, day),
                        created_at=at(11, day),
                        updated_at=at(11, day),
                    )
                )
            s.flush()
            if n == 4:
                # Seen by a Hillcrest student only: nothing Riverside's students did.
                opp = s.scalars(select(Opportunity).where(Opportunity.organisation == org)).one()
                s.add(
                    OpportunityView(
                        person_id=ids.people["Dee"],
                        opportunity_id=opp.id,
                        school_id=ids.schools["Hillcrest"],
                        first_seen_at=at(11, 4),
                    )
                )
    tina = Chat(core, "tina")
    [reply] = tina.send(f"/report {PERIOD}")
    overall = TINA_REPORT.split("\n\nAcme Ltd")[0].replace(
        "Opportunities published: 2 (up 1)", "Opportunities published: 8 (up 7)"
    )
    assert reply.text == (
        overall
        + "\n\nAcme Ltd"
        + TINA_REPORT.split("\n\nAcme Ltd")[1]
        + "\n\n5 other employers published 6 opportunities (up 6), with no students' activity yet."
    )
    tom = Chat(core, "tom")
    tom.send(f"/report {PERIOD}")
    assert "\n\nCompany 4\n• Opportunities published: 1 (up 1)\n• Students reached: 1" in tom.text
    # Bright Labs published, but no Hillcrest student did anything with it.
    assert "\n\n5 other employers published 6 opportunities (up 6)" in tom.text


def test_the_chart_names_the_busiest_employers_and_counts_the_rest() -> None:
    period = parse_period(PERIOD, TODAY)
    employers = [(f"Employer {n}", Figures(reached=n + 1), Figures()) for n in range(11)]
    report = Report(
        title="Riverside High",
        period=period,
        now=Breakdown(),
        before=Breakdown(),
        employers=employers,
        quiet=[],
        objectives=[],
        single=False,
    )
    data = chart_data(report)
    assert [name for name, _ in data.reply_times] == [f"Employer {n}" for n in range(3, 11)]
    assert data.more == 3
    assert png_size(render(data)) == (WIDTH, HEIGHT)
    # Leaving employers out costs the chart a line saying so.
    assert render(data) != render(replace(data, more=0))


def test_a_block_too_long_for_one_message_goes_on_at_a_line_s_end(
    session_factory: sessionmaker[Session], clock: FakeClock, ids: Ids
) -> None:
    narrow = Core(
        session_factory,
        build_registry(),
        clock=clock,
        capabilities={"console": Capabilities(max_text=150)},
    )
    replies = Chat(narrow, "tina").send(f"/report {PERIOD}")
    assert all(len(r.text) <= 150 for r in replies)
    sent = [line for r in replies for line in r.text.split("\n") if line]
    assert sent == [line for line in TINA_REPORT.split("\n") if line]
    # A single line longer than a message is cut, but nothing of it is lost.
    assert _pack(["a\n" + "x" * 25, "b"], 10) == ["a", "x" * 10, "x" * 10, "xxxxx\n\nb"]


def test_objectives_beyond_the_list_are_counted(
    core: Core, session_factory: sessionmaker[Session], ids: Ids
) -> None:
    with session_factory.begin() as s:
        for n in range(22):
            s.add(
                Objective(
                    school_id=ids.schools["Riverside High"],
                    metric="placements",
                    target=n + 1,
                    starts_on=TODAY,
                    ends_on=TODAY + timedelta(days=n + 1),
                    created_at=at(11, 23),
                )
            )
    tina = Chat(core, "tina")
    tina.send("/objectives")
    assert len(tina.buttons) == 20
    assert tina.text.endswith("\n…and 2 more, ending sooner. Remove some to see them.")


def test_a_report_of_one_day_and_an_empty_year_read_well(core: Core, ids: Ids) -> None:
    tina = Chat(core, "tina")
    tina.send("/report 2026-11-20 2026-11-20")
    assert tina.text.startswith(
        "Partnership report for Riverside High, 20 Nov 2026 to 20 Nov 2026 (1 day). "
        "In brackets: the change since the day before."
    )
    tina.send("/report 2001-01-01 2001-12-31")
    assert tina.text == (
        "Nothing to report for Riverside High from 1 Jan 2001 to 31 Dec 2001, nor in the 365 "
        "days before: no opportunities, views or interests yet."
    )


def test_the_cli_says_in_one_line_when_the_chart_cannot_be_written(
    cli_database: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "missing" / "chart.png"
    args = ["report", "--school", "Riverside High", "--period", PERIOD, "--chart", str(chart)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"Couldn't write the chart to {chart}: No such file or directory.\n"
