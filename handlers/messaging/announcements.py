"""Teachers' announcements: write, choose who, preview, send now or later, see the delivery.

The announcement is stored as a draft once its text is written, so that every button names it
by id (and is re-checked against it). Recipients are the students of the author's school that
the audience describes, worked out when it is sent; each gets one outbox row on whatever
platform they use, linked to the announcement for its delivery report. Students in their quiet
hours get it when those end, unless the teacher sends it as urgent (``"urgent": true`` in the
audience, chosen in the preview, now or scheduled).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import (
    DIALOG,
    STAFF,
    Button,
    Context,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from handlers import actions
from handlers.common import (
    ACTIVE,
    STAFF_ROLES,
    clip,
    example_moment,
    fmt_when,
    headline,
    is_number,
    opportunity_arg,
    parse_id,
    person_zone,
    school_cohorts,
    staff_school,
)
from storage.db import transaction
from storage.models import (
    Announcement,
    AnnouncementStatus,
    Cohort,
    Interest,
    Opportunity,
    OutboxMessage,
    OutboxStatus,
    Person,
    PersonTag,
    Role,
)
from storage.outbox import Outgoing, QuietHours, enqueue, enqueue_many
from storage.tags import TAGS

registry = Registry()

MAX_TEXT = 2000
MAX_AHEAD = timedelta(days=365)
_WHEN = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})")
A = AnnouncementStatus
# The last part of a Send or Schedule button's payload that ignores quiet hours.
URGENT = "urgent"


# --- Who receives it --------------------------------------------------------------------------


def recipients(session: Session, announcement: Announcement) -> list[Person]:
    """The students of the author's school that the audience describes, each once."""
    audience = announcement.audience
    query = (
        select(Person)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Cohort.school_id == announcement.school_id, Person.role == Role.STUDENT)
    )
    match audience.get("type"):
        case "school":
            pass
        case "cohorts":
            query = query.where(Person.cohort_id.in_(audience.get("ids", [])))
        case "tag":
            query = query.where(
                Person.id.in_(select(PersonTag.person_id).where(PersonTag.tag == audience["tag"]))
            )
        case "opportunity":
            interested = select(Interest.person_id).where(
                Interest.opportunity_id == audience["id"], Interest.status.in_(ACTIVE)
            )
            query = query.where(Person.id.in_(interested))
        case "students":
            query = query.where(Person.id.in_(audience.get("ids", [])))
        case _:
            return []
    return list(session.scalars(query.order_by(Person.id)))


def describe(session: Session, announcement: Announcement) -> str:
    """The audience in words, as the preview and the report show it."""
    audience = announcement.audience
    match audience.get("type"):
        case "school":
            return f"everyone at {announcement.school.name}"
        case "cohorts":
            names = session.scalars(
                select(Cohort.name)
                .where(Cohort.id.in_(audience.get("ids", [])))
                .order_by(Cohort.name)
            ).all()
            return ", ".join(names) or "no classes"
        case "tag":
            return f"students interested in {TAGS.get(audience['tag'], audience['tag'])}"
        case "opportunity":
            opportunity = session.get(Opportunity, audience["id"])
            what = headline(opportunity) if opportunity is not None else "a removed opportunity"
            return f"students interested in {what}"
        case "students":
            return "the students chosen from /evidence"
        case _:
            return "nobody yet"


def _students(count: int) -> str:
    return f"{count} student{'' if count == 1 else 's'}"


def is_urgent(announcement: Announcement) -> bool:
    """Whether the teacher chose to send it even to students in their quiet hours."""
    return announcement.audience.get("urgent") is True


def _mark_urgent(announcement: Announcement, urgent: bool) -> None:
    # Only at the final step (send or schedule): choosing the audience rewrites the whole
    # dict, so a flag set earlier would be lost; a new dict so the JSON change is saved.
    if urgent:
        announcement.audience = {**announcement.audience, "urgent": True}


# --- Sending ----------------------------------------------------------------------------------


