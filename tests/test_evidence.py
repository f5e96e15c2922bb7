"""Evidence of encounters with employers: recording, coverage per year group, nudges, each
student's record, exports and privacy."""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import build
from bot.cli import main
from bot.config import Settings
from bot.core import Core, Timing
from handlers import build_registry
from handlers.jobs import ask_attendance
from handlers.reports import csv_cell
from handlers.reports.encounters import school_year
from storage.db import make_engine, make_session_factory
from storage.models import (
    Account,
    Cohort,
    Encounter,
    EncounterKind,
    HoursEntry,
    HoursStatus,
    Interest,
    InterestStatus,
    Objective,
    OpportunityKind,
    Organisation,
    OutboxMessage,
    Person,
    Placement,
    Role,
    School,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    make_employer,
    onboard,
)

# A Wednesday in the school year 2026/27.
START = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    uma: Chat  # Year 11
    bob: Chat  # Year 11
    cat: Chat  # Year 11
    dee: Chat  # Year 10
    hal: Chat  # Year 11 at Hillside, another school
    tina: Chat  # teacher at Riverside High
    hugo: Chat  # teacher at Hillside
    maya: Chat  # employer, Acme Ltd

    def person(self, chat: Chat) -> Person:
        with self.factory() as session:
            account = session.scalars(select(Account).where(Account.external_id == chat.user))
            person = account.one().person
            assert person.cohort is not None  # loaded while the session is open
            return person

    def encounters(self) -> list[Encounter]:
        with self.factory() as session:
            return list(session.scalars(select(Encounter).order_by(Encounter.id)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    factory = session_factory
    add_school(factory, clock.now)
    add_school(factory, clock.now, school="Hillside", cohort="Year 11", code="HILL-11")
    with factory.begin() as session:
        riverside = session.scalars(select(School).where(School.name == "Riverside High")).one()
        session.add(
            Cohort(school=riverside, name="Year 10", join_code="RIVER-10", created_at=clock.now)
        )
    add_opportunity(factory, clock.now, organisation="Acme Ltd")
    chats = {}
    for user, name, code, grade in (
        ("uma", "Uma Shah", "RIVER-11", "11"),
        ("bob", "Bob Lee", "RIVER-11", "11"),
        ("cat", "Cat Green", "RIVER-11", "11"),
        ("dee", "Dee Kay", "RIVER-10", "10"),
        ("hal", "Hal Moor", "HILL-11", "11"),
    ):
        chats[user] = Chat(core, user, name=name)
        onboard(chats[user], code=code, grade=grade)
    tina = Chat(core, "tina", name="Tina")
    hugo = Chat(core, "hugo", name="Hugo")
    for chat, school in ((tina, "Riverside High"), (hugo, "Hillside")):
        join_with_invite(factory, clock.now, chat, Role.TEACHER)
        with factory.begin() as session:
            person = session.scalars(
                select(Person).join(Account).where(Account.external_id == chat.user)
            ).one()
            person.school_id = session.scalar(select(School.id).where(School.name == school))
    maya = Chat(core, "maya", name="Maya")
    make_employer(factory, clock.now, maya, "Acme Ltd")
    return World(core, factory, tina=tina, hugo=hugo, maya=maya, **chats)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def test_school_years_run_from_the_configured_first_day() -> None:
    year = school_year(date(2026, 8, 31))
    assert (year.start, year.end) == (date(2025, 9, 1), date(2026, 8, 31))
    year = school_year(date(2026, 9, 1))
    assert (year.start, year.end, year.label) == (date(2026, 9, 1), date(2027, 8, 31), "2026/27")
    assert school_year(date(2026, 9, 1)).previous().start == date(2025, 9, 1)
    # A school year that starts in April (Japan), and one that is the calendar year.
    april = school_year(date(2027, 3, 31), (4, 1))
    assert (april.start, april.end) == (date(2026, 4, 1), date(2027, 3, 31))
    calendar_year = school_year(date(2028, 2, 29), (1, 1))
    assert (calendar_year.start, calendar_year.end) == (date(2028, 1, 1), date(2028, 12, 31))


def test_school_year_start_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPPBOT_SCHOOL_YEAR_START", "04-01")
    assert Settings().timing().school_year_start == (4, 1)
    for bad in ("13-01", "02-30", "0901", "9-1", "02-29"):
        monkeypatch.setenv("OPPBOT_SCHOOL_YEAR_START", bad)
        with pytest.raises(ValidationError):
            Settings()


def test_a_teacher_records_a_class_in_one_step(world: World) -> None:
    world.tina.send("/record careers fair with acme ltd on 20 nov for year 11")
    # A careers fair is an encounter: only whether it was two-way is asked.
    assert "talk with the employer" in world.tina.text
    world.tina.press("They talked with them")
    assert "careers fair with Acme Ltd on 20 Nov 2026 as an encounter (two-way)" in world.tina.text
    assert "for 3 students" in world.tina.text
    assert world.encounters() == []
    world.tina.press("Save")
    assert "Recorded for 3 students" in world.tina.text
    rows = world.encounters()
    assert len(rows) == 3
    with world.factory() as session:
        acme = session.scalar(select(Organisation.id).where(Organisation.name == "Acme Ltd"))
    assert {(r.happened_on, r.kind, r.two_way, r.organisation_id, r.grade) for r in rows} == {
        (date(2026, 11, 20), EncounterKind.ENCOUNTER, True, acme, 11)
    }
    world.tina.press_payload("evs")  # Save pressed twice saves once.
    assert len(world.encounters()) == 3

    world.tina.send("/evidence")
    text = world.tina.text
    assert "Year 10: 1 student\n  with a meaningful encounter this school year: 0 of 1 (0%" in text
    assert (
        "Year 11: 3 students\n  with a meaningful encounter this school year: 3 of 3 (100%" in text
    )
    assert "target 100%" in text
    # Another school's teacher sees only their own students.
    world.hugo.send("/evidence")
    assert "Year 11: 1 student\n  with a meaningful encounter this school year: 0 of 1" in (
        world.hugo.text
    )
    assert "Year 10" not in world.hugo.text


def test_the_kind_is_asked_and_listening_only_is_not_meaningful(world: World) -> None:
    world.tina.send("/record robotics day with Nova Labs on yesterday for Uma Shah, bob")
    assert "workplace experience" in world.tina.text
    world.tina.press("Workplace experience")
    world.tina.press("Only listened")
    assert "1 Dec 2026 as a workplace experience (listening only) for 2 students" in (
        world.tina.text
    )
    assert "Uma Shah (Year 11)" in world.tina.text and "Bob Lee (Year 11)" in world.tina.text
    world.tina.press("Save")
    rows = world.encounters()
    assert [(r.organisation_id, r.organisation_name) for r in rows] == [(None, "Nova Labs")] * 2
    world.tina.send("/evidence Year 11")
    text = world.tina.text
    assert "with a meaningful encounter this school year: 0 of 3" in text
    assert "with a workplace experience this school year or last: 2 of 3 (67%" in text
    assert (
        text.split("no workplace experience this school year or last yet:")[1].count("Cat Green")
        == 1
    )
    assert "Uma Shah" in text.split("no meaningful encounter this school year yet:")[1]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/record fair on 2027-01-10 for Year 11", "hasn't come yet"),
        ("/record fair for Year 9", "No students in Year 9"),
        ("/record fair for Hal Moor", "No class, year group or student"),
        ("/record fair on 31 feb for Year 11", "no such date"),
        ("/record talk for Zed", "No class, year group or student"),
    ],
)
def test_bad_records_are_refused_and_change_nothing(
    world: World, command: str, answer: str
) -> None:
    world.tina.send(command)
    assert answer in world.tina.text
    world.tina.press_payload("evs")
    assert "Nothing is waiting" in world.tina.text
    assert world.encounters() == []


