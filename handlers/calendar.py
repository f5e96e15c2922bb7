"""/calendar: a student's deadlines, events and reminders as an iCalendar (.ics) file.

Written by hand to RFC 5545 (it is small): CRLF line endings, lines folded at 75 octets,
escaped text, a stable UID per item (so importing the file again updates instead of
duplicating), DTSTAMP, and times in UTC; deadlines are all-day events.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core import STUDENTS, Attachment, Context, Registry, Reply
from handlers.present import headline
from handlers.reminders import Scope, attending_pairs, followed
from storage.models import (
    Opportunity,
    OpportunityStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
)

registry = Registry()

PRODID = "-//oppbot//calendar export//EN"
KINDS = ("deadline", "event", "reminder")
MAX_OCTETS = 75


@dataclass(frozen=True)
class Entry:
    kind: str  # deadline, event or reminder
    uid: str
    summary: str
    start: datetime | date
    description: str = ""
    url: str | None = None


def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11), with control characters dropped."""
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> list[str]:
    """Split a content line into pieces of at most 75 octets, never inside a character."""
    pieces: list[str] = []
    current, size = "", 0
    for ch in line:
        width = len(ch.encode())
        if size + width > MAX_OCTETS:
            pieces.append(current)
            # A continuation line starts with a space, which counts towards its 75 octets.
            current, size = " ", 1
        current += ch
        size += width
    pieces.append(current)
    return pieces


def _utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def ics(entries: Iterable[Entry], now: datetime) -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:oppbot",
    ]
    for entry in entries:
        lines += ["BEGIN:VEVENT", f"UID:{entry.uid}", f"DTSTAMP:{_utc(now)}"]
        if isinstance(entry.start, datetime):
            lines.append(f"DTSTART:{_utc(entry.start)}")
        else:
            lines.append(f"DTSTART;VALUE=DATE:{entry.start:%Y%m%d}")
            lines.append(f"DTEND;VALUE=DATE:{entry.start + timedelta(days=1):%Y%m%d}")
        lines.append(f"SUMMARY:{escape(entry.summary)}")
        if entry.description:
            lines.append(f"DESCRIPTION:{escape(entry.description)}")
        if entry.url and entry.url.isprintable() and " " not in entry.url:
            lines.append(f"URL:{entry.url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(piece + "\r\n" for line in lines for piece in fold(line)).encode()


def entries_for(ctx: Context) -> list[Entry]:
    """Deadlines of what the student follows, their events, and their pending reminders."""
    person_id = ctx.person.id
    entries = []
    opportunity_ids = {o for _, o in followed(ctx.session, Scope(frozenset({person_id})))}
    for opportunity in ctx.session.scalars(
        select(Opportunity)
        .where(
            Opportunity.id.in_(opportunity_ids),
            Opportunity.status == OpportunityStatus.OPEN,
            Opportunity.deadline.is_not(None),
        )
        .options(selectinload(Opportunity.organisation))
        .order_by(Opportunity.deadline, Opportunity.id)
    ):
        assert opportunity.deadline is not None
        entries.append(
            Entry(
                kind="deadline",
                uid=f"deadline-{opportunity.id}-{person_id}@oppbot",
                summary=f"Deadline: {headline(opportunity)}",
                start=opportunity.deadline,
                description="Last day to apply.",
                url=opportunity.url,
            )
        )
    # One event per invitation: the time it was last given (a moved interview keeps the reminders
    # already sent for the old time), while the student is still invited or placed.
    events: dict[int | None, Reminder] = {}
    for reminder in ctx.session.scalars(
        select(Reminder)
        .where(
            Reminder.person_id == person_id,
            Reminder.kind == ReminderKind.EVENT,
            Reminder.status != ReminderStatus.CANCELLED,
            Reminder.event_at.is_not(None),
        )
        .order_by(Reminder.created_at.desc(), Reminder.id.desc())
    ):
        events.setdefault(reminder.opportunity_id, reminder)
    attending = attending_pairs(ctx.session, {(person_id, o) for o in events})
    for opportunity_id, reminder in sorted(events.items(), key=lambda e: e[1].event_at or ctx.now):
        event_at = reminder.event_at
        assert event_at is not None
        if (person_id, opportunity_id) not in attending:
            continue
        entries.append(
            Entry(
                kind="event",
                uid=f"event-{opportunity_id}-{person_id}-{event_at:%Y%m%dT%H%M%SZ}@oppbot",
                summary=reminder.text,
                start=event_at,
            )
        )
    for reminder in ctx.session.scalars(
        select(Reminder)
        .where(
            Reminder.person_id == person_id,
            Reminder.kind == ReminderKind.CUSTOM,
            Reminder.status == ReminderStatus.PENDING,
        )
        .order_by(Reminder.due_at, Reminder.id)
    ):
        entries.append(
            Entry(
                kind="reminder",
                uid=f"reminder-{reminder.id}@oppbot",
                summary=f"Reminder: {reminder.text}",
                start=reminder.due_at,
            )
        )
    return entries


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@registry.command(
    "calendar", "ics", roles=STUDENTS, help="my deadlines and reminders as a calendar file"
)
def calendar(ctx: Context, args: str) -> list[Reply]:
    entries = entries_for(ctx)
    if not entries:
        return [
            Reply(
                "Your calendar is empty so far. Save an opportunity or register interest, "
                "and its deadline goes in; /remind adds reminders."
            )
        ]
    counts = [(sum(e.kind == kind for e in entries), kind) for kind in KINDS]
    parts = [_count(n, kind) for n, kind in counts if n]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return [
        Reply(
            f"Here's your calendar: {listed}. Open the file to add them to your "
            "calendar app. It doesn't update by itself: send /calendar again after changes.",
            file=Attachment("oppbot.ics", ics(entries, ctx.now), "text/calendar"),
        )
    ]