def send(
    session: Session, announcement: Announcement, now: datetime, quiet: QuietHours | None
) -> int:
    """Queue the announcement for each recipient, once; returns how many students it targets.

    Students in their quiet hours get it when those end (``quiet``; None sends at once), unless
    the announcement is urgent.
    """
    people = recipients(session, announcement)
    text = f"Announcement from {announcement.school.name}:\n\n{announcement.text}"
    written = enqueue_many(
        session,
        [
            Outgoing(person, text, "announcement", f"ann:{announcement.id}:{person.id}")
            for person in people
        ],
        now=now,
        quiet=None if is_urgent(announcement) else quiet,
    )
    if written:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.in_(written))
            .values(announcement_id=announcement.id)
        )
    announcement.status = A.SENT
    announcement.sent_at = now
    announcement.recipient_count = len(people)
    return len(people)


def send_due_announcements(
    session: Session, now: datetime, *, quiet: QuietHours | None = None
) -> int:
    """Send every scheduled announcement whose time has come; returns how many were sent.

    Called by the scheduler. Each is claimed with its row lock (skipping rows another worker
    holds) and marked sent in the same transaction as its outbox rows, so it goes out once.
    """
    due = session.scalars(
        select(Announcement)
        .where(Announcement.status == A.SCHEDULED, Announcement.scheduled_for <= now)
        .order_by(Announcement.scheduled_for, Announcement.id)
        .with_for_update(skip_locked=True)
    ).all()
    for announcement in due:
        send(session, announcement, now, quiet)
    return len(due)


def report_deliveries(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 100
) -> int:
    """Tell each author how their announcement was delivered, once none of its messages is
    pending any more (each sent, or given up on); returns how many were reported.

    Run by the scheduler. The outbox can only send new messages, so the author gets a short
    follow-up to their "Sending to ..." confirmation. Each announcement is claimed with its row
    lock and marked reported in the transaction that queues the message, so it is told once.
    """
    pending = select(OutboxMessage.id).where(
        OutboxMessage.announcement_id == Announcement.id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    with transaction(session_factory) as session:
        done = session.scalars(
            select(Announcement)
            .where(
                Announcement.status == A.SENT,
                Announcement.delivery_reported_at.is_(None),
                ~pending.exists(),
            )
            .order_by(Announcement.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for announcement in done:
            announcement.delivery_reported_at = now
            author = announcement.author
            if author is None or author.role not in STAFF_ROLES:
                continue
            enqueue(
                session,
                author,
                f"{delivered(session, announcement)}: {clip(announcement.text, 80)}",
                kind="announcement_delivered",
                key=f"ann-delivered:{announcement.id}",
                now=now,
                buttons=stored_buttons(
                    [[Button("Delivery report", actions.ANNOUNCE_REPORT.payload(announcement.id))]]
                ),
            )
        return len(done)


def delivered(session: Session, announcement: Announcement) -> str:
    """How a finished announcement went, in one line: "Announcement #3 delivered to 10
    students, 1 unreachable"."""
    counts = _outcomes(session, announcement)
    # Students with no account the bot can reach got no row at all.
    missing = max((announcement.recipient_count or 0) - sum(counts.values()), 0)
    unreachable = (
        counts.get(OutboxStatus.UNREACHABLE, 0) + counts.get(OutboxStatus.FAILED, 0) + missing
    )
    text = (
        f"Announcement #{announcement.id} delivered to "
        f"{_students(counts.get(OutboxStatus.SENT, 0))}"
    )
    return text + (f", {unreachable} unreachable" if unreachable else "")


def _outcomes(session: Session, announcement: Announcement) -> dict[OutboxStatus, int]:
    """How many of the announcement's outbox rows are in each state."""
    return dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.announcement_id == announcement.id)
            .group_by(OutboxMessage.status)
        ).all()
    )


# --- The teacher's flow -----------------------------------------------------------------------