def test_a_namesake_must_be_told_apart(world: World, core: Core) -> None:
    other = Chat(core, "uma2", name="Uma Shaw")
    onboard(other, grade="11")
    world.tina.send("/record talk for uma")
    assert "could be several students" in world.tina.text
    world.tina.send("/record talk for Uma Shaw")
    world.tina.press("They talked")
    assert "for 1 student: Uma Shaw (Year 11)?" in world.tina.text


def _place(world: World, chat: Chat, kind: OpportunityKind, start: date) -> int:
    opportunity = add_opportunity(
        world.factory, START, title=f"{kind.value} at Acme", organisation="Acme Ltd", kind=kind
    )
    student = world.person(chat)
    with world.factory.begin() as session:
        interest = Interest(
            person_id=student.id,
            opportunity_id=opportunity,
            school_id=student.cohort.school_id if student.cohort else None,
            status=InterestStatus.PLACED,
            created_at=START,
            updated_at=START,
        )
        placement = Placement(
            interest=interest,
            student_id=student.id,
            organisation_id=session.scalar(
                select(Organisation.id).where(Organisation.name == "Acme Ltd")
            ),
            school_id=interest.school_id,
            start_date=start,
            end_date=start + timedelta(days=5),
            created_at=START,
            updated_at=START,
        )
        session.add(placement)
        session.add(
            HoursEntry(
                placement=placement,
                work_date=start,
                minutes=150,
                status=HoursStatus.CONFIRMED,
                logged_at=START,
            )
        )
        session.flush()
        return placement.id


