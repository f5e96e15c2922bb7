"""/calendar: the .ics export is valid RFC 5545 that a calendar app can read."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import icalendar
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.console import ConsoleChat
from bot.core import Core, Timing
from handlers.messaging.calendar import Entry, ics
from handlers.messaging.reminders import schedule_event_reminders
from storage.db import transaction
from storage.models import (
    Interest,
    InterestStatus,
    Opportunity,
    Person,
    Reminder,
    ReminderStatus,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard, person_id

TITLE = 'Robots, lasers; "back\\slash" & a very long name: Überlänge für Résumé-Werkstatt ✓✓✓'


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    add_school(session_factory, clock.now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat)
    return chat


@pytest.fixture
def ada(snapshot: Snapshot) -> Chat:
    return snapshot(_ada)


def fill_calendar(ada: Chat, factory: sessionmaker[Session], clock: FakeClock) -> int:
    oid = add_opportunity(
        factory, clock.now, title=TITLE, deadline=date(2026, 12, 10), url="https://acme.example/a"
    )
    ada.press_payload(f"sv:{oid}")
    ada.send("/remind tomorrow 5pm to email Acme, politely\nand soon")
    with transaction(factory) as session:
        person = session.get(Person, person_id(factory, ada))
        opportunity = session.get(Opportunity, oid)
        assert person is not None and opportunity is not None
        # The employer invited her for the interview.
        session.add(
            Interest(
                person_id=person.id,
                opportunity_id=oid,
                status=InterestStatus.INVITED,
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
        schedule_event_reminders(
            session,
            person,
            opportunity,
            utc(2026, 11, 30, 14, 0),
            now=clock.now,
            timing=Timing(),
            what="Interview",
        )
    return oid


def unfold(content: bytes) -> list[str]:
    text = content.decode()
    assert text.endswith("\r\n")
    physical = text.split("\r\n")[:-1]
    for line in physical:
        assert "\n" not in line and "\r" not in line
        assert len(line.encode()) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def test_the_export_holds_deadlines_events_and_reminders(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    oid = fill_calendar(ada, session_factory, clock)
    pid = person_id(session_factory, ada)
    ada.send("/calendar")
    assert ada.text.startswith("Here's your calendar: 1 deadline, 1 event and 1 reminder.")
    (reply,) = ada.replies
    assert reply.file is not None
    assert (reply.file.filename, reply.file.mime) == ("oppbot.ics", "text/calendar")

    lines = unfold(reply.file.content)
    assert lines[:6] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//oppbot//calendar export//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:oppbot",
    ]
    assert lines[-1] == "END:VCALENDAR"
    events = "\n".join(lines).split("BEGIN:VEVENT\n")[1:]
    assert len(events) == 3
    deadline, event, reminder = (e.split("\nEND:VEVENT")[0].split("\n") for e in events)
    escaped = (
        'Robots\\, lasers\\; "back\\\\slash" & a very long name: '
        "Überlänge für Résumé-Werkstatt ✓✓✓ — Acme Ltd"
    )
    assert deadline == [
        f"UID:deadline-{oid}-{pid}@oppbot",
        "DTSTAMP:20261123T150000Z",
        "DTSTART;VALUE=DATE:20261210",
        "DTEND;VALUE=DATE:20261211",
        f"SUMMARY:Deadline: {escaped}",
        "DESCRIPTION:Last day to apply.",
        "URL:https://acme.example/a",
    ]
    assert event == [
        f"UID:event-{oid}-{pid}-20261130T140000Z@oppbot",
        "DTSTAMP:20261123T150000Z",
        "DTSTART:20261130T140000Z",
        f"SUMMARY:Interview: {escaped}",
    ]
    assert reminder[1:] == [
        "DTSTAMP:20261123T150000Z",
        "DTSTART:20261124T170000Z",
        "SUMMARY:Reminder: email Acme\\, politely\\nand soon",
    ]
    assert reminder[0].startswith("UID:reminder-") and reminder[0].endswith("@oppbot")


def test_a_moved_event_shows_its_new_time_and_a_withdrawn_one_goes(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    oid = fill_calendar(ada, session_factory, clock)
    pid = person_id(session_factory, ada)
    with transaction(session_factory) as session:
        # The day-before reminder of 30 Nov 14:00 has gone out.
        day_before = session.scalars(select(Reminder).order_by(Reminder.due_at)).all()[1]
        assert day_before.due_at == utc(2026, 11, 29, 14, 0)
        day_before.status = ReminderStatus.QUEUED
        person = session.get(Person, pid)
        opportunity = session.get(Opportunity, oid)
        assert person is not None and opportunity is not None
        schedule_event_reminders(
            session, person, opportunity, utc(2026, 12, 2, 10, 0), now=clock.now, timing=Timing()
        )
    ada.send("/calendar")
    assert ada.replies[0].file is not None
    starts = [line for line in unfold(ada.replies[0].file.content) if line.startswith("DTSTART:")]
    assert "DTSTART:20261202T100000Z" in starts
    assert "DTSTART:20261130T140000Z" not in starts

    ada.send("/mine")
    ada.press("Withdraw 1")
    ada.press("Yes, withdraw")
    ada.send("/calendar")
    # Withdrawing ends the deadline reminders too, even for a saved opportunity.
    assert ada.text.startswith("Here's your calendar: 1 reminder.")


def test_a_calendar_app_reads_it_back(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    fill_calendar(ada, session_factory, clock)
    ada.send("/calendar")
    file = ada.replies[0].file
    assert file is not None
    calendar = icalendar.Calendar.from_ical(file.content)
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        f"Deadline: {TITLE} — Acme Ltd",
        f"Interview: {TITLE} — Acme Ltd",
        "Reminder: email Acme, politely\nand soon",
    }
    assert events[f"Deadline: {TITLE} — Acme Ltd"].decoded("DTSTART") == date(2026, 12, 10)
    assert events["Reminder: email Acme, politely\nand soon"].decoded("DTSTART") == utc(
        2026, 11, 24, 17, 0
    )
    assert len({str(e["UID"]) for e in events.values()}) == 3


def test_an_empty_calendar_sends_no_file(ada: Chat) -> None:
    ada.send("/calendar")
    assert ada.text.startswith("Your calendar is empty so far.")
    assert ada.replies[0].file is None
    ada.send("/remind tomorrow 5pm to call Acme")
    ada.send("/calendar")
    assert ada.text.startswith("Here's your calendar: 1 reminder.")


def test_text_is_escaped_folded_and_cleaned_of_control_characters() -> None:
    summary = "a,b;c\\d\ne\x00f " + "é" * 100
    content = ics(
        [Entry("reminder", "reminder-1@oppbot", summary, utc(2026, 11, 24, 17, 0))],
        utc(2026, 11, 23, 15, 0),
    )
    # ``unfold`` checks every physical line holds at most 75 octets.
    assert "SUMMARY:a\\,b\\;c\\\\d\\nef " + "é" * 100 in unfold(content)
    (event,) = icalendar.Calendar.from_ical(content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "a,b;c\\d\nef " + "é" * 100


def test_the_console_saves_the_file_in_the_current_directory(
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ada: Chat,
) -> None:
    monkeypatch.chdir(tmp_path)
    fill_calendar(ada, session_factory, clock)
    out = io.StringIO()
    ConsoleChat(core, session_factory, "ada", out).say("/calendar")
    assert f"[file] {tmp_path / 'oppbot.ics'}" in out.getvalue()
    assert (tmp_path / "oppbot.ics").read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