@registry.command("announce", roles=STAFF, help="send an announcement to students")
def announce(ctx: Context, args: str) -> list[Reply]:
    staff_school(ctx)
    if args.strip():
        return _drafted(ctx, args)
    ctx.start_dialog("announce_text")
    return [
        Reply(
            f"What's your message for students? Type it now (up to {MAX_TEXT} characters).",
            ((Button("Cancel", actions.ANNOUNCE_CANCEL.payload()),),),
        )
    ]


@registry.dialog("announce_text")
def text_typed(ctx: Context, text: str, dialog: dict[str, Any]) -> list[Reply]:
    return _drafted(ctx, text)


def _drafted(ctx: Context, text: str) -> list[Reply]:
    message = text.strip()
    if len(message) > MAX_TEXT:
        raise UserError(f"Please keep it under {MAX_TEXT} characters.")
    school = staff_school(ctx)
    ctx.clear_state(DIALOG)
    announcement = Announcement(
        author_id=ctx.person.id,
        school_id=school.id,
        text=message,
        audience={},
        status=A.DRAFT,
        created_at=ctx.now,
    )
    ctx.session.add(announcement)
    ctx.session.flush()
    return [_audience_question(announcement)]


def draft_for_students(ctx: Context, ids: list[int], text: str) -> tuple[int, Reply]:
    """A draft to these students of the teacher's school (the ones /evidence found without an
    encounter), and its preview: the teacher sends or schedules it as any announcement."""
    school = staff_school(ctx)
    announcement = Announcement(
        author_id=ctx.person.id,
        school_id=school.id,
        text=text,
        audience={"type": "students", "ids": sorted(ids)},
        status=A.DRAFT,
        created_at=ctx.now,
    )
    ctx.session.add(announcement)
    ctx.session.flush()
    return announcement.id, _preview(ctx, announcement)


def retext_draft(ctx: Context, raw_id: str, text: str) -> Reply:
    """The teacher's own words for a draft whose audience is chosen, and its new preview."""
    announcement = _draft(ctx, raw_id)
    message = text.strip()
    if len(message) > MAX_TEXT:
        raise UserError(f"Please keep it under {MAX_TEXT} characters.")
    ctx.clear_state(DIALOG)
    announcement.text = message
    return _preview(ctx, announcement)


def _audience_question(announcement: Announcement) -> Reply:
    aid = announcement.id
    return Reply(
        "Who should get it?",
        (
            (
                Button(
                    f"Everyone at {announcement.school.name}"[:40],
                    actions.ANNOUNCE_AUDIENCE.payload(aid, "school"),
                ),
            ),
            (
                Button("Classes", actions.ANNOUNCE_AUDIENCE.payload(aid, "cohorts")),
                Button("A field", actions.ANNOUNCE_AUDIENCE.payload(aid, "tags")),
            ),
            (
                Button(
                    "Interested in an opportunity", actions.ANNOUNCE_AUDIENCE.payload(aid, "opp")
                ),
            ),
            (Button("Cancel", actions.ANNOUNCE_CANCEL.payload(aid)),),
        ),
    )


def _draft(
    ctx: Context, raw_id: str | None, *, statuses: tuple[A, ...] = (A.DRAFT,)
) -> Announcement:
    """The author's own announcement, if it can still be changed."""
    announcement = ctx.session.get(Announcement, parse_id(raw_id))
    if announcement is None or announcement.author_id != ctx.person.id:
        raise UserError("I can't find that announcement of yours. Send /announce to write one.")
    if announcement.status not in statuses:
        state = {
            A.SENT: "has already been sent",
            A.SCHEDULED: "is already scheduled",
            A.CANCELLED: "was cancelled",
            A.DRAFT: "isn't finished yet",
        }[announcement.status]
        raise UserError(f"That announcement {state}. Send /delivery to see your announcements.")
    return announcement