def test_placements_count_by_themselves(world: World) -> None:
    _place(world, world.bob, OpportunityKind.INTERNSHIP, date(2026, 11, 2))
    # Not started yet: no experience so far.
    _place(world, world.cat, OpportunityKind.JOB_SHADOWING, date(2026, 12, 10))
    # Mentoring is an encounter, not an experience of a workplace.
    _place(world, world.uma, OpportunityKind.MENTORING, date(2026, 10, 1))
    world.tina.send("/evidence 11")
    text = world.tina.text
    assert "with a meaningful encounter this school year: 2 of 3" in text
    assert "with a workplace experience this school year or last: 1 of 3" in text
    world.tina.send("/record bob lee")
    record = world.tina.text
    assert "2 Nov 2026: internship with Acme Ltd (workplace experience, placement)" in record
    assert "2.5 hours confirmed" in record
    assert "✓ Has a workplace experience" in record
    # Changing the placement's dates changes the evidence: nothing was copied.
    with world.factory.begin() as session:
        for placement in session.scalars(select(Placement)):
            placement.start_date = date(2027, 1, 5)
    world.tina.send("/evidence 11")
    assert "with a workplace experience this school year or last: 0 of 3" in world.tina.text


def test_a_nudge_reaches_only_the_students_without_an_encounter(world: World) -> None:
    world.tina.send("/record workshop for Uma Shah")
    world.tina.press("They talked")
    world.tina.press("Save")
    world.tina.send("/evidence 11")
    world.tina.press("Nudge 2 with no encounter")
    assert "To 2 students (the students chosen from /evidence)" in world.tina.text
    world.tina.press("Write my own text")
    world.tina.send("Acme's open day is on Friday: /browse")
    assert "Acme's open day is on Friday" in world.tina.text
    world.tina.press("Send now, even in quiet hours")
    assert "Sending as urgent to 2 students" in world.tina.text
    for chat, expected in ((world.bob, 1), (world.cat, 1), (world.uma, 0), (world.dee, 0)):
        assert len(inbox(world.factory, chat, "announcement")) == expected, chat.user
    assert len(inbox(world.factory, world.hal, "announcement")) == 0


def test_teachers_see_only_their_schools_records(world: World) -> None:
    hal = world.person(world.hal)
    world.tina.press_payload(f"evr:{hal.id}")
    assert "can't find that student at your school" in world.tina.text
    world.hugo.press_payload(f"evr:{hal.id}")
    assert "Hal Moor (Year 11):" in world.hugo.text


def test_employers_see_no_evidence(world: World) -> None:
    uma = world.person(world.uma)
    for command in ("/evidence", "/record Uma", "/record fair for Year 11"):
        world.maya.send(command)
        assert "only for" in world.maya.text
    world.maya.press_payload(f"evr:{uma.id}")
    assert "only for" in world.maya.text


