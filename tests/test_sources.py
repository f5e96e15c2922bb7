"""Sources: employers' job boards read from fake provider APIs and synced into opportunities."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.core import Core, Timing
from handlers.listings.sync.engine import RunResult, close_expired, held_lock, sync_due, sync_source
from handlers.listings.sync.manage import SourceProblem, add_source
from handlers.listings.sync.problems import worded
from handlers.listings.sync.providers import Endpoints, Fetcher
from storage.models import (
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    Organisation,
    OutboxMessage,
    Person,
    Role,
    Source,
    SourceRun,
    SourceStatus,
)
from storage.outbox import QuietHours
from tests.conftest import FakeClock
from tests.fakes.jobboards import FakeJobBoards, serve
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    onboard,
    row_counts,
)

EVERY = timedelta(hours=6)
# No quiet hours: tests read the outbox at once, whatever the fake clock says.
AWAKE = QuietHours(start=QuietHours().end, end=QuietHours().end)


@pytest.fixture(scope="module")
def boards_server() -> Iterator[FakeJobBoards]:
    boards = FakeJobBoards()
    server = serve(boards)
    yield boards
    server.shutdown()


@pytest.fixture
def boards(boards_server: FakeJobBoards) -> FakeJobBoards:
    boards_server.boards.clear()
    boards_server.raw.clear()
    boards_server.failures.clear()
    boards_server.asked.clear()
    return boards_server


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def fetcher(boards: FakeJobBoards, waits: list[float]) -> Fetcher:
    base = boards.url
    return Fetcher(Endpoints(base, base, base, base), timeout=5, sleep=waits.append)


def greenhouse_job(job_id: int, title: str, **extra: Any) -> dict[str, Any]:
    """A job as Greenhouse's job board API documents it (with ?content=true)."""
    return {
        "id": job_id,
        "internal_job_id": job_id * 10,
        "title": title,
        "updated_at": "2026-11-20T10:00:00-05:00",
        "requisition_id": f"R{job_id}",
        "location": {"name": "Leeds, UK"},
        "absolute_url": f"https://boards.greenhouse.io/acme/jobs/{job_id}",
        "metadata": None,
        "data_compliance": [{"type": "gdpr", "requires_consent": False, "retention_period": None}],
        "content": "&lt;p&gt;Build robots &amp;amp; learn.&lt;/p&gt;&lt;ul&gt;"
        "&lt;li&gt;Soldering&lt;/li&gt;&lt;li&gt;Python&lt;/li&gt;&lt;/ul&gt;",
        "departments": [{"id": 1, "name": "Engineering", "parent_id": None, "child_ids": []}],
        "offices": [{"id": 2, "name": "Leeds", "location": "Leeds, UK", "child_ids": []}],
        **extra,
    }


def lever_posting(n: int, title: str) -> dict[str, Any]:
    return {
        "id": f"lever-{n:04d}",
        "text": title,
        "categories": {
            "location": "Bristol",
            "team": "Design",
            "commitment": "Summer",
            "allLocations": ["Bristol", "Remote UK"],
        },
        "country": "GB",
        "createdAt": 1763000000000 + n,
        "descriptionPlain": f"Posting {n}: sketch &amp; build.",
        "description": f"<div>Posting {n}: sketch &amp;amp; build.</div>",
        "lists": [{"text": "What you'll do", "content": "<li>Draw</li>"}],
        "additional": "",
        "hostedUrl": f"https://jobs.lever.co/acme/lever-{n:04d}",
        "applyUrl": f"https://jobs.lever.co/acme/lever-{n:04d}/apply",
        "workplaceType": "hybrid",
    }


def ashby_job(job_id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "title": title,
        "department": "Operations",
        "team": "Logistics",
        "employmentType": "Intern",
        "location": "Manchester",
        "secondaryLocations": [],
        "publishedAt": "2026-11-01T09:00:00.000+00:00",
        "isListed": True,
        "isRemote": False,
        "workplaceType": "OnSite",
        "jobUrl": f"https://jobs.ashbyhq.com/acme/{job_id}",
        "applyUrl": f"https://jobs.ashbyhq.com/acme/{job_id}/application",
        "descriptionHtml": "<h2>About</h2><p>Move boxes &eacute;legantly &amp; safely.</p>",
        "descriptionPlain": "",
        "compensation": {"compensationTierSummary": "£12/hour", "summaryComponents": []},
        **extra,
    }