@registry.action(actions.ANNOUNCE_AUDIENCE, roles=STAFF)
def audience_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    match args[1:]:
        case ["school"]:
            announcement.audience = {"type": "school"}
            return [_preview(ctx, announcement)]
        case ["cohorts"]:
            announcement.audience = {"type": "cohorts", "ids": []}
            return [_cohort_question(ctx, announcement)]
        case ["tags"]:
            buttons = [
                Button(label, actions.ANNOUNCE_TAG.payload(announcement.id, tag))
                for tag, label in TAGS.items()
            ]
            rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
            return [Reply("Students interested in which field?", rows, replace=True)]
        case ["opp"]:
            ctx.start_dialog("announce_opportunity", announcement=announcement.id)
            return [
                Reply(
                    "Type the opportunity's number (/listings shows them).",
                    ((Button("Cancel", actions.ANNOUNCE_CANCEL.payload(announcement.id)),),),
                )
            ]
        case ["preview"] if announcement.audience.get("type"):
            return [_preview(ctx, announcement)]
        case _:
            raise UserError("That button is from an earlier question. Please use the one above.")


def _cohort_question(ctx: Context, announcement: Announcement) -> Reply:
    chosen = set(announcement.audience.get("ids", []))
    cohorts = school_cohorts(ctx.session, announcement.school)
    if not cohorts:
        raise UserError("Your school has no classes yet. Add one with /cohort Year 12.")
    buttons = [
        Button(
            ("✓ " if c.id in chosen else "") + c.name,
            actions.ANNOUNCE_COHORT.payload(announcement.id, c.id),
        )
        for c in cohorts
    ]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    if chosen:
        rows.append(
            (
                Button(
                    f"Done ({len(chosen)} chosen)",
                    actions.ANNOUNCE_AUDIENCE.payload(announcement.id, "preview"),
                ),
            )
        )
    return Reply("Which classes? Tap as many as you like, then Done.", tuple(rows), replace=True)


@registry.action(actions.ANNOUNCE_COHORT, roles=STAFF)
def cohort_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    cohort = ctx.session.get(Cohort, parse_id(args[1] if len(args) > 1 else None))
    if (
        cohort is None
        or cohort.school_id != announcement.school_id
        or announcement.audience.get("type") != "cohorts"
    ):
        raise UserError("That button is from an earlier question. Please use the one above.")
    chosen = set(announcement.audience.get("ids", []))
    chosen.symmetric_difference_update({cohort.id})
    announcement.audience = {"type": "cohorts", "ids": sorted(chosen)}
    return [_cohort_question(ctx, announcement)]


@registry.action(actions.ANNOUNCE_TAG, roles=STAFF)
def tag_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    tag = args[1] if len(args) > 1 else ""
    if tag not in TAGS:
        raise UserError("That button is from an earlier question. Please use the one above.")
    announcement.audience = {"type": "tag", "tag": tag}
    return [_preview(ctx, announcement)]


@registry.dialog("announce_opportunity")
def opportunity_typed(ctx: Context, text: str, dialog: dict[str, Any]) -> list[Reply]:
    announcement = _draft(ctx, str(dialog.get("announcement")))
    opportunity, _ = opportunity_arg(ctx, text, "like 12")
    ctx.clear_state(DIALOG)
    announcement.audience = {"type": "opportunity", "id": opportunity.id}
    return [_preview(ctx, announcement)]


def _preview(ctx: Context, announcement: Announcement) -> Reply:
    count = len(recipients(ctx.session, announcement))
    aid = announcement.id
    heading = f"To {_students(count)} ({describe(ctx.session, announcement)})"
    if count == 0:
        return Reply(
            f"{heading}: nobody to send it to. Choose someone else?",
            _audience_question(announcement).buttons,
        )
    text = f"{heading}."
    rows: list[tuple[Button, ...]] = [
        (
            Button("Send now", actions.ANNOUNCE_SEND.payload(aid)),
            Button("Schedule", actions.ANNOUNCE_SCHEDULE.payload(aid)),
        )
    ]
    quiet = ctx.timing.quiet
    # With no quiet hours configured there is nothing for urgency to override.
    if quiet.enabled:
        text += (
            f" Anyone in their quiet hours ({quiet.start:%H:%M} to {quiet.end:%H:%M} their "
            "time) gets it when those end, unless you send it as urgent."
        )
        rows += [
            (Button("Send now, even in quiet hours", actions.ANNOUNCE_SEND.payload(aid, URGENT)),),
            (
                Button(
                    "Schedule, even in quiet hours", actions.ANNOUNCE_SCHEDULE.payload(aid, URGENT)
                ),
            ),
        ]
    rows.append((Button("Cancel", actions.ANNOUNCE_CANCEL.payload(aid)),))
    text += (
        "\n\nHere's what they'll read:\n\n"
        f"Announcement from {announcement.school.name}:\n\n{announcement.text}"
    )
    return Reply(text, tuple(rows))