def test_a_student_sees_confirms_and_downloads_their_record(world: World) -> None:
    world.tina.send("/record careers fair with Acme Ltd on 20 nov for Year 11")
    world.tina.press("They talked")
    world.tina.press("Save")
    event = add_opportunity(
        world.factory,
        START,
        title="Open day",
        organisation="Acme Ltd",
        kind=OpportunityKind.EVENT,
        start_date=date(2026, 11, 28),
    )
    uma = world.person(world.uma)
    with world.factory.begin() as session:
        session.add(
            Interest(
                person_id=uma.id,
                opportunity_id=event,
                school_id=uma.cohort.school_id if uma.cohort else None,
                status=InterestStatus.INVITED,
                created_at=START,
                updated_at=START,
            )
        )
    world.uma.send("/record")
    assert "20 Nov 2026: careers fair with Acme Ltd" in world.uma.text
    assert "Did you go?" in world.uma.text and "Open day — Acme Ltd" in world.uma.text
    world.uma.press("I went")
    assert "28 Nov 2026: Open day with Acme Ltd (encounter, two-way, you went)" in world.uma.text
    assert "Did you go?" not in world.uma.text
    world.uma.press_payload("evw:999999")
    assert "isn't one of your events" in world.uma.text
    world.uma.send("/record")
    world.uma.press("Download as a file")
    file = world.uma.replies[0].file
    assert file is not None and file.filename == "my-experiences.txt"
    content = file.content.decode()
    assert "Uma Shah" in content and "28 Nov 2026: Open day with Acme Ltd" in content
    assert "✓ You have a meaningful encounter this school year" in content
    world.uma.send("/mydata")
    assert "20 Nov 2026: careers fair with Acme Ltd" in world.uma.text


def test_forget_keeps_anonymous_counts(world: World) -> None:
    world.tina.send("/record careers fair for Year 11")
    world.tina.press("They talked")
    world.tina.press("Save")
    with world.factory.begin() as session:
        session.execute(Encounter.__table__.update().values(notes="asked about apprenticeships"))
    uma = world.person(world.uma)
    world.uma.send("/forget")
    world.uma.press("Yes, delete everything")
    rows = world.encounters()
    assert len(rows) == 3
    gone = [r for r in rows if r.student_id is None]
    assert len(gone) == 1 and gone[0].notes is None and gone[0].grade == 11
    assert all(r.student_id != uma.id for r in rows)
    world.tina.send("/evidence 11")
    assert "Year 11: 2 students" in world.tina.text


def test_the_csv_has_a_row_per_student_and_guards_formulas(world: World, core: Core) -> None:
    sneaky = Chat(core, "sneaky", name="Sneaky Smith")
    onboard(sneaky, grade="11")
    # Onboarding refuses such a name, but a name from before it checked, or from a platform's
    # profile, may look like a formula to a spreadsheet.
    with world.factory.begin() as session:
        person = session.scalars(
            select(Person).join(Account).where(Account.external_id == "sneaky")
        ).one()
        person.name = "=HYPERLINK(1)"
    world.tina.send("/record site visit with Acme Ltd for Year 11")
    world.tina.press("They talked")
    world.tina.press("Save")
    world.tina.send("/evidence")
    world.tina.press("Download (CSV)")
    file = world.tina.replies[0].file
    assert file is not None and file.mime == "text/csv"
    text = file.content.decode()
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5  # every student of the school, one row each
    by_name = {r["first_name"]: r for r in rows}
    assert "'=HYPERLINK(1)" in by_name
    assert by_name["Uma"]["workplace_experiences"] == "1"
    assert by_name["Uma"]["encounter_target_met"] == "yes"
    assert by_name["Dee"]["encounter_target_met"] == "no"
    assert by_name["Dee"]["year_group"] == "10"
    assert by_name["Uma"]["school_year_start"] == "2026-09-01"


def test_the_command_line_prints_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["evidence", "--school", "riverside high"]) == 0
    out = capsys.readouterr().out
    assert "| Year 11 | 4 |" in out and "Dan Okoro (Year 11)" in out
    assert main(["evidence", "--format", "csv", "--year-group", "11"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["first_name"] for r in rows} == {"Ava", "Ben", "Chloe", "Dan"}
    assert main(["evidence", "--format", "csv", "--long"]) == 0
    long_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["activity"] for r in long_rows} >= {"careers fair", "site visit", "internship"}
    assert main(["evidence", "--school", "Nowhere"]) == 2


def test_a_school_without_students_has_no_coverage(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    core = Core(session_factory, build_registry(), clock=clock)
    add_school(session_factory, clock.now)
    tina = Chat(core, "tina", name="Tina")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    tina.send("/evidence")
    assert "No students" in tina.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Encounter)) == 0


# --- Objectives on the coverage ---------------------------------------------------------------