def smartrecruiters_posting(n: int, title: str) -> dict[str, Any]:
    return {
        "id": f"74400{n:05d}",
        "name": title,
        "uuid": f"uuid-{n}",
        "refNumber": f"REF{n}",
        "company": {"identifier": "Acme", "name": "Acme Ltd"},
        "releasedDate": "2026-11-10T12:00:00.000Z",
        "location": {
            "city": "Glasgow",
            "region": "Scotland",
            "country": "gb",
            "remote": n % 2 == 0,
            "fullLocation": "Glasgow, Scotland, United Kingdom",
        },
        "industry": {"id": "it", "label": "Information Technology"},
        "department": {"id": "42", "label": "Finance"},
        "function": {"id": "accounting", "label": "Accounting"},
        "typeOfEmployment": {"id": "intern", "label": "Internship"},
        "experienceLevel": {"id": "entry_level", "label": "Entry Level"},
        "customField": [],
        "ref": f"https://api.smartrecruiters.com/v1/companies/Acme/postings/74400{n:05d}",
        "creator": {"name": "Recruiter"},
        "language": {"code": "en", "label": "English"},
    }


def connect(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    provider: str,
    board: str,
    *,
    organisation: str | None = "Acme Ltd",
    review: bool = False,
    title_filter: str | None = None,
    teacher: int | None = None,
) -> int:
    with session_factory.begin() as session:
        org = None
        if organisation is not None:
            org = session.scalar(select(Organisation).where(Organisation.name == organisation))
            org = org or Organisation(name=organisation, created_at=clock.now)
        creator = session.get(Person, teacher) if teacher is not None else None
        return add_source(
            session,
            provider,
            board,
            organisation=org,
            school=creator.school if creator is not None else None,
            created_by=creator,
            now=clock.now,
            review=review,
            title_filter=title_filter,
        ).id


def sync(
    session_factory: sessionmaker[Session], fetcher: Fetcher, clock: FakeClock, source_id: int
) -> RunResult:
    result = sync_source(
        session_factory, source_id, fetcher, now=clock.now, every=EVERY, quiet=AWAKE
    )
    assert result is not None
    return result


def listings_of(session_factory: sessionmaker[Session], source_id: int) -> dict[str, Opportunity]:
    with session_factory() as session:
        found = session.scalars(
            select(Opportunity).where(Opportunity.source == f"source:{source_id}")
        ).all()
        for opportunity in found:
            _ = opportunity.organisation.name, opportunity.tag_names
        return {o.external_id or "": o for o in found}


def counts(result: RunResult) -> tuple[int, int, int, int, int]:
    return result.created, result.updated, result.closed, result.skipped, result.errors


# Providers


