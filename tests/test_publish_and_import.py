"""Teachers publish a whole opportunity in one message and import listings files they send."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import MAX_FILE_BYTES, Attachment, Core, Field, Form, Incoming, Timing
from handlers.listings import import_jobs
from handlers.listings import importer as imports
from handlers.listings.import_jobs import import_batches, run_imports
from handlers.listings.importer import BATCH_SIZE
from storage.models import (
    AuditEntry,
    ImportJob,
    ImportStatus,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    Person,
    Role,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    APOLOGY,
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    make_employer,
    onboard,
    person_id,
    row_counts,
)

LISTING = """/publish
organisation: Leeds Robotics Co
title: Robot lab summer internship
kind: Co-op placement
description: Build and test warehouse robots with our engineering team.
  Lunch is on us & <b>free</b>.
location: Leeds
remote: no
paid: yes
start: 2027-07-01
end: 2027-08-31
deadline: 2027-03-31
spots: 4
url: https://example.org/robots
tags: engineering, Technology & IT"""

CSV = (
    b"external_id,title,organisation,deadline,spots\n"
    b"r1,Robot lab,Leeds Robotics Co,2027-03-31,2\n"
    b"r2,Design studio,Pixel Ltd,31/03/2027,3\n"
    b"r3,Hospital day,NHS Leeds,,many\n"
    b"r4,Bakery shadowing,Bread & Co,,\n"
)


def _tina(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    add_school(session_factory, clock.now)
    teacher = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    return teacher


@pytest.fixture
def tina(snapshot: Snapshot) -> Chat:
    return snapshot(_tina)


def _opportunities(session_factory: sessionmaker[Session]) -> list[Opportunity]:
    with session_factory() as session:
        found = session.scalars(select(Opportunity).order_by(Opportunity.id)).all()
        for opportunity in found:
            _ = opportunity.organisation.name, opportunity.tag_names
        return list(found)


def test_a_whole_opportunity_in_one_message_is_published(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    tina.send(LISTING)
    (published,) = _opportunities(session_factory)
    assert tina.text.startswith(f"Published (#{published.id}): students can find it")
    assert "Robot lab summer internship — Leeds Robotics Co" in tina.text
    assert published.organisation.name == "Leeds Robotics Co"
    assert published.kind == OpportunityKind.COOP
    assert published.description == (
        "Build and test warehouse robots with our engineering team.\nLunch is on us & <b>free</b>."
    )
    assert (published.location, published.remote, published.paid) == ("Leeds", False, True)
    assert (published.start_date, published.end_date, published.deadline) == (
        date(2027, 7, 1),
        date(2027, 8, 31),
        date(2027, 3, 31),
    )
    assert (published.spots, published.url) == (4, "https://example.org/robots")
    assert published.tag_names == ["engineering", "technology"]
    assert published.status == OpportunityStatus.OPEN
    assert published.published_at == clock.now


def test_a_listing_with_the_longest_description_fits_in_one_message(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    description = ("Robots all day. " * 125).strip()
    long = LISTING.replace(
        "description: Build and test warehouse robots with our engineering team.\n"
        "  Lunch is on us & <b>free</b>.",
        f"description: {description}",
    )
    assert len(description) == 1999 and len(long) > 2000
    tina.send(long)
    assert "Published" in tina.text
    assert _opportunities(session_factory)[0].description == description


def test_only_the_needed_fields_and_the_rest_defaults(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    tina.send(
        "/publish\norganisation: Acme Ltd\ntitle: Software taster day\nkind: job_shadowing\n"
        "description: A day with our software developers.\nlocation: Bradford"
    )
    (published,) = _opportunities(session_factory)
    assert published.kind == OpportunityKind.JOB_SHADOWING
    assert (published.remote, published.paid, published.deadline) == (False, None, None)
    assert published.tag_names == ["technology"]  # derived from the title, as in the dialog


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("deadline: 2027-03-31", "deadline: 2026-11-01"), "• deadline: That deadline has passed"),
        (("deadline: 2027-03-31", "deadline: 31/03/2027"), "• deadline: Please type the deadline"),
        (("end: 2027-08-31", "end: 2027-06-30"), "• end: The end date is before the start date."),
        (("kind: Co-op placement", "kind: rocket"), "• kind: The kind must be one of: internship"),
        (("spots: 4", "spots: lots"), "• spots: Please type the number of places"),
        (("url: https://example.org/robots", "url: example.org"), "• url: Please type the web"),
        (("tags: engineering, Technology & IT", "tags: robots"), "I don't know the field 'robots'"),
        (("title: Robot lab summer internship\n", ""), "• title is missing."),
        (("location: Leeds", "locaton: Leeds"), "I don't know the field 'locaton'"),
        (("spots: 4", "spots: 4\nspots: 5"), "• spots is given twice."),
    ],
)
def test_any_bad_field_refuses_the_whole_opportunity(
    tina: Chat, session_factory: sessionmaker[Session], change: tuple[str, str], expected: str
) -> None:
    before = row_counts(session_factory)
    old, new = change
    assert old in LISTING
    tina.send(LISTING.replace(old, new))
    assert tina.text.startswith("Nothing was published. Please fix this and send it again:")
    assert expected in tina.text
    assert "Or send /publish alone" in tina.text
    assert row_counts(session_factory) == before


def test_every_problem_is_listed_at_once(tina: Chat) -> None:
    tina.send("/publish\ntitle: AI\nkind: rocket")
    problems = [line for line in tina.text.splitlines() if line.startswith("• ")]
    assert problems == [
        "• organisation is missing.",
        "• description is missing.",
        "• location is missing.",
        "• title: Please type the title (at least 3 characters).",
        "• kind: The kind must be one of: internship, job shadowing, co-op placement, "
        "mentoring, site visit, event.",
    ]


def test_publishing_at_once_is_for_teachers(
    core: Core, tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now)  # and its employer, Acme Ltd
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    maya = Chat(core, "maya", name="Maya Jones")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    before = row_counts(session_factory)
    for chat in (bob, maya):
        chat.send(LISTING)
        assert "Sorry, that is only for admins or teachers" in chat.text
    assert row_counts(session_factory)["opportunities"] == before["opportunities"]


def test_a_form_writes_the_lines_it_reads() -> None:
    form = Form(
        "Test",
        "Send",
        (Field("title", "Title"), Field("about", "About", "long_text", optional=True)),
    )
    text = form.write({"title": " Robot lab ", "about": "Line one\n\nNote: line three\n"})
    assert text == "title: Robot lab\nabout: Line one\n \n Note: line three"
    assert form.read(text) == ({"title": "Robot lab", "about": "Line one\n\nNote: line three"}, [])
    # A web address on a line of its own is part of the value, not a field called "https".
    assert form.read("title: Lab\nhttps://example.org")[0] == {"title": "Lab\nhttps://example.org"}


def test_a_teacher_imports_a_csv_file_sent_to_the_bot(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    tina.send_file("listings.csv", CSV)
    assert tina.text.splitlines() == [
        "Imported listings.csv: 2 opportunities: 2 created, 0 updated, 0 unchanged; 2 rows skipped",
        "row 3: Please type the deadline as YYYY-MM-DD, like 2027-02-28.",
        "row 4: Please type the number of places as a whole number from 1 to 10000.",
    ]
    assert [o.title for o in _opportunities(session_factory)] == ["Robot lab", "Bakery shadowing"]
    tina.send_file("listings.csv", CSV)
    assert "0 created, 0 updated, 2 unchanged" in tina.text
    with session_factory() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "listings_imported")
        ).all()
    assert [a.detail["created"] for a in audit] == [2, 0]


def test_a_json_listings_file_imports_and_many_bad_rows_are_summed_up(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    listings = [
        {"id": "j1", "company_name": "Acme", "title": "Data intern", "active": True},
        *({"id": f"bad{n}", "title": "No company"} for n in range(12)),
    ]
    tina.send_file("jobs.JSON", json.dumps(listings).encode(), "application/json")
    lines = tina.text.splitlines()
    assert lines[0].endswith("1 opportunity: 1 created, 0 updated, 0 unchanged; 12 rows skipped")
    assert lines[1] == "row 2: The organisation's name is missing."
    assert len(lines) == 1 + 10 + 1 and lines[-1] == "…and 2 more skipped rows."
    assert [o.title for o in _opportunities(session_factory)] == ["Data intern"]


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("photo.png", b"\x89PNG", "I couldn't import that file: cannot import photo.png: use a"),
        ("x.csv", b"title,organisation\n", "missing required column 'external_id'."),
        ("x.csv", "é".encode("latin-1"), "x.csv is not UTF-8 text"),
        ("x.json", b"{", "x.json: not valid JSON"),
        # A hostile file: deeper than any parser's recursion, and deep inside a listing.
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "deep.json: it is nested too deeply"),
        ("deep.json", b'[{"id": [' + b"[" * 990 + b"]" * 990 + b"]}]", "nested too deeply"),
        ("deep.json", b"[" + b"[" * 990 + b"]" * 990 + b"]", "nested too deeply"),
    ],
)
def test_a_file_that_cannot_be_imported_is_explained(
    tina: Chat, session_factory: sessionmaker[Session], filename: str, content: bytes, expected: str
) -> None:
    before = row_counts(session_factory)
    tina.send_file(filename, content)
    assert expected in tina.text
    assert row_counts(session_factory) == before


def test_students_and_employers_cannot_import(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    maya = Chat(core, "maya", name="Maya Jones")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    guest = Chat(core, "guest")
    before = row_counts(session_factory)["opportunities"]
    for chat in (bob, maya, guest):
        chat.send_file("listings.csv", CSV)
        assert "only teachers can import listings" in chat.text
    assert row_counts(session_factory)["opportunities"] == before


def test_a_file_sent_twice_as_one_event_imports_once(
    tina: Chat, core: Core, session_factory: sessionmaker[Session]
) -> None:
    incoming = Incoming(
        "console", "tina", "chat-tina", event_id="ev-1", file=Attachment("a.csv", CSV, "text/csv")
    )
    assert "2 created" in core.handle(incoming)[0].text
    assert core.handle(incoming) == []
    assert len(_opportunities(session_factory)) == 2


def test_a_file_too_big_is_refused_unread(tina: Chat) -> None:
    tina.send_file("big.csv", b"x" * (MAX_FILE_BYTES + 1))
    assert tina.text == ("That file is too big for me (5.1 MB). Please send files of up to 5 MB.")


def test_rows_with_control_characters_are_skipped_not_a_crash(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    # JSON spells NUL and lone surrogates as escapes, past the file's own NUL check; neither
    # can be stored (PostgreSQL refuses NUL, no database encodes a lone surrogate).
    listings = [
        {"id": "ok", "company_name": "Acme", "title": "Data intern", "active": True},
        {"id": "nul", "company_name": "Acme\u0000", "title": "Data intern", "active": True},
        {"id": "sur", "company_name": "Acme", "title": "Data \ud800", "locations": ["\x1b[31m"]},
        {"id": "other", "company_name": "Acme", "title": "Ignored", "notes": "\u0000"},
    ]
    tina.send_file("jobs.json", json.dumps(listings).encode(), "application/json")
    assert tina.text.splitlines() == [
        "Imported jobs.json: 2 opportunities: 2 created, 0 updated, 0 unchanged; 2 rows skipped",
        "row 2: The organisation's name has control characters in it.",
        "row 3: The title has control characters in it. The location has control characters in it.",
    ]
    tina.send_file("a.csv", b"external_id,title,organisation\nx,Ti\x07tle,Org\ny,Title,Org\n")
    assert tina.text.splitlines()[1:] == ["row 2: The title has control characters in it."]
    assert sorted(o.external_id or "" for o in _opportunities(session_factory)) == [
        "ok",
        "other",
        "y",
    ]


def _big_csv(rows: int) -> bytes:
    """``rows`` good rows, a bad one and a repeated id: more than one batch."""
    lines = ["external_id,title,organisation,spots"]
    lines += [f"B{n},Role {n},Org {n % 37},{n % 9 + 1}" for n in range(rows)]
    lines += ["B-bad,Broken,Org 1,many", "B7,Role 7 again,Org 7,2"]
    return ("\n".join(lines) + "\n").encode()


def _job(session_factory: sessionmaker[Session]) -> ImportJob:
    with session_factory() as session:
        return session.scalars(select(ImportJob)).one()


@pytest.mark.slow
def test_a_big_file_imports_in_the_background_and_others_are_served_meanwhile(
    core: Core,
    tina: Chat,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A progress message every 500 rows, instead of every 10,000, keeps the file small.
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 500)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    total = BATCH_SIZE * 4 + 234
    records = total + 2  # a bad row, and a row whose id comes again later

    tina.send_file("big.csv", _big_csv(total))
    # Answered at once: nothing imported inside the message's own transaction.
    assert tina.text == (
        f"Importing {records:,} listings from big.csv. "
        "I'll tell you how it's going, and what was imported when it's done."
    )
    assert _opportunities(session_factory) == []
    job = _job(session_factory)
    assert (job.status, job.total, job.done) == (ImportStatus.PENDING, records, 0)

    batches = import_batches(session_factory, job.id, clock.now)
    assert next(batches) == (BATCH_SIZE, records)
    # The first batch of rows but B7, which a later row replaces.
    first = BATCH_SIZE - 1
    assert len(_opportunities(session_factory)) == first
    # Between two batches the database is free: another person's message goes through.
    bob.send("/browse")
    assert bob.text.startswith(f"{first} open opportunities")
    tina.send("/listings")
    assert tina.text != APOLOGY

    # The process dies in the middle of the next batch, its rows written but not committed.
    real_store = import_jobs.store_rows

    def crash(*args: Any, **kwargs: Any) -> int:
        real_store(*args, **kwargs)
        raise RuntimeError("power cut")

    monkeypatch.setattr(import_jobs, "store_rows", crash)
    with pytest.raises(RuntimeError):
        next(batches)
    monkeypatch.setattr(import_jobs, "store_rows", real_store)
    assert len(_opportunities(session_factory)) == first
    assert _job(session_factory).done == BATCH_SIZE

    # The scheduler's next run resumes where the last committed batch ended.
    clock.advance(seconds=5)
    assert run_imports(session_factory, clock.now, Timing()) == 1
    imported = _opportunities(session_factory)
    assert sorted(o.external_id or "" for o in imported) == sorted(f"B{n}" for n in range(total))
    assert next(o for o in imported if o.external_id == "B7").title == "Role 7 again"
    assert inbox(session_factory, tina, "import") == [
        (f"500 of {records:,} listings from big.csv done so far…", []),
        (f"1,000 of {records:,} listings from big.csv done so far…", []),
        (
            f"Imported big.csv: {total} opportunities: {total} created, 0 updated, 0 unchanged; "
            "2 rows skipped\n"
            "row 9: external_id 'B7' is repeated in row 1237, which was imported instead\n"
            "row 1236: Please type the number of places as a whole number from 1 to 10000.",
            [],
        ),
    ]
    job = _job(session_factory)
    assert (job.status, job.done, job.created, job.payload) == (
        ImportStatus.DONE,
        records,
        total,
        None,
    )
    with session_factory() as session:
        audit = session.scalars(select(AuditEntry)).all()
    assert [(a.action, a.detail) for a in audit if a.action == "listings_imported"] == [
        ("listings_imported", {"file": "big.csv", "created": total})
    ]

    # Done is done: another run, or the crashed worker's leftovers, change nothing.
    assert run_imports(session_factory, clock.now, Timing()) == 0
    assert list(batches) == []
    assert len(inbox(session_factory, tina, "import")) == 3


@pytest.mark.slow
def test_a_big_file_sent_again_updates_in_the_background(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    total = BATCH_SIZE + 1
    tina.send_file("big.csv", _big_csv(total))
    run_imports(session_factory, clock.now, Timing())
    tina.send_file("big.csv", _big_csv(total).replace(b"Role 3,", b"Role three,"))
    assert tina.text.startswith(f"Importing {total + 2:,} listings from big.csv.")
    clock.advance(minutes=1)
    assert run_imports(session_factory, clock.now, Timing()) == 1
    summary = inbox(session_factory, tina, "import")[-1][0]
    assert summary.startswith(
        f"Imported big.csv: {total} opportunities: 0 created, 1 updated, {total - 1} unchanged;"
    )
    assert len(_opportunities(session_factory)) == total


def test_a_big_import_by_the_only_schools_teacher_claims_listings_no_school_owns(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    old = add_opportunity(session_factory, clock.now, source="csv", external_id="B3")
    tina.send_file("big.csv", _big_csv(BATCH_SIZE + 1))
    with session_factory() as session:
        assert session.scalars(select(ImportJob.claim_unowned)).one() is True
    assert run_imports(session_factory, clock.now, Timing()) == 1
    assert "1 updated" in inbox(session_factory, tina, "import")[-1][0]
    owners = {o.owner_school_id for o in _opportunities(session_factory)}
    claimed = next(o for o in _opportunities(session_factory) if o.id == old)
    assert claimed.title == "Role 3"
    assert len(owners) == 1 and None not in owners


def test_a_job_another_worker_holds_is_left_to_it(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one process, whose scheduler runs one import at a time")
    tina.send_file("big.csv", _big_csv(BATCH_SIZE + 1))
    job_id = _job(session_factory).id
    with session_factory() as other, other.begin():
        other.execute(select(ImportJob).where(ImportJob.id == job_id).with_for_update())
        assert list(import_batches(session_factory, job_id, clock.now)) == []
    assert list(import_batches(session_factory, job_id, clock.now)) == [
        (BATCH_SIZE, BATCH_SIZE + 3),
        (BATCH_SIZE + 3, BATCH_SIZE + 3),
    ]


def test_a_queued_file_the_importer_now_refuses_ends_the_job_with_the_reason(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    # Accepted by an earlier version of the importer, read after an upgrade that refuses it.
    tina.send_file("big.csv", _big_csv(BATCH_SIZE + 1))
    with session_factory.begin() as session:
        session.scalars(select(ImportJob)).one().payload = b"external_id,title,organisation,x\n"
    assert run_imports(session_factory, clock.now, Timing()) == 0
    assert inbox(session_factory, tina, "import") == [
        (
            "I couldn't import that file: big.csv: unknown column 'x' (the columns are: "
            f"{', '.join(imports.CSV_COLUMNS)}).",
            [],
        ),
    ]
    job = _job(session_factory)
    assert (job.status, job.payload) == (ImportStatus.FAILED, None)
    assert _opportunities(session_factory) == []


# One bad value, three ways in: the opportunity schema refuses it with the same words.
@pytest.mark.parametrize(
    ("field", "bad", "expected"),
    [
        ("title", "x" * 201, "Please keep the title to 200 characters or fewer (it has 201)."),
        ("title", "AI", None),  # short titles: a file may have them, a person typing may not
        (
            "location",
            "y" * 301,
            "Please keep the location to 300 characters or fewer (it has 301).",
        ),
        (
            "kind",
            "rocket",
            "The kind must be one of: internship, job shadowing, co-op placement, mentoring, "
            "site visit, event.",
        ),
        ("deadline", "31/03/2027", "Please type the deadline as YYYY-MM-DD, like 2027-02-28."),
        (
            "deadline",
            "2027-02-30",
            "2027-02-30 isn't a date. Please type the deadline as YYYY-MM-DD, like 2027-02-28.",
        ),
        ("paid", "maybe", "Is it paid? Please answer yes, no or not sure."),
        ("remote", "sometimes", "Can students take part remotely? Please answer yes or no."),
        # (Control characters never reach a handler in a chat message: the core refuses them.)
    ],
)
def test_a_bad_value_is_refused_alike_by_import_publish_and_edit(
    tina: Chat,
    session_factory: sessionmaker[Session],
    field: str,
    bad: str,
    expected: str | None,
) -> None:
    tina.send(LISTING)
    (listing,) = _opportunities(session_factory)
    before = row_counts(session_factory)["opportunities"]

    row = {"external_id": "b1", "title": "Lab day", "organisation": "Acme", field: bad}
    tina.send_file("rows.csv", f"{','.join(row)}\n{','.join(row.values())}\n".encode())
    imported = tina.text.splitlines()[1:]
    line = next(line for line in LISTING.splitlines() if line.startswith(f"{field}:"))
    tina.send(LISTING.replace(line, f"{field}: {bad}"))
    published = tina.text
    tina.send(f"/edit {listing.id} {field} {bad}")
    edited = tina.text

    if expected is None:
        # A file's short title is taken; a typed one is not (at least 3 characters).
        assert imported == []
        assert f"• {field}: Please type the {field} (at least 3 characters)." in published
        assert edited == f"Please type the {field} (at least 3 characters)."
        return
    assert imported == [f"row 2: {expected}"]
    assert f"• {field}: {expected}" in published
    assert edited == expected
    assert row_counts(session_factory)["opportunities"] == before
    assert _opportunities(session_factory)[0].updated_at == listing.updated_at


def test_every_way_in_has_the_schemas_limits() -> None:
    from bot.slack.forms import MAX_INPUT_LENGTH
    from handlers.listings import schema
    from handlers.listings.opportunities import PUBLISH_FORM
    from storage.models import Opportunity, Organisation

    form = {f.name: f for f in PUBLISH_FORM.fields}
    assert form["title"].max_length == schema.MAX_TITLE
    assert form["organisation"].max_length == schema.MAX_ORGANISATION
    assert form["description"].max_length == schema.MAX_DESCRIPTION == 10_000
    assert form["location"].max_length == schema.MAX_LOCATION
    assert form["url"].max_length == schema.MAX_URL
    assert form["spots"].bounds == (1, schema.MAX_SPOTS)
    # Slack caps a text input itself; the schema's limit still holds after the submission.
    assert MAX_INPUT_LENGTH < schema.MAX_DESCRIPTION
    # Every limit fits the column that stores it.
    columns = Opportunity.__table__.columns
    assert columns["title"].type.length == schema.MAX_TITLE  # type: ignore[attr-defined]
    assert columns["location"].type.length == schema.MAX_LOCATION  # type: ignore[attr-defined]
    assert columns["url"].type.length == schema.MAX_URL  # type: ignore[attr-defined]
    assert columns["external_id"].type.length == schema.MAX_EXTERNAL_ID  # type: ignore[attr-defined]
    assert (
        Organisation.__table__.columns["name"].type.length  # type: ignore[attr-defined]
        == schema.MAX_ORGANISATION
    )
    # The CSV columns are the schema's fields, and a 10,000-character description is taken
    # from a file as from a form (a chat message is shorter than that).
    assert imports.CSV_COLUMNS == schema.FIELDS
    for typed in (False, True):
        kept = schema.check({"description": "x" * schema.MAX_DESCRIPTION}, typed=typed)
        assert kept.description is not None and len(kept.description) == schema.MAX_DESCRIPTION
        with pytest.raises(schema.FieldProblems) as refused:
            schema.check({"description": "x" * (schema.MAX_DESCRIPTION + 1)}, typed=typed)
        assert refused.value.problems == {
            "description": "Please keep the description to 10000 characters or fewer "
            "(it has 10001)."
        }


def test_a_teachers_import_is_summed_up_in_their_language(
    tina: Chat, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        teacher = session.get_one(Person, person_id(session_factory, tina))
        teacher.language = "es"
    tina.send_file("listings.csv", CSV)
    assert tina.text.splitlines() == [
        "Importado listings.csv: 2 oportunidades: 2 creadas, 0 actualizadas, 0 sin cambios; "
        "2 filas omitidas",
        "fila 3: Escribe el campo «fecha límite» como AAAA-MM-DD, por ejemplo 2027-02-28.",
        "fila 4: Escribe el campo «número de plazas» como un número entero del 1 al 10000.",
    ]
    tina.send_file("photo.png", b"\x89PNG")
    assert tina.text == (
        "No he podido importar ese archivo: no se puede importar photo.png: "
        "usa un archivo .csv o .json."
    )


def test_a_background_import_tells_the_teacher_in_their_language(
    tina: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with session_factory.begin() as session:
        session.get_one(Person, person_id(session_factory, tina)).language = "pl"
    rows = BATCH_SIZE + 1
    tina.send_file("big.csv", _big_csv(rows))
    assert tina.text.startswith(f"Importuję ogłoszenia z pliku big.csv (liczba: {rows + 2}).")
    assert run_imports(session_factory, clock.now, Timing()) == 1
    (summary, _buttons), *_rest = inbox(session_factory, tina, "import")
    # The rows' problems too are worded for her, though read in the background.
    assert summary.splitlines() == [
        f"Zaimportowano big.csv: {rows} ofert: utworzone {rows}, zaktualizowane 0, bez zmian 0; "
        "pominięto 2 wiersze",
        f"wiersz 9: external_id 'B7' powtarza się w wierszu {rows + 3}, który zaimportowano "
        "zamiast tego",
        f"wiersz {rows + 2}: Wpisz „liczba miejsc” jako liczbę całkowitą od 1 do 10000.",
    ]