def _objectives(world: World) -> list[tuple[str, int | None, float, date]]:
    with world.factory() as session:
        return [
            (o.metric, o.grade, o.target, o.ends_on)
            for o in session.scalars(select(Objective).order_by(Objective.id))
        ]


def test_coverage_objectives_show_their_progress(world: World) -> None:
    world.tina.send("/objective 90% of Year 11 with a workplace experience by July")
    assert world.tina.text == (
        "Objective set, from 2 Dec 2026 to 31 Jul 2027. So far:\n"
        "Year 11 with a workplace experience: 0% of 90% by 31 Jul 2027\n\n"
        "See them all with /objectives."
    )
    # A workplace visit for two of the three, where they only listened.
    world.tina.send("/record robotics day with Nova Labs on yesterday for Uma Shah, bob")
    world.tina.press("Workplace experience")
    world.tina.press("Only listened")
    world.tina.press("Save")
    world.tina.send("/objective 100% of Year 11 with an encounter by 2027-07-15")
    assert "Year 11 with an encounter: 67% of 100% by 15 Jul 2027" in world.tina.text
    # Without a date: the school year's last day.
    world.tina.send("/objective 50 percent of year 11 with meaningful encounters")
    assert "Year 11 with a meaningful encounter: 0% of 50% by 31 Aug 2027" in world.tina.text
    world.tina.send("/objective 100% of Y10 with an employer encounter by end of December")
    assert "Year 10 with an encounter: 0% of 100% by 31 Dec 2026" in world.tina.text
    world.tina.send("/objectives")
    text = world.tina.text
    assert "Year 11 with a workplace experience: 67% of 90% by 31 Jul 2027" in text
    assert "Year 11 with an encounter: 67% of 100% by 15 Jul 2027" in text
    assert "Year 11 with a meaningful encounter: 0% of 50% by 31 Aug 2027" in text
    assert "Year 10 with an encounter: 0% of 100% by 31 Dec 2026" in text
    # Setting the same aim again changes it.
    world.tina.send("/objective 60% of Year 11 with a workplace experience by june")
    assert world.tina.text.startswith("Objective updated, from 2 Dec 2026 to 30 Jun 2027.")
    assert "Year 11 with a workplace experience: 67% of 60% by 30 Jun 2027 (reached)" in (
        world.tina.text
    )
    assert len(_objectives(world)) == 4
    assert ("workplace_experience", 11, 60.0, date(2027, 6, 30)) in _objectives(world)
    # The partnership report shows them beside the other objectives.
    world.tina.send("/objective placements 10")
    world.tina.send("/report")
    report = "\n".join(r.text for r in world.tina.replies)
    objectives = report.split("Objectives\n")[1]
    assert "• Year 11 with a workplace experience: 67% of 60% by 30 Jun 2027 (reached)" in (
        objectives
    )
    assert "• Year 10 with an encounter: 0% of 100% by 31 Dec 2026" in objectives
    assert "• Placements: 0 of 10" in objectives
    # Acme's own report shows none of the school's coverage.
    world.maya.send("/report")
    assert "Year 11" not in "\n".join(r.text for r in world.maya.replies)
    # Removing one says which.
    world.tina.send("/objectives")
    first = next(b for row in world.tina.replies[0].buttons for b in row if b.label == "Remove 1")
    world.tina.press_payload(first.payload)
    assert world.tina.text.startswith("Removed the objective: Year ")


def test_coverage_progress_is_of_the_objectives_last_day_once_past(
    world: World, clock: FakeClock
) -> None:
    world.tina.send("/objective 50% of Year 11 with an encounter by 2026-12-10")
    clock.advance(days=10)
    world.tina.send("/record workshop on 2026-12-11 for Year 11")
    world.tina.press("They talked")
    world.tina.press("Save")
    clock.advance(days=1)
    world.tina.send("/objectives")
    # The workshop came after the objective's last day: it doesn't count for it.
    assert "Year 11 with an encounter: 0% of 50% by 10 Dec 2026" in world.tina.text


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ("150% of Year 11 with an encounter", "Choose a share from 1% to 100% of the year group."),
        ("0% of Year 11 with an encounter", "Choose a share from 1% to 100%"),
        ("90% of Year 9 with an encounter", "Year 9 has no students at your school yet."),
        ("90% of Year 11 with a picnic", "I can't count picnic."),
        ("90% of Class B with an encounter", "Say the year group by its number"),
        ("90% of Year 11", "Or a share of a year group this school year: /objective 90%"),
        (
            "90% of Year 11 with an encounter by September",
            "That's after this school year, which ends on 31 Aug 2027",
        ),
        (
            "90% of Year 11 with an encounter by 2027-09-01",
            "That's after this school year, which ends on 31 Aug 2027",
        ),
        ("90% of Year 11 with an encounter by 2026-11-30", "That date has passed."),
        ("90% of Year 11 with an encounter by someday", "Or a month, like by July."),
    ],
)
def test_coverage_objectives_that_make_no_sense_are_refused(
    world: World, args: str, answer: str
) -> None:
    world.tina.send(f"/objective {args}")
    assert answer in world.tina.text
    assert _objectives(world) == []


