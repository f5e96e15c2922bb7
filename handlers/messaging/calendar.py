"""/calendar: a student's deadlines, events and reminders as an iCalendar (.ics) file.

Written with the icalendar package (RFC 5545: escaping, folding, CRLF line ends): a stable UID per
item (so importing the file again updates instead of duplicating), DTSTAMP, and times in UTC;
deadlines are all-day events.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core import STUDENTS, Attachment, Context, Registry, Reply
from bot.i18n import N_, _, _n, fmt_list
from handlers.common import headline
from handlers.messaging.reminders import Scope, attending_pairs, followed
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


@dataclass(frozen=True)
class Entry:
    kind: str  # deadline, event or reminder
    uid: str
    summary: str
    start: datetime | date
    description: str = ""
    url: str | None = None


def clean(text: str) -> str:
    """``text`` without control characters, which no calendar shows; line breaks stay.

    icalendar reads a backslash followed by a capital N as a line break (its documented
    shorthand), so such a pair in a title shows as one.
    """
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs"))


def event(entry: Entry, now: datetime) -> icalendar.Event:
    """One entry as a VEVENT: a time in UTC, or a whole day for a date."""
    vevent = icalendar.Event()
    vevent.add("uid", entry.uid)
    vevent.add("dtstamp", now.astimezone(UTC))
    if isinstance(entry.start, datetime):
        vevent.add("dtstart", entry.start.astimezone(UTC))
    else:
        vevent.add("dtstart", entry.start)
        vevent.add("dtend", entry.start + timedelta(days=1))
    vevent.add("summary", clean(entry.summary))
    if entry.description:
        vevent.add("description", clean(entry.description))
    if entry.url and entry.url.isprintable() and " " not in entry.url:
        vevent.add("url", entry.url)
    return vevent


def ics(entries: Iterable[Entry], now: datetime) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "oppbot")
    for entry in entries:
        calendar.add_component(event(entry, now))
    # In the order written: the calendar's header first, then each event's UID and times.
    content: bytes = calendar.to_ical(sorted=False)
    return content


def entries_for(ctx: Context) -> list[Entry]:
    """Deadlines of what the student follows, their events, and their pending reminders."""
    return [*_deadlines(ctx), *_events(ctx), *_reminders(ctx)]


def _deadlines(ctx: Context) -> list[Entry]:
    """The deadline of each open opportunity the student saved or registered interest in."""
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
                summary=_("Deadline: {title}", title=headline(opportunity)),
                start=opportunity.deadline,
                description=_("Last day to apply."),
                url=opportunity.url,
            )
        )
    return entries


def _events(ctx: Context) -> list[Entry]:
    """One event per invitation: the time it was last given (a moved interview keeps the
    reminders already sent for the old time), while the student is still invited or placed."""
    person_id = ctx.person.id
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
    entries = []
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
    return entries


def _reminders(ctx: Context) -> list[Entry]:
    """The reminders the student set themselves that are still to come."""
    return [
        Entry(
            kind="reminder",
            uid=f"reminder-{reminder.id}@oppbot",
            summary=_("Reminder: {text}", text=reminder.text),
            start=reminder.due_at,
        )
        for reminder in ctx.session.scalars(
            select(Reminder)
            .where(
                Reminder.person_id == ctx.person.id,
                Reminder.kind == ReminderKind.CUSTOM,
                Reminder.status == ReminderStatus.PENDING,
            )
            .order_by(Reminder.due_at, Reminder.id)
        )
    ]


def _count(n: int, kind: str) -> str:
    if kind == "deadline":
        return _n("{n} deadline", "{n} deadlines", n)
    if kind == "event":
        return _n("{n} event", "{n} events", n)
    return _n("{n} reminder", "{n} reminders", n)


@registry.command(
    "calendar", "ics", roles=STUDENTS, help=N_("my deadlines and reminders as a calendar file")
)
def calendar(ctx: Context, args: str) -> list[Reply]:
    entries = entries_for(ctx)
    if not entries:
        return [
            Reply(
                _(
                    "Your calendar is empty so far. Save an opportunity or register interest, "
                    "and its deadline goes in; /remind adds reminders."
                )
            )
        ]
    counts = [(sum(e.kind == kind for e in entries), kind) for kind in KINDS]
    parts = [_count(n, kind) for n, kind in counts if n]
    return [
        Reply(
            _(
                "Here's your calendar: {listed}. Open the file to add them to your calendar "
                "app. It doesn't update by itself: send /calendar again after changes.",
                listed=fmt_list(parts),
            ),
            file=Attachment("oppbot.ics", ics(entries, ctx.now), "text/calendar"),
        )
    ]