def _urgent_arg(args: list[str]) -> bool:
    """Whether the pressed button (``ans:ID:urgent``, ``ansc:ID:urgent``) chose urgency."""
    match args[1:]:
        case []:
            return False
        case [word] if word == URGENT:
            return True
        case _:
            raise UserError("That button is from an earlier question. Please use the one above.")


@registry.action(actions.ANNOUNCE_SEND, roles=STAFF)
def send_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    if not announcement.audience.get("type"):
        raise UserError("Choose who should get it first.")
    urgent = _urgent_arg(args)
    _mark_urgent(announcement, urgent)
    count = send(ctx.session, announcement, ctx.now, ctx.timing.quiet)
    # Nothing has gone out yet: the outbox sends it, and the author hears when it is done.
    if urgent:
        text = f"Sending as urgent to {_students(count)}, even those in their quiet hours."
    else:
        waiting = ctx.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.announcement_id == announcement.id,
                OutboxMessage.next_attempt_at > ctx.now,
            )
        )
        later = f" ({waiting} will get it when their quiet hours end)" if waiting else ""
        text = f"Sending to {_students(count)}{later}."
    return [
        Reply(
            f"{text} I'll tell you when it's delivered.",
            ((Button("Delivery report", actions.ANNOUNCE_REPORT.payload(announcement.id)),),),
            replace=True,
        )
    ]


@registry.action(actions.ANNOUNCE_SCHEDULE, roles=STAFF)
def schedule_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    if not announcement.audience.get("type"):
        raise UserError("Choose who should get it first.")
    ctx.start_dialog("announce_when", announcement=announcement.id, urgent=_urgent_arg(args))
    zone = person_zone(ctx.person).key
    return [
        Reply(
            f"When should it go? Type the date and time as YYYY-MM-DD HH:MM, your time ({zone}).",
            ((Button("Cancel", actions.ANNOUNCE_CANCEL.payload(announcement.id)),),),
        )
    ]


@registry.dialog("announce_when")
def when_typed(ctx: Context, text: str, dialog: dict[str, Any]) -> list[Reply]:
    announcement = _draft(ctx, str(dialog.get("announcement")))
    when = _parse_when(ctx, text)
    ctx.clear_state(DIALOG)
    urgent = dialog.get("urgent") is True
    _mark_urgent(announcement, urgent)
    announcement.status = A.SCHEDULED
    announcement.scheduled_for = when
    count = len(recipients(ctx.session, announcement))
    as_urgent = " as urgent" if urgent else ""
    even = ", even in their quiet hours" if urgent else ""
    return [
        Reply(
            f"Scheduled{as_urgent} for {fmt_when(when, ctx.person)}, to {_students(count)} "
            f"as of now (whoever fits the audience then gets it{even}).",
            (
                (Button("Cancel it", actions.ANNOUNCE_CANCEL.payload(announcement.id)),),
                (Button("Delivery report", actions.ANNOUNCE_REPORT.payload(announcement.id)),),
            ),
        )
    ]