def test_coverage_objectives_stay_within_the_school(world: World) -> None:
    # Hillside has no Year 10: Riverside's students are not Hillside's.
    world.hugo.send("/objective 90% of Year 10 with an encounter")
    assert "Year 10 has no students at your school yet." in world.hugo.text
    world.hugo.send("/objective 90% of Year 11 with an encounter")
    assert "Year 11 with an encounter: 0% of 90%" in world.hugo.text
    world.tina.send("/objectives")
    assert "has no objectives yet" in world.tina.text
    world.maya.send("/objective 90% of Year 11 with an encounter")
    assert "only for" in world.maya.text
    assert [(m, g) for m, g, _, _ in _objectives(world)] == [("encounter", 11)]


def test_oppbot_report_shows_coverage_objectives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPPBOT_DATABASE_URL", url)
    assert main(["demo"]) == 0
    factory = build(Settings(database_url=url)).session_factory
    with factory.begin() as session:
        school = session.scalars(select(School).where(School.name == "Riverside High")).one()
        session.add(
            Objective(
                school_id=school.id,
                metric="workplace_experience",
                grade=11,
                target=90,
                starts_on=date(2000, 1, 1),
                ends_on=date(2100, 1, 1),
                created_at=START,
            )
        )
    capsys.readouterr()
    assert main(["report", "--school", "riverside high"]) == 0
    out = capsys.readouterr().out
    line = r"^- Year 11 with a workplace experience: \d+% of 90% by 1 Jan 2100"
    assert re.search(line, out, re.MULTILINE)


def test_the_csv_guard_is_public() -> None:
    assert [csv_cell(t) for t in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx", "Acme", "")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@A1",
        "'\tx",
        "'\rx",
        "Acme",
        "",
    ]


# --- "Did you go?" ----------------------------------------------------------------------------


def _invite(world: World, chat: Chat, kind: OpportunityKind, day: date, title: str) -> int:
    event = add_opportunity(
        world.factory, START, title=title, organisation="Acme Ltd", kind=kind, start_date=day
    )
    student = world.person(chat)
    with world.factory.begin() as session:
        interest = Interest(
            person_id=student.id,
            opportunity_id=event,
            school_id=student.cohort.school_id if student.cohort else None,
            status=InterestStatus.INVITED,
            created_at=START,
            updated_at=START,
        )
        session.add(interest)
        session.flush()
        return interest.id


def _ask(world: World, now: datetime) -> int:
    return ask_attendance(world.factory, now, Timing())