def test_greenhouse_board_becomes_open_listings_with_clean_text(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put(
        "greenhouse",
        "acme",
        [
            greenhouse_job(101, "Summer Engineering Intern"),
            greenhouse_job(102, "Senior Staff Engineer"),
            greenhouse_job(103, "Internal Auditor"),
            greenhouse_job(104, "Job Shadowing Day &amp; Tour", location={"name": "Remote"}),
        ],
    )
    source = connect(session_factory, clock, "greenhouse", "acme")
    assert counts(sync(session_factory, fetcher, clock, source)) == (2, 0, 0, 2, 0)
    assert boards.asked_of("greenhouse", "acme")[0].query == {"content": "true"}
    found = listings_of(session_factory, source)
    assert set(found) == {"101", "104"}
    intern = found["101"]
    assert intern.title == "Summer Engineering Intern"
    assert intern.status == OpportunityStatus.OPEN and intern.published_at == clock.now
    assert (
        intern.description == "Build robots & learn.\n\n• Soldering\n• Python\n\nTeam: Engineering."
    )
    assert (intern.location, intern.remote) == ("Leeds, UK", False)
    assert intern.url == "https://boards.greenhouse.io/acme/jobs/101"
    assert intern.organisation.name == "Acme Ltd" and intern.kind == OpportunityKind.INTERNSHIP
    assert "engineering" in intern.tag_names
    shadow = found["104"]
    # The title was escaped once in the JSON: the student reads the character.
    assert shadow.title == "Job Shadowing Day &amp; Tour"
    assert shadow.kind == OpportunityKind.JOB_SHADOWING and shadow.remote


def test_lever_pages_with_skip_and_limit(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    postings = [
        lever_posting(n, "Design Apprentice" if n % 50 == 0 else "Product Designer")
        for n in range(230)
    ]
    boards.put("lever", "acme", postings)
    source = connect(session_factory, clock, "lever", "acme")
    assert counts(sync(session_factory, fetcher, clock, source)) == (5, 0, 0, 225, 0)
    asked = boards.asked_of("lever", "acme")
    assert [(a.query["skip"], a.query["limit"], a.query["mode"]) for a in asked] == [
        ("0", "100", "json"),
        ("100", "100", "json"),
        ("200", "100", "json"),
    ]
    apprentice = listings_of(session_factory, source)["lever-0200"]
    assert apprentice.location == "Bristol; Remote UK" and apprentice.remote
    assert apprentice.url == "https://jobs.lever.co/acme/lever-0200"
    assert apprentice.description.startswith("Posting 200: sketch &amp; build.")
    assert "Team: Design. Hours: Summer." in apprentice.description


def test_ashby_lists_only_listed_jobs(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put(
        "ashby",
        "acme",
        [
            ashby_job("a1", "Logistics Intern"),
            ashby_job("a2", "Warehouse Intern", isListed=False),
            ashby_job("a3", "Remote Data Intern", isRemote=True, location="Anywhere"),
        ],
    )
    source = connect(session_factory, clock, "ashby", "acme")
    sync(session_factory, fetcher, clock, source)
    assert boards.asked_of("ashby", "acme")[0].query == {"includeCompensation": "true"}
    found = listings_of(session_factory, source)
    assert set(found) == {"a1", "a3"}
    assert found["a1"].description == "About\n\nMove boxes élegantly & safely.\n\nTeam: Logistics."
    assert found["a1"].url == "https://jobs.ashbyhq.com/acme/a1" and not found["a1"].remote
    assert found["a3"].remote


def test_smartrecruiters_pages_with_offset_and_total(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put(
        "smartrecruiters",
        "Acme",
        [smartrecruiters_posting(n, f"Finance Placement {n}") for n in range(150)],
    )
    source = connect(session_factory, clock, "smartrecruiters", "Acme")
    assert counts(sync(session_factory, fetcher, clock, source)) == (150, 0, 0, 0, 0)
    offsets = [a.query["offset"] for a in boards.asked_of("smartrecruiters", "Acme")]
    assert offsets == ["0", "100"]
    first = listings_of(session_factory, source)["7440000000"]
    assert first.url == "https://jobs.smartrecruiters.com/Acme/7440000000"
    assert first.location == "Glasgow, Scotland, gb" and first.remote
    assert first.description == "Team: Finance. Type: Internship."


@pytest.mark.parametrize(
    ("provider", "bare", "unreadable"),
    [
        ("greenhouse", {"id": 7, "title": "Intern"}, {"title": "Intern without id"}),
        ("lever", {"id": "l7", "text": "Intern"}, {"id": "l8"}),
        ("ashby", {"id": "a7", "title": "Intern"}, {"id": "a8", "title": None}),
        ("smartrecruiters", {"id": "7", "name": "Intern"}, {"id": True, "name": "Intern"}),
    ],
)
def test_missing_optional_fields_never_crash_and_unreadable_postings_are_skipped(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    provider: str,
    bare: dict[str, Any],
    unreadable: dict[str, Any],
) -> None:
    boards.put(provider, "bare", [bare, unreadable, "not an object"])  # type: ignore[list-item]
    source = connect(session_factory, clock, provider, "bare")
    result = sync(session_factory, fetcher, clock, source)
    assert counts(result) == (1, 0, 0, 2, 0)
    (only,) = listings_of(session_factory, source).values()
    assert only.title == "Intern" and only.status == OpportunityStatus.OPEN
    with session_factory() as session:
        run = session.scalars(select(SourceRun)).one()
        assert run.skipped == 2 and run.error is not None
        # Stored as the problems' words and values, worded when shown (English here).
        no_id, not_an_object = worded(run.error).split("; ")
        assert (
            no_id.startswith("posting 2 has no ") and not_an_object == "posting 3 is not an object"
        )


def test_listings_url_is_read_by_the_importer(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    listing = {
        "id": "x1",
        "company_name": "Borealis Labs",
        "title": "Software Engineering Intern",
        "locations": ["York, UK"],
        "terms": ["Summer 2027"],
        "sponsorship": "Other",
        "active": True,
        "is_visible": True,
        "url": "https://example.org/apply/x1",
        "date_posted": 1763000000,
    }
    boards.put(
        "listings",
        "feed.json",
        [
            listing,
            {**listing, "id": "x2", "company_name": "Corvid & Co"},
            {**listing, "id": "x3", "active": False},
            {**listing, "id": "x4", "title": None},
        ],
    )
    url = f"{boards.url}/listings/feed.json"
    source = connect(session_factory, clock, "listings", url, organisation=None)
    assert counts(sync(session_factory, fetcher, clock, source)) == (2, 0, 0, 1, 0)
    found = listings_of(session_factory, source)
    assert {o.organisation.name for o in found.values()} == {"Borealis Labs", "Corvid & Co"}
    assert found["x1"].description == "Terms: Summer 2027. Sponsorship: Other."


# Sync


def test_changes_update_and_vanished_postings_close_telling_students_once(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
) -> None:
    add_school(session_factory, clock.now)
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A"), greenhouse_job(2, "Intern B")])
    source = connect(session_factory, clock, "greenhouse", "acme")
    sync(session_factory, fetcher, clock, source)
    found = listings_of(session_factory, source)
    saver, applicant, bystander = Chat(core, "ava"), Chat(core, "ben"), Chat(core, "cy")
    for chat in (saver, applicant, bystander):
        onboard(chat)
    saver.press_payload(f"sv:{found['2'].id}")
    applicant.press_payload(f"int:{found['2'].id}")
    applicant.send("no note")
    assert "will hear that you're interested" in applicant.text

    clock.advance(hours=6)
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A (paid)")])
    assert counts(sync(session_factory, fetcher, clock, source)) == (0, 1, 1, 0, 0)
    found = listings_of(session_factory, source)
    assert found["1"].title == "Intern A (paid)" and found["1"].status == OpportunityStatus.OPEN
    assert found["2"].status == OpportunityStatus.CLOSED
    for chat in (saver, applicant):
        (message,) = inbox(session_factory, chat, "listing_closed")
        assert "Intern B — Acme Ltd" in message[0] and "closed" in message[0]
    assert inbox(session_factory, bystander, "listing_closed") == []
    saver.press_payload(f"opp:{found['2'].id}")
    assert "no longer available" in saver.text

    clock.advance(hours=6)
    assert counts(sync(session_factory, fetcher, clock, source)) == (0, 0, 0, 0, 0)
    assert len(inbox(session_factory, saver, "listing_closed")) == 1


def test_a_board_unchanged_since_the_last_sync_answers_304(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A")])
    source = connect(session_factory, clock, "greenhouse", "acme")
    sync(session_factory, fetcher, clock, source)
    (first,) = boards.asked_of("greenhouse", "acme")
    assert "if-none-match" not in first.headers
    assert counts(sync(session_factory, fetcher, clock, source)) == (0, 0, 0, 0, 0)
    second = boards.asked_of("greenhouse", "acme")[1]
    assert second.headers["if-none-match"].startswith('"')
    assert listings_of(session_factory, source)["1"].status == OpportunityStatus.OPEN


def test_an_error_is_retried_with_backoff_and_three_failed_runs_pause_the_source(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
    waits: list[float],
) -> None:
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    with session_factory() as session:
        teacher_id = session.scalars(select(Person.id).where(Person.role == Role.TEACHER)).one()
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A")])
    source = connect(session_factory, clock, "greenhouse", "acme", teacher=teacher_id)
    sync(session_factory, fetcher, clock, source)

    # One 503 then the answer: a retry after a backoff, and the run succeeds.
    boards.fail("greenhouse", "acme", 503)
    clock.advance(hours=6)
    assert sync(session_factory, fetcher, clock, source).errors == 0
    assert waits == [2.0]

    boards.fail("greenhouse", "acme", *[500] * 9)
    for attempt in range(3):
        clock.advance(hours=6)
        result = sync(session_factory, fetcher, clock, source)
        assert result.errors == 1 and result.paused == (attempt == 2)
        assert "error (500)" in (result.error or "")
    # Three attempts per run, and the waits between them grow and stay bounded.
    assert waits[1:] == [2.0, 4.0] * 3
    with session_factory() as session:
        row = session.get(Source, source)
        assert row is not None and row.status == SourceStatus.PAUSED
    assert listings_of(session_factory, source)["1"].status == OpportunityStatus.OPEN
    (message,) = inbox(session_factory, teacher, "source_paused")
    assert "paused #1 Acme Ltd on Greenhouse (acme)" in message[0] and "3 times" in message[0]
    # A paused source is not due.
    clock.advance(hours=12)
    assert sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY) == []


@pytest.mark.parametrize(
    "payload", [b'{"jobs": "none"}', b"<html>maintenance</html>", b"[1, 2]", b'{"meta": {}}']
)
def test_a_bad_payload_changes_nothing(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    payload: bytes,
) -> None:
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A")])
    source = connect(session_factory, clock, "greenhouse", "acme")
    sync(session_factory, fetcher, clock, source)
    boards.raw[("greenhouse", "acme")] = payload
    result = sync(session_factory, fetcher, clock, source)
    assert result.errors == 1 and result.closed == 0
    assert listings_of(session_factory, source)["1"].status == OpportunityStatus.OPEN


def test_an_unknown_board_fails_with_a_clear_reason(
    session_factory: sessionmaker[Session], clock: FakeClock, fetcher: Fetcher, waits: list[float]
) -> None:
    source = connect(session_factory, clock, "lever", "nobody")
    result = sync(session_factory, fetcher, clock, source)
    assert result.error == "the board was not found (404): check its name"
    # A 404 is not worth retrying.
    assert waits == []


def test_review_sources_put_new_postings_in_pending(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
) -> None:
    add_school(session_factory, clock.now)
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    with session_factory() as session:
        teacher_id = session.scalars(select(Person.id).where(Person.role == Role.TEACHER)).one()
    boards.put("ashby", "acme", [ashby_job("a1", "Logistics Intern")])
    source = connect(session_factory, clock, "ashby", "acme", review=True, teacher=teacher_id)
    sync(session_factory, fetcher, clock, source)
    listing = listings_of(session_factory, source)["a1"]
    assert listing.status == OpportunityStatus.PENDING
    (message,) = inbox(session_factory, teacher, "source_review")
    assert "1 new posting from #1 Acme Ltd on Ashby (acme)" in message[0]
    teacher.send("/pending")
    teacher.press("Approve")
    assert listings_of(session_factory, source)["a1"].status == OpportunityStatus.OPEN


def test_the_title_filter_is_the_sources_own(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put(
        "greenhouse", "acme", [greenhouse_job(1, "Nurse Trainee"), greenhouse_job(2, "Intern")]
    )
    source = connect(session_factory, clock, "greenhouse", "acme", title_filter="trainee")
    sync(session_factory, fetcher, clock, source)
    assert set(listings_of(session_factory, source)) == {"1"}
    everything = connect(session_factory, clock, "greenhouse", "acme2", title_filter="*")
    boards.put("greenhouse", "acme2", [greenhouse_job(3, "Accountant")])
    sync(session_factory, fetcher, clock, everything)
    assert set(listings_of(session_factory, everything)) == {"3"}


def test_a_board_is_connected_once_and_names_are_checked(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    connect(session_factory, clock, "greenhouse", "acme")
    for provider, board, organisation, problem in [
        ("greenhouse", "acme", "Acme Ltd", "already connected"),
        ("workday", "acme", "Acme Ltd", "don't know the provider"),
        ("lever", "../admin", "Acme Ltd", "doesn't look like a Lever board"),
        ("listings", "ftp://x", None, "full web address"),
        ("ashby", "acme", None, "which employer"),
    ]:
        with pytest.raises(SourceProblem, match=problem):
            connect(session_factory, clock, provider, board, organisation=organisation)


def test_scheduled_sync_takes_due_sources_only(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A")])
    source = connect(session_factory, clock, "greenhouse", "acme")
    (result,) = sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY)
    assert result.created == 1
    clock.advance(hours=5)
    assert sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY) == []
    clock.advance(hours=1)
    (result,) = sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY)
    assert result.source_id == source and counts(result) == (0, 0, 0, 0, 0)


def test_only_one_process_runs_the_scheduled_sync(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
) -> None:
    engine = session_factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("one process is supported on SQLite")
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A")])
    connect(session_factory, clock, "greenhouse", "acme")
    with held_lock(engine, "sources.sync") as ours:
        assert ours
        assert sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY) == []
    assert len(sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY)) == 1


def test_two_syncers_of_one_source_create_and_tell_once(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
) -> None:
    add_school(session_factory, clock.now)
    boards.put("greenhouse", "acme", [greenhouse_job(n, f"Intern {n}") for n in range(1, 21)])
    source = connect(session_factory, clock, "greenhouse", "acme")
    sync(session_factory, fetcher, clock, source)
    students = [Chat(core, user) for user in ("ava", "ben", "cyd")]
    found = listings_of(session_factory, source)
    for chat in students:
        onboard(chat)
        chat.press_payload(f"sv:{found['20'].id}")
    # The board changes: ten new postings, one gone.
    boards.put("greenhouse", "acme", [greenhouse_job(n, f"Intern {n}") for n in range(1, 20)]
               + [greenhouse_job(n, f"Intern {n}") for n in range(100, 110)])  # fmt: skip
    clock.advance(hours=6)
    results: list[RunResult] = []
    start = threading.Barrier(2)

    def syncer() -> None:
        start.wait()
        results.append(sync(session_factory, fetcher, clock, source))

    threads = [threading.Thread(target=syncer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts(r) for r in results) == [(0, 0, 0, 0, 0), (10, 0, 1, 0, 0)]
    assert len(listings_of(session_factory, source)) == 30
    with session_factory() as session:
        closed = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "listing_closed")
        ).all()
        assert len(closed) == 3


def test_listings_past_their_deadline_or_end_close_by_themselves(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    today = clock.now.date()
    past = add_opportunity(session_factory, clock.now, title="A", deadline=today - timedelta(2))
    due = add_opportunity(session_factory, clock.now, title="B", deadline=today)
    ended = add_opportunity(
        session_factory, clock.now, title="C", end_date=today - timedelta(days=2)
    )
    running = add_opportunity(
        session_factory, clock.now, title="D", end_date=today + timedelta(days=2)
    )
    assert close_expired(session_factory, clock.now, Timing()) == 2
    with session_factory() as session:
        status = {o.id: o.status for o in session.scalars(select(Opportunity)).all()}
    assert status == {
        past: OpportunityStatus.CLOSED,
        due: OpportunityStatus.OPEN,
        ended: OpportunityStatus.CLOSED,
        running: OpportunityStatus.OPEN,
    }
    assert close_expired(session_factory, clock.now, Timing()) == 0


def test_fake_boards_answer_in_the_documented_shapes(boards: FakeJobBoards) -> None:
    boards.put("smartrecruiters", "Acme", [smartrecruiters_posting(1, "Intern")])
    status, body, _ = boards.answer("/v1/companies/Acme/postings", {"limit": "10"}, {})
    assert status == 200
    assert set(json.loads(body)) == {"offset", "limit", "totalFound", "content"}
    status, _, _ = boards.answer("/v1/boards/unknown/jobs", {}, {})
    assert status == 404


# The command line


@pytest.fixture
def cli_env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, boards: FakeJobBoards) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPPBOT_DATABASE_URL", url)
    for provider in ("GREENHOUSE", "LEVER", "ASHBY", "SMARTRECRUITERS"):
        monkeypatch.setenv(f"OPPBOT_{provider}_API_URL", boards.url)
    return url


def test_cli_adds_lists_syncs_and_removes_sources(
    cli_env: str,
    boards: FakeJobBoards,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A"), greenhouse_job(2, "Chef")])
    boards.put("lever", "beta", [lever_posting(1, "Design Apprentice")])
    assert main(["sources", "add", "greenhouse", "acme", "--organisation", "Acme Ltd"]) == 0
    assert "Connected #1 Acme Ltd on Greenhouse (acme)" in capsys.readouterr().out
    assert (
        main(
            [
                "sources",
                "add",
                "lever",
                "beta",
                "--organisation",
                "Beta",
                "--school",
                "Hill",
                "--review",
                "--filter",
                "apprentice, trainee",
            ]
        )
        == 0
    )
    assert main(["sources", "add", "greenhouse", "acme", "--organisation", "Acme Ltd"]) == 2
    assert "already connected" in capsys.readouterr().err
    assert main(["sources", "list"]) == 0
    out = capsys.readouterr().out
    assert "#2 Beta on Lever (beta)" in out and "titles with: apprentice, trainee" in out
    assert "new postings wait in /pending" in out and out.count("not synced yet") == 2

    assert main(["sources", "sync"]) == 0
    out = capsys.readouterr().out
    assert "#1: 1 created, 0 updated, 0 closed, 1 skipped" in out
    assert "#2: 1 created" in out and "[" not in out
    # On a terminal, a progress bar.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["sources", "sync", "1"]) == 0
    out = capsys.readouterr().out
    assert f"\r[{'#' * 30}] 1/1" in out and "#1: 0 created, 0 updated" in out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert main(["sources", "list"]) == 0
    out = capsys.readouterr().out
    # Source 1 was unchanged (304) the second time; source 2's one run created its posting.
    assert out.count("last run") == 2
    assert "0 created, 0 updated, 0 closed, 0 skipped, 0 errors" in out
    assert "1 created, 0 updated, 0 closed, 0 skipped, 0 errors" in out

    assert main(["sources", "remove", "1"]) == 0
    assert "Removed #1 Acme Ltd on Greenhouse (acme); 1 of its listings closed." in (
        capsys.readouterr().out
    )
    assert main(["sources", "sync", "1"]) == 2
    assert "no source #1" in capsys.readouterr().err
    boards.fail("lever", "beta", 404)
    assert main(["sources", "sync", "2"]) == 1
    assert "failed: the board was not found (404)" in capsys.readouterr().out


# In chat


def test_teachers_connect_and_look_after_sources_in_chat(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
) -> None:
    add_school(session_factory, clock.now)
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    teacher.send("/sources")
    assert "No job boards are connected yet" in teacher.text
    before = row_counts(session_factory)
    for bad, problem in [
        ("/sources add workday acme Acme Ltd", "don't know the provider"),
        ("/sources add greenhouse acme", "the provider, the board and the employer"),
        ("/sources add lever <b>x</b> Acme", "doesn't look like a Lever board"),
        ("/sources frobnicate", "To connect a job board"),
    ]:
        teacher.send(bad)
        assert problem in teacher.text, teacher.text
    assert row_counts(session_factory) == before

    boards.put("greenhouse", "acme", [greenhouse_job(1, "Intern A"), greenhouse_job(2, "Chef")])
    teacher.send("/sources add greenhouse acme Acme Ltd")
    assert "Connected #1 Acme Ltd on Greenhouse (acme)" in teacher.text
    assert "not synced yet" in teacher.text
    sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY)
    teacher.send("/sources")
    assert "last run 23 Nov 2026 15:00: 1 created, 0 updated, 0 closed, 1 skipped" in teacher.text
    assert "new postings open at once" in teacher.text
    # The school that connected the board owns its listings.
    assert listings_of(session_factory, 1)["1"].owner_school_id == 1

    teacher.send("/sources filter 1 intern, chef")
    assert "titles with: intern, chef" in teacher.text
    teacher.press("Review first")
    assert "wait in /pending" in teacher.text
    sync_due(session_factory, clock.now, Timing(), fetcher=fetcher, every=EVERY)
    chef = listings_of(session_factory, 1)["2"]
    assert chef.status == OpportunityStatus.PENDING

    teacher.press("Pause")
    assert "paused (paused by Tess)" in teacher.text
    teacher.press("Sync now")
    assert "press Resume first" in teacher.text
    teacher.send("/sources")
    teacher.press("Resume")
    assert "Resumed" in teacher.text and "active" in teacher.text

    # Another school's teacher neither sees nor touches it; students can't at all.
    add_school(session_factory, clock.now, school="Hill School", code="HILL-10")
    other = Chat(core, "otto")
    join_with_invite(session_factory, clock.now, other, Role.TEACHER)
    with session_factory.begin() as session:
        otto = session.scalars(select(Person).where(Person.name == "Otto")).one()
        otto.school_id = 2
    other.send("/sources")
    assert "No job boards are connected yet" in other.text
    other.press_payload("src:remove:1")
    assert "can't find that source" in other.text
    student = Chat(core, "ava")
    onboard(student)
    student.send("/sources")
    assert "only for" in student.text

    teacher.send("/sources")
    teacher.press("Remove")
    assert "Remove #1 Acme Ltd on Greenhouse (acme)?" in teacher.text
    teacher.press("Keep it")
    teacher.press("Remove")
    teacher.press("Yes, remove it")
    assert "Removed #1 Acme Ltd on Greenhouse (acme); 2 of its listings closed." in teacher.text
    assert all(
        o.status == OpportunityStatus.CLOSED for o in listings_of(session_factory, 1).values()
    )


# Students report problems


def test_two_students_reports_hide_a_listing_until_a_teacher_restores_or_closes_it(
    session_factory: sessionmaker[Session], clock: FakeClock, core: Core
) -> None:
    add_school(session_factory, clock.now)
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    listing = add_opportunity(session_factory, clock.now, title="Robotics intern")
    ava, ben, cyd = Chat(core, "ava"), Chat(core, "ben"), Chat(core, "cyd")
    for chat in (ava, ben, cyd):
        onboard(chat)
    cyd.press_payload(f"sv:{listing}")

    ava.press_payload(f"opp:{listing}")
    ava.press("Report a problem")
    assert "What's wrong with Robotics intern?" in ava.text
    ava.press("The link is broken")
    assert "Thank you" in ava.text and "if others find the same" in ava.text
    ava.press_payload(f"rep:{listing}:closed")
    assert "already reported" in ava.text
    ben.press_payload(f"opp:{listing}")
    assert "Robotics intern" in ben.text
    ben.press_payload(f"rep:{listing}:bogus")
    assert "doesn't work any more" in ben.text

    # The second student's report hides it from everyone.
    ben.press_payload(f"rep:{listing}:closed")
    assert "hidden from students until a teacher checks it" in ben.text
    cyd.send("/browse")
    assert "no open opportunities" in cyd.text
    (message,) = inbox(session_factory, teacher, "listing_reported")
    assert "link broken: 1" in message[0] and "closed: 1" in message[0]
    assert [b.label for b in message[1]] == ["Restore", "Close it"]

    teacher.send("/pending")
    assert f"Reported #{listing} (link broken: 1, closed: 1)" in teacher.text
    assert "Proposal" not in teacher.text
    teacher.press("Restore")
    assert "Students can find it again" in teacher.text
    cyd.send("/browse")
    assert "Robotics intern" in cyd.text
    teacher.press_payload(f"rpc:{listing}")
    assert "already dealt with" in teacher.text

    # Reported again by two students after the restore: hidden again, then closed; the
    # student who saved it is told.
    cyd.press_payload(f"rep:{listing}:duplicate")
    ava.press_payload(f"rep:{listing}:closed")
    assert "hidden" in ava.text
    assert len(inbox(session_factory, teacher, "listing_reported")) == 2
    teacher.send("/pending")
    teacher.press("Close it")
    assert "Closed: Robotics intern" in teacher.text
    with session_factory() as session:
        row = session.get(Opportunity, listing)
        assert row is not None and row.status == OpportunityStatus.CLOSED
    (told,) = inbox(session_factory, cyd, "listing_closed")
    assert "Robotics intern — Acme Ltd" in told[0]
    teacher.send("/pending")
    assert "No proposals are waiting" in teacher.text


def test_a_posting_back_on_the_board_reopens_unless_a_teacher_closed_it(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    fetcher: Fetcher,
    boards: FakeJobBoards,
    core: Core,
) -> None:
    add_school(session_factory, clock.now)
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    both = [greenhouse_job(1, "Intern A"), greenhouse_job(2, "Intern B")]
    boards.put("greenhouse", "acme", both)
    source = connect(session_factory, clock, "greenhouse", "acme")
    sync(session_factory, fetcher, clock, source)
    teacher.send(f"/close {listings_of(session_factory, source)['1'].id}")
    boards.put("greenhouse", "acme", [])
    assert counts(sync(session_factory, fetcher, clock, source)) == (0, 0, 1, 0, 0)
    boards.put("greenhouse", "acme", both)
    assert counts(sync(session_factory, fetcher, clock, source)) == (0, 1, 0, 0, 0)
    found = listings_of(session_factory, source)
    assert found["1"].status == OpportunityStatus.CLOSED
    assert found["2"].status == OpportunityStatus.OPEN