def _parse_when(ctx: Context, text: str) -> datetime:
    match = _WHEN.fullmatch(text.strip())
    if match is None:
        today = ctx.now.astimezone(person_zone(ctx.person)).date()
        raise UserError(f"Please type it as YYYY-MM-DD HH:MM, like {example_moment(today)}.")
    try:
        local = datetime.fromisoformat(f"{match[1]} {match[2]:0>5}")
    except ValueError:
        raise UserError(f"{text.strip()} isn't a real date and time. Please check it.") from None
    when = local.replace(tzinfo=person_zone(ctx.person)).astimezone(UTC)
    if when <= ctx.now:
        raise UserError("That time has passed. Please type a time in the future.")
    if when > ctx.now + MAX_AHEAD:
        raise UserError("That's more than a year ahead. Please check the year.")
    return when


@registry.action(actions.ANNOUNCE_CANCEL, roles=STAFF)
def cancel_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if not args:
        return [Reply("OK, stopped. Nothing was sent.", replace=True)]
    announcement = _draft(ctx, args[0], statuses=(A.DRAFT, A.SCHEDULED))
    announcement.status = A.CANCELLED
    return [Reply("OK, cancelled. Nothing was sent.", replace=True)]


# --- The delivery report ----------------------------------------------------------------------


@registry.command(
    "delivery", roles=STAFF, help="how your announcements were delivered: /delivery 3"
)
def delivery(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    number = args.strip().removeprefix("#")
    if number:
        if not is_number(number):
            raise UserError("Say which announcement by its number, like /delivery 3.")
        return [_delivery_report(ctx, number)]
    recent = ctx.session.scalars(
        select(Announcement)
        .where(Announcement.school_id == school.id, Announcement.status != A.DRAFT)
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(5)
    ).all()
    if not recent:
        return [Reply("No announcements yet. Send one with /announce.")]
    lines = ["Recent announcements:"]
    buttons = []
    for announcement in recent:
        lines.append(
            f"#{announcement.id}, {_state(ctx, announcement)}: {clip(announcement.text, 60)}"
        )
        buttons.append(
            (
                Button(
                    f"Report #{announcement.id}", actions.ANNOUNCE_REPORT.payload(announcement.id)
                ),
            )
        )
    return [Reply("\n".join(lines), tuple(buttons))]


@registry.action(actions.ANNOUNCE_REPORT, roles=STAFF)
def delivery_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_delivery_report(ctx, args[0] if args else None)]


def _state(ctx: Context, announcement: Announcement) -> str:
    urgent = ", urgent" if is_urgent(announcement) else ""
    if announcement.status == A.SENT and announcement.sent_at is not None:
        return f"sent {fmt_when(announcement.sent_at, ctx.person)}{urgent}"
    if announcement.status == A.SCHEDULED and announcement.scheduled_for is not None:
        return f"scheduled for {fmt_when(announcement.scheduled_for, ctx.person)}{urgent}"
    return announcement.status.value


def _delivery_report(ctx: Context, raw_id: str | None) -> Reply:
    school = staff_school(ctx)
    announcement = ctx.session.get(Announcement, parse_id(raw_id))
    if announcement is None or announcement.school_id != school.id:
        raise UserError("I can't find that announcement at your school.")
    heading = (
        f"Announcement #{announcement.id} to {describe(ctx.session, announcement)}, "
        f"{_state(ctx, announcement)}."
    )
    if announcement.status != A.SENT:
        return Reply(heading)
    counts = _outcomes(ctx.session, announcement)
    queued = sum(counts.values())
    lines = [
        heading,
        f"Delivered: {counts.get(OutboxStatus.SENT, 0)}",
        f"Pending: {counts.get(OutboxStatus.PENDING, 0)}",
        f"Unreachable: {counts.get(OutboxStatus.UNREACHABLE, 0)}",
        f"Failed: {counts.get(OutboxStatus.FAILED, 0)}",
    ]
    if counts.get(OutboxStatus.CANCELLED):
        lines.append(f"Cancelled: {counts[OutboxStatus.CANCELLED]}")
    # Students with no account the bot can reach got no row at all.
    missing = (announcement.recipient_count or 0) - queued
    if missing > 0:
        lines.append(f"Not reachable on any platform: {missing}")
    return Reply(
        "\n".join(lines), ((Button("Refresh", actions.ANNOUNCE_REPORT.payload(announcement.id)),),)
    )