def test_did_you_go_is_asked_once_after_the_day_where_the_student_lives(world: World) -> None:
    with world.factory.begin() as session:
        for account in session.scalars(select(Account).where(Account.external_id == "uma")):
            account.person.timezone = "Pacific/Auckland"  # UTC+13 in December
    uma_day = _invite(world, world.uma, OpportunityKind.EVENT, date(2026, 12, 1), "Open day")
    _invite(world, world.bob, OpportunityKind.SITE_VISIT, date(2026, 12, 1), "Lab visit")
    # Long past when first seen, or only interested (not invited): never asked.
    _invite(world, world.cat, OpportunityKind.EVENT, date(2026, 11, 1), "Old fair")
    with world.factory.begin() as session:
        dee = world.person(world.dee)
        session.add(
            Interest(
                person_id=dee.id,
                opportunity_id=add_opportunity(
                    world.factory,
                    START,
                    title="Talk",
                    kind=OpportunityKind.EVENT,
                    start_date=date(2026, 12, 1),
                ),
                school_id=dee.cohort.school_id if dee.cohort else None,
                status=InterestStatus.INTERESTED,
                created_at=START,
                updated_at=START,
            )
        )
    # Noon on 1 Dec in UTC: 1am on the 2nd in Auckland, so Uma's day is over, Bob's is not.
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert _ask(world, noon) == 1
    [(text, buttons)] = inbox(world.factory, world.uma, "attendance")
    assert text.startswith("Did you go to Open day with Acme Ltd on 1 Dec 2026?")
    assert [b.label for b in buttons] == ["Yes, I went", "No"]
    with world.factory() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "attendance")).one()
        # 1am is in Uma's quiet hours: it waits for 8am in Auckland (19:00 UTC).
        assert row.next_attempt_at == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    assert inbox(world.factory, world.bob, "attendance") == []
    assert _ask(world, noon) == 0  # asked once
    assert _ask(world, datetime(2026, 12, 2, 9, 0, tzinfo=UTC)) == 1
    assert len(inbox(world.factory, world.bob, "attendance")) == 1
    assert _ask(world, datetime(2026, 12, 3, 9, 0, tzinfo=UTC)) == 0
    for chat in (world.uma, world.cat, world.dee):
        assert len(inbox(world.factory, chat, "attendance")) == (chat is world.uma)

    # Yes records it, as "I went" in /record does; a second press changes nothing.
    world.uma.press_payload(buttons[0].payload)
    assert world.uma.text.startswith("Great: Open day with Acme Ltd is on your record now.")
    world.uma.press_payload(buttons[0].payload)
    assert "already on your record" in world.uma.text
    [encounter] = world.encounters()
    assert (encounter.interest_id, encounter.happened_on, encounter.two_way) == (
        uma_day,
        date(2026, 12, 1),
        True,
    )
    assert encounter.recorded_by_id is None
    world.uma.send("/record")
    assert "1 Dec 2026: Open day with Acme Ltd (encounter, two-way, you went)" in world.uma.text
    # Another student can't answer for her.
    world.bob.press_payload(f"eva:{uma_day}:y")
    assert "isn't one of your events" in world.bob.text

    # No keeps it off the record and out of /record's question; a later Yes still counts.
    [(_, bob_buttons)] = inbox(world.factory, world.bob, "attendance")
    world.bob.press_payload(bob_buttons[1].payload)
    assert "Lab visit stays off your record" in world.bob.text
    world.bob.send("/record")
    assert "Did you go?" not in world.bob.text
    assert len(world.encounters()) == 1
    world.bob.press_payload(bob_buttons[0].payload)
    assert "Lab visit with Acme Ltd is on your record now" in world.bob.text
    kinds = {e.student_id: e.kind for e in world.encounters()}
    assert kinds[world.person(world.bob).id] == EncounterKind.WORKPLACE
    world.bob.press_payload(f"eva:{uma_day}:maybe")
    assert "earlier message" in world.bob.text


def test_two_workers_ask_each_student_once(db_url: str, world: World) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; SQLite supports one process")
    event = add_opportunity(
        world.factory,
        START,
        title="Open day",
        kind=OpportunityKind.EVENT,
        start_date=date(2026, 12, 1),
    )
    with world.factory.begin() as session:
        cohort = session.scalars(select(Cohort).where(Cohort.join_code == "RIVER-11")).one()
        for n in range(45):
            student = Person(
                name=f"Student {n}", role=Role.STUDENT, cohort=cohort, grade=11, created_at=START
            )
            session.add(
                Account(
                    person=student,
                    platform="console",
                    external_id=f"s{n}",
                    chat_id=f"s{n}",
                    last_seen_at=START,
                    created_at=START,
                )
            )
            session.add(
                Interest(
                    person=student,
                    opportunity_id=event,
                    school_id=cohort.school_id,
                    status=InterestStatus.INVITED,
                    created_at=START,
                    updated_at=START,
                )
            )
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            results.append(ask_attendance(make_session_factory(engine), START, Timing(), batch=7))
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 45
    with world.factory() as session:
        keys = session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "attendance")
        ).all()
        unasked = session.scalar(
            select(func.count()).select_from(Interest).where(Interest.attendance_asked_at.is_(None))
        )
    assert len(keys) == len(set(keys)) == 45
    assert unasked == 0
