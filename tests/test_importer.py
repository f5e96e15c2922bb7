"""The opportunity importer: real listings, CSV rows good and bad, re-imports."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.listings.importer import ImportReport, import_file
from storage.models import (
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
)
from tests.conftest import FakeClock

# Real listings, written by someone else (see tests/data/README.md).
LISTINGS = Path(__file__).parent / "data" / "internship-listings-sample.json"

HEADER = (
    "External ID,title,organisation,kind,description,location,remote,paid,start_date,end_date,"
    "deadline,spots,tags,url,min_age,min_grade,max_grade,status"
)
GOOD_ROW = (
    'ACME-1,Robotics summer internship,Acme  Robotics,Job Shadowing,"Build robots, test them.",'
    "Leeds,yes,no,2027-07-01,2027-07-31,2027-05-01,4,engineering; Technology & IT,"
    "https://acme.example/jobs/1,16,10,13,open"
)


def count(session_factory: sessionmaker[Session], model: type[object]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def opportunity(session_factory: sessionmaker[Session], external_id: str) -> Opportunity:
    with session_factory() as session:
        found = session.scalars(
            select(Opportunity).where(Opportunity.external_id == external_id)
        ).one()
        # Touch what the tests read, so that it is loaded before the session closes.
        _ = found.organisation.name, found.tag_names
        return found


def write_csv(tmp_path: Path, *lines: str, name: str = "opportunities.csv") -> Path:
    path = tmp_path / name
    # Spreadsheets save "CSV UTF-8" with a byte-order mark.
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def test_real_listings_import_then_reimport_changes_nothing(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    first_import = clock.now
    report = import_file(session_factory, LISTINGS, now=clock.now)

    assert (report.created, report.updated, report.unchanged) == (302, 0, 0)
    # The file repeats two ids; the later listing of each is the one kept.
    assert report.skipped == [
        (
            7,
            "id '93daaebb-7a2b-49d3-ad4a-3f1af4aeb043' is repeated in row 8, "
            "which was imported instead",
        ),
        (
            18,
            "id '9108e1a7-944c-437a-9eee-142aa4cc6784' is repeated in row 19, "
            "which was imported instead",
        ),
    ]
    assert report.summary().splitlines()[0] == (
        "302 opportunities: 302 created, 0 updated, 0 unchanged; 2 rows skipped"
    )
    assert count(session_factory, Opportunity) == 302
    # 235 distinct names in the file, and one company appears only in a listing that a
    # repeated id replaced.
    assert count(session_factory, Organisation) == 234
    assert count(session_factory, OpportunityTag) == 425
    with session_factory() as session:
        by_status = select(Opportunity.status, func.count()).group_by(Opportunity.status)
        statuses = {status: n for status, n in session.execute(by_status)}
        assert statuses == {OpportunityStatus.OPEN: 45, OpportunityStatus.CLOSED: 257}
        assert session.scalar(select(func.count()).where(Opportunity.remote.is_(True))) == 32

    records = json.loads(LISTINGS.read_text())
    first = opportunity(session_factory, records[0]["id"])
    assert records[0]["title"] == "Product Development Intern "
    assert first.title == "Product Development Intern"
    assert first.tag_names == ["business"]
    assert first.kind == OpportunityKind.INTERNSHIP
    assert first.paid is None and first.deadline is None
    assert first.published_at == datetime.fromtimestamp(records[0]["date_posted"], UTC)
    assert first.created_at == first.updated_at == first_import
    assert first.description == "Terms: Summer 2024. Sponsorship: Does Not Offer Sponsorship."

    assert records[45]["locations"] == ["Remote"]
    remote = opportunity(session_factory, records[45]["id"])
    assert (remote.organisation.name, remote.location, remote.remote) == ("WhatNot", "Remote", True)

    repeated = opportunity(session_factory, "93daaebb-7a2b-49d3-ad4a-3f1af4aeb043")
    assert (repeated.organisation.name, repeated.title) == (
        "Infineon",
        "Software Automation Engineer Intern",
    )
    assert repeated.location == "Andover, MA; Warwick, RI"
    assert repeated.status == OpportunityStatus.CLOSED

    # A listing with 65 places keeps whole place names and says how many it left out.
    with session_factory() as session:
        longest = session.scalars(
            select(Opportunity.location).order_by(func.length(Opportunity.location).desc())
        ).first()
    assert longest is not None and len(longest) <= 300 and longest.endswith("; and 47 more")

    clock.advance(days=1)
    again = import_file(session_factory, LISTINGS, now=clock.now)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 302)
    assert [number for number, _ in again.skipped] == [7, 18]
    assert count(session_factory, Opportunity) == 302
    assert count(session_factory, Organisation) == 234
    assert count(session_factory, OpportunityTag) == 425
    assert opportunity(session_factory, records[0]["id"]).updated_at == first_import


def test_csv_imports_good_rows_and_reports_each_bad_row(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        GOOD_ROW,  # row 2
        # Row 3 spans two lines of the file: numbers follow rows, not lines.
        'ACME-2,Visit our data centre,Acme Robotics,site visit,"Meet the team.\nSee servers.",'
        ",,,,,,,,,,,,",
        ",,,,,,,,,,,,,,,,,",  # row 4: empty, ignored
        "ACME-3,,Acme Robotics,,,,,,,,,,,,,,,",  # row 5
        "ACME-4,Lab day,Acme Robotics,,,,,,,,soon,,,,,,,",  # row 6
        "ACME-5,Lab week,Acme Robotics,,,,,,2027-07-10,2027-07-01,,lots,,,,,,",  # row 7
        "ACME-6,Apprentice,Acme Robotics,apprenticeship,,,,,,,,,sports,,,,,",  # row 8
        f"ACME-7,{'x' * 201},Acme Robotics,,,,maybe,,,,,0,,www.acme.example,9,,,",  # row 9
        "ACME-8,Too many,Acme Robotics,,,,,,,,,,,,,,,,extra",  # row 10
        "ACME-9,Mentor chats,Acme Robotics,mentoring,,,,,,,,,,,,12,9,hidden",  # row 11
        "ACME-10,First version,Beta Co,,,,,,,,,,,,,,,",  # row 12
        "ACME-10,Second version,Beta Co,co-op,,,,,,,,,,,,,,draft",  # row 13
    )

    report = import_file(session_factory, path, now=clock.now)

    # The problems are the opportunity schema's, as /publish and /edit word them.
    assert report.skipped == [
        (5, "The title is missing."),
        (6, "Please type the deadline as YYYY-MM-DD, like 2027-02-28."),
        (
            7,
            "The end date is before the start date. "
            "Please type the number of places as a whole number from 1 to 10000.",
        ),
        (
            8,
            "The kind must be one of: internship, job shadowing, co-op placement, mentoring, "
            "site visit, event. I don't know the field 'sports'. Choose from: technology, "
            "engineering, science, health, business, creative, trades, education, hospitality, "
            "public.",
        ),
        (
            9,
            "Please keep the title to 200 characters or fewer (it has 201). "
            "Can students take part remotely? Please answer yes or no. "
            "Please type the number of places as a whole number from 1 to 10000. "
            "Please type the web address in full, like https://example.org. "
            "Please type the minimum age as a whole number from 10 to 25.",
        ),
        (
            10,
            "has 19 values but the header names 18 columns "
            "(a value with a comma in it needs quotes)",
        ),
        (
            11,
            "The highest grade is below the lowest grade. "
            "The status must be one of: open, closed, draft, pending.",
        ),
        (12, "external_id 'ACME-10' is repeated in row 13, which was imported instead"),
    ]
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert report.summary().splitlines()[:2] == [
        "3 opportunities: 3 created, 0 updated, 0 unchanged; 8 rows skipped",
        "row 5: The title is missing.",
    ]

    full = opportunity(session_factory, "ACME-1")
    assert full.source == "csv"
    assert full.organisation.name == "Acme Robotics"
    assert full.kind == OpportunityKind.JOB_SHADOWING
    assert full.title == "Robotics summer internship"
    assert full.description == "Build robots, test them."
    assert (full.location, full.remote, full.paid) == ("Leeds", True, False)
    assert (full.start_date, full.end_date, full.deadline) == (
        date(2027, 7, 1),
        date(2027, 7, 31),
        date(2027, 5, 1),
    )
    assert (full.spots, full.min_age, full.min_grade, full.max_grade) == (4, 16, 10, 13)
    assert full.url == "https://acme.example/jobs/1"
    assert full.tag_names == ["engineering", "technology"]
    assert full.status == OpportunityStatus.OPEN
    assert full.published_at == full.created_at == clock.now

    minimal = opportunity(session_factory, "ACME-2")
    assert minimal.kind == OpportunityKind.SITE_VISIT
    assert minimal.description == "Meet the team.\nSee servers."
    assert (minimal.location, minimal.remote, minimal.paid, minimal.url) == ("", False, None, None)
    assert minimal.status == OpportunityStatus.OPEN
    # No tags column value: derived from the title ("data").
    assert minimal.tag_names == ["technology"]

    draft = opportunity(session_factory, "ACME-10")
    assert (draft.title, draft.kind, draft.status) == (
        "Second version",
        OpportunityKind.COOP,
        OpportunityStatus.DRAFT,
    )
    assert draft.published_at is None
    assert count(session_factory, Organisation) == 2


def test_editing_a_csv_row_updates_that_opportunity(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    other = "ACME-2,Visit our data centre,Acme Robotics,site visit,,,,,,,,,,,,,,"
    first_import = clock.now
    import_file(session_factory, write_csv(tmp_path, HEADER, GOOD_ROW, other), now=clock.now)
    before = opportunity(session_factory, "ACME-1")

    clock.advance(hours=2)
    edited_at = clock.now
    edited = GOOD_ROW.replace("Robotics summer internship", "Robotics internship").replace(
        "engineering; Technology & IT", "engineering;science"
    )
    edited = edited.removesuffix(",open") + ",closed"
    report = import_file(session_factory, write_csv(tmp_path, HEADER, edited, other), now=clock.now)

    assert (report.created, report.updated, report.unchanged, report.skipped) == (0, 1, 1, [])
    after = opportunity(session_factory, "ACME-1")
    assert after.id == before.id
    assert after.title == "Robotics internship"
    assert after.tag_names == ["engineering", "science"]
    assert after.status == OpportunityStatus.CLOSED
    assert after.created_at == first_import
    assert after.updated_at == edited_at == clock.now
    assert count(session_factory, Opportunity) == 2
    assert count(session_factory, OpportunityTag) == 3

    clock.advance(hours=2)
    same = import_file(session_factory, write_csv(tmp_path, HEADER, edited, other), now=clock.now)
    assert (same.created, same.updated, same.unchanged) == (0, 0, 2)
    assert opportunity(session_factory, "ACME-1").updated_at == edited_at


def test_csv_header_may_use_semicolons_any_order_and_only_required_columns(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, "Title;Organisation;external_id", "Café tour;Bistro Ltd;B-1")
    report = import_file(session_factory, path, now=clock.now)
    assert (report.created, report.skipped) == (1, [])
    assert opportunity(session_factory, "B-1").title == "Café tour"


def test_a_file_without_kinds_takes_the_kind_its_titles_say(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "external_id,title,organisation,kind",
        "K-1,Engineering Co-op (Fall 2027),Acme,",
        "K-2,Job shadow day,Acme,",
        "K-3,Co-operative bank intern,Acme,",
        "K-4,Engineering co-op,Acme,mentoring",
    )
    import_file(session_factory, path, now=clock.now)
    kinds = [opportunity(session_factory, f"K-{n}").kind for n in range(1, 5)]
    assert kinds == [
        OpportunityKind.COOP,
        OpportunityKind.JOB_SHADOWING,
        OpportunityKind.INTERNSHIP,
        OpportunityKind.MENTORING,  # a kind given is kept
    ]
    listing = {"id": "c-1", "title": "Software Co-op", "company_name": "Acme", "active": True}
    (tmp_path / "listings.json").write_text(json.dumps([listing]), encoding="utf-8")
    import_file(session_factory, tmp_path / "listings.json", now=clock.now)
    assert opportunity(session_factory, "c-1").kind == OpportunityKind.COOP


def test_an_over_long_description_is_a_bad_row(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        "external_id,title,organisation,description",
        "L-1,Long one,Acme," + "x" * 10_001,
        "L-2,Short one,Acme," + "x" * 10_000,
    )
    report = import_file(session_factory, path, now=clock.now)
    assert report.created == 1
    assert report.skipped == [
        (2, "Please keep the description to 10000 characters or fewer (it has 10001).")
    ]


def test_json_records_that_are_not_listings_are_skipped(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    good = {"id": "g-1", "title": "Data Intern", "company_name": "Acme", "active": True}
    path = tmp_path / "listings.json"
    path.write_text(
        json.dumps(
            [
                "not an object",
                {"title": "No id", "company_name": "Acme"},
                {"id": "n-1", "title": "  ", "company_name": "Acme"},
                {"id": "n-2", "title": "Intern", "company_name": "Acme", "locations": "Leeds"},
                {"id": "n-3", "title": "Intern", "company_name": "Acme", "date_posted": "May"},
                good,
            ]
        )
    )

    report = import_file(session_factory, path, now=clock.now)

    assert report.skipped == [
        (1, 'is not a JSON object: "not an object"'),
        (2, "The id is missing."),
        (3, "The title is missing."),
        (4, "The locations must be a list of texts."),
        (5, "The date_posted 'May' is not a Unix time."),
    ]
    assert report.created == 1
    created = opportunity(session_factory, "g-1")
    assert (created.status, created.location, created.description) == (
        OpportunityStatus.OPEN,
        "",
        "",
    )
    # No date_posted: published when imported, and a re-import keeps that time.
    assert created.published_at == clock.now
    clock.advance(days=1)
    assert import_file(session_factory, path, now=clock.now).unchanged == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("opportunities.xlsx", "", "cannot import opportunities.xlsx: use a .csv or .json file"),
        ("broken.json", '[{"id": 1,', "broken.json: not valid JSON (line 1, column 11"),
        ("object.json", '{"id": 1}', "object.json: expected a JSON array of listings"),
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("typo.csv", "external_id,title,organisation,deadine\n", "unknown column 'deadine'"),
        ("short.csv", "title,organisation\n", "missing required column 'external_id'"),
        ("latin1.csv", None, "latin1.csv is not UTF-8 text"),
        ("utf16.csv", "external_id\x00,\x00title", "utf16.csv contains NUL bytes"),
        ("missing.csv", "-", "cannot read"),
    ],
)
def test_files_that_cannot_be_imported_raise_value_error(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
    name: str,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes("external_id,title,organisation\n1,Café,Acme\n".encode("latin-1"))
    elif content != "-":
        path.write_text(content)
    with pytest.raises(ValueError) as raised:
        import_file(session_factory, path, now=clock.now)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert count(session_factory, Opportunity) == 0


def test_summary_wording() -> None:
    assert ImportReport(1, 0, 0, [(3, "title is missing")]).summary() == (
        "1 opportunity: 1 created, 0 updated, 0 unchanged; 1 row skipped\nrow 3: title is missing"
    )


def test_only_real_nesting_counts_as_too_deep(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    # Brackets inside strings (escaped quotes too) are text; an ignored key may nest a little.
    listing = {
        "id": "deep-ok",
        "company_name": 'Acme "[[[[" Ltd',
        "title": "[" * 100 + " intern",
        "extra": [[[[[[[[[[{"a": [[[]]]}]]]]]]]]]],
    }
    path = tmp_path / "listings.json"
    path.write_text(json.dumps([listing]))
    assert import_file(session_factory, path, now=clock.now).created == 1
    listing["extra"] = [listing["extra"]] * 2
    for _ in range(10):
        listing["extra"] = [listing["extra"]]
    path.write_text(json.dumps([listing]))
    with pytest.raises(ValueError, match="nested too deeply"):
        import_file(session_factory, path, now=clock.now)
