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
from typing import Any, TypedDict

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import (
    DIALOG,
    STAFF,
    Button,
    Context,
    Field,
    Form,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from bot.i18n import N_, _, _n, _p, speaking_to
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
    OpportunityStatus,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Person,
    PersonTag,
    Role,
)
from storage.outbox import Outgoing, QuietHours, enqueue, enqueue_edit, enqueue_many
from storage.tags import TAGS

registry = Registry()

MAX_TEXT = 2000
MAX_AHEAD = timedelta(days=365)
_WHEN = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})")
A = AnnouncementStatus
# The last part of a Send or Schedule button's payload that ignores quiet hours.
URGENT = "urgent"
# "/announce" then the form's lines (a message that merely starts with "Text:" has no audience).
_FORM_LINES = re.compile(r"\s*text:.*^audience:", re.IGNORECASE | re.DOTALL | re.MULTILINE)
# A class or listing chosen from a form's search: "#12".
_CHOSEN = re.compile(r"#(\d+)")
# Choices a form's search offers at most.
MAX_CHOICES = 50
AUDIENCES = (
    ("school", N_("Everyone at the school")),
    ("cohorts", N_("Classes")),
    ("tag", N_("Students interested in a field")),
    ("opportunity", N_("Students interested in an opportunity")),
)
# How /delivery names an announcement that is neither sent nor scheduled.
STATE_NAMES = {
    AnnouncementStatus.DRAFT: N_("draft"),
    AnnouncementStatus.SCHEDULED: N_("scheduled"),
    AnnouncementStatus.SENT: N_("sent"),
    AnnouncementStatus.CANCELLED: N_("cancelled"),
}
# Where each kind of audience is chosen on the form, for a problem to show there.
_AUDIENCE_FIELD = {"school": "audience", "cohorts": "classes", "tag": "field"}
_AUDIENCE_FIELD["opportunity"] = "opportunity"

# The whole announcement at once: "/announce" then a "field: value" line each (a Slack modal
# sends the same lines), with who gets it counted as it is chosen and a preview before it goes.
ANNOUNCE_FORM = Form(
    N_("New announcement"),
    N_("Preview"),
    (
        Field(
            "text",
            N_("Your message for students"),
            "long_text",
            max_length=MAX_TEXT,
            hint=N_("The careers fair is on Friday from 10:00 in the main hall…"),
        ),
        Field("audience", N_("Who should get it?"), "choice", options=AUDIENCES, live=True),
        Field(
            "classes",
            N_("Which classes?"),
            "choices",
            optional=True,
            source="cohorts",
            live=True,
            hint=N_("Type a class's name"),
        ),
        Field(
            "field",
            N_("Which field?"),
            "choice",
            optional=True,
            options=tuple(TAGS.items()),
            live=True,
        ),
        Field(
            "opportunity",
            N_("Which opportunity?"),
            "search",
            optional=True,
            source="opportunities",
            live=True,
            hint=N_("Type its number or title"),
        ),
        Field("date", N_("Send on"), "date", optional=True, hint=N_("Leave empty to send it now")),
        Field("time", N_("At"), "time", optional=True),
        Field(
            "urgent",
            N_("Quiet hours"),
            "flag",
            optional=True,
            options=(("yes", N_("Urgent: send even to students in their quiet hours")),),
        ),
    ),
    summary="announce_reach",
    preview="announce_preview",
)


# --- Who receives it --------------------------------------------------------------------------


def recipients(session: Session, announcement: Announcement) -> list[Person]:
    """The students of the author's school that the audience describes, each once."""
    return audience_of(session, announcement.school_id, announcement.audience)


def audience_of(session: Session, school_id: int, audience: dict[str, Any]) -> list[Person]:
    """The students of school ``school_id`` that ``audience`` describes, each once."""
    query = (
        select(Person)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Cohort.school_id == school_id, Person.role == Role.STUDENT)
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
            return _("everyone at {school}", school=announcement.school.name)
        case "cohorts":
            names = session.scalars(
                select(Cohort.name)
                .where(Cohort.id.in_(audience.get("ids", [])))
                .order_by(Cohort.name)
            ).all()
            return ", ".join(names) or _("no classes")
        case "tag":
            tag = audience["tag"]
            return _("students interested in {field}", field=_(TAGS[tag]) if tag in TAGS else tag)
        case "opportunity":
            opportunity = session.get(Opportunity, audience["id"])
            if opportunity is None:
                return _("students interested in a removed opportunity")
            return _("students interested in {title}", title=headline(opportunity))
        case "students":
            return _("the students chosen from /evidence")
        case _:
            return _("nobody yet")


def _students(count: int) -> str:
    return _n("{n} student", "{n} students", count)


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
    written = enqueue_many(
        session,
        [
            Outgoing(
                person,
                _frame(announcement, person),
                "announcement",
                f"ann:{announcement.id}:{person.id}",
            )
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


def _frame(announcement: Announcement, student: Person) -> str:
    """The announcement as ``student`` reads it: the frame in their language, the text as is."""
    with speaking_to(student):
        return _(
            "Announcement from {school}:\n\n{text}",
            school=announcement.school.name,
            text=announcement.text,
        )


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

    Run by the scheduler. The author's "Sending to ..." message changes in place to the
    outcome, with the delivery report a button away; where it cannot (a scheduled
    announcement, or a platform that did not say where it showed it) a short follow-up says
    the same. Each announcement is claimed with its row lock and marked reported in the
    transaction that queues the edit or message, so it is told once.
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
            with speaking_to(author):
                text = f"{delivered(session, announcement)}: {clip(announcement.text, 80)}"
                buttons = stored_buttons(
                    [
                        [
                            Button(
                                _("Delivery report"),
                                actions.ANNOUNCE_REPORT.payload(announcement.id),
                            )
                        ]
                    ]
                )
            kind, key = "announcement_delivered", f"ann-delivered:{announcement.id}"
            sending = sending_key(announcement)
            if not enqueue_edit(
                session, sending, text, kind=kind, key=key, now=now, buttons=buttons
            ):
                enqueue(session, author, text, kind=kind, key=key, now=now, buttons=buttons)
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
    sent = counts.get(OutboxStatus.SENT, 0)
    if unreachable:
        return _n(
            "Announcement #{number} delivered to {n} student, {unreachable} unreachable",
            "Announcement #{number} delivered to {n} students, {unreachable} unreachable",
            sent,
            number=announcement.id,
            unreachable=unreachable,
        )
    return _n(
        "Announcement #{number} delivered to {n} student",
        "Announcement #{number} delivered to {n} students",
        sent,
        number=announcement.id,
    )


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


@registry.command(
    "announce", roles=STAFF, help=N_("send an announcement to students"), form=ANNOUNCE_FORM
)
def announce(ctx: Context, args: str) -> list[Reply]:
    staff_school(ctx)
    if _FORM_LINES.match(args):
        return [_announce_at_once(ctx, args)]
    if args.strip():
        return _drafted(ctx, args)
    ctx.start_dialog("announce_text", TextDialog())
    return [
        Reply(
            _(
                "What's your message for students? Type it now (up to {n} characters).",
                n=MAX_TEXT,
            ),
            ((Button(_("Cancel"), actions.ANNOUNCE_CANCEL.payload()),),),
        )
    ]


class TextDialog(TypedDict):
    """The message typed after /announce: the text itself is the answer, nothing is kept."""


@registry.dialog("announce_text")
def text_typed(ctx: Context, text: str, dialog: TextDialog) -> list[Reply]:
    return _drafted(ctx, text)


def _drafted(ctx: Context, text: str) -> list[Reply]:
    message = text.strip()
    if len(message) > MAX_TEXT:
        raise UserError(_("Please keep it under {n} characters.", n=MAX_TEXT))
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
        raise UserError(_("Please keep it under {n} characters.", n=MAX_TEXT))
    ctx.clear_state(DIALOG)
    announcement.text = message
    return _preview(ctx, announcement)


def _audience_question(announcement: Announcement) -> Reply:
    aid = announcement.id
    return Reply(
        _("Who should get it?"),
        (
            (
                Button(
                    _("Everyone at {school}", school=announcement.school.name)[:40],
                    actions.ANNOUNCE_AUDIENCE.payload(aid, "school"),
                ),
            ),
            (
                Button(_("Classes"), actions.ANNOUNCE_AUDIENCE.payload(aid, "cohorts")),
                Button(_("A field"), actions.ANNOUNCE_AUDIENCE.payload(aid, "tags")),
            ),
            (
                Button(
                    _("Interested in an opportunity"),
                    actions.ANNOUNCE_AUDIENCE.payload(aid, "opp"),
                ),
            ),
            (Button(_("Cancel"), actions.ANNOUNCE_CANCEL.payload(aid)),),
        ),
    )


def _draft(
    ctx: Context, raw_id: str | None, *, statuses: tuple[A, ...] = (A.DRAFT,)
) -> Announcement:
    """The author's own announcement, if it can still be changed."""
    announcement = ctx.session.get(Announcement, parse_id(raw_id))
    if announcement is None or announcement.author_id != ctx.person.id:
        raise UserError(_("I can't find that announcement of yours. Send /announce to write one."))
    if announcement.status not in statuses:
        state = {
            A.SENT: N_(
                "That announcement has already been sent. Send /delivery to see your announcements."
            ),
            A.SCHEDULED: N_(
                "That announcement is already scheduled. Send /delivery to see your announcements."
            ),
            A.CANCELLED: N_(
                "That announcement was cancelled. Send /delivery to see your announcements."
            ),
            A.DRAFT: N_(
                "That announcement isn't finished yet. Send /delivery to see your announcements."
            ),
        }[announcement.status]
        raise UserError(_(state))
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
                Button(_(label), actions.ANNOUNCE_TAG.payload(announcement.id, tag))
                for tag, label in TAGS.items()
            ]
            rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
            return [Reply(_("Students interested in which field?"), rows, replace=True)]
        case ["opp"]:
            ctx.start_dialog(
                "announce_opportunity", OpportunityDialog(announcement=announcement.id)
            )
            return [
                Reply(
                    _("Type the opportunity's number (/listings shows them)."),
                    ((Button(_("Cancel"), actions.ANNOUNCE_CANCEL.payload(announcement.id)),),),
                )
            ]
        case ["preview"] if announcement.audience.get("type"):
            return [_preview(ctx, announcement)]
        case _:
            raise UserError(_("That button is from an earlier question. Please use the one above."))


def _cohort_question(ctx: Context, announcement: Announcement) -> Reply:
    chosen = set(announcement.audience.get("ids", []))
    cohorts = school_cohorts(ctx.session, announcement.school)
    if not cohorts:
        raise UserError(_("Your school has no classes yet. Add one with /cohort Year 12."))
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
                    _p("classes", "Done ({n} chosen)", n=len(chosen)),
                    actions.ANNOUNCE_AUDIENCE.payload(announcement.id, "preview"),
                ),
            )
        )
    return Reply(_("Which classes? Tap as many as you like, then Done."), tuple(rows), replace=True)


@registry.action(actions.ANNOUNCE_COHORT, roles=STAFF)
def cohort_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    cohort = ctx.session.get(Cohort, parse_id(args[1] if len(args) > 1 else None))
    if (
        cohort is None
        or cohort.school_id != announcement.school_id
        or announcement.audience.get("type") != "cohorts"
    ):
        raise UserError(_("That button is from an earlier question. Please use the one above."))
    chosen = set(announcement.audience.get("ids", []))
    chosen.symmetric_difference_update({cohort.id})
    announcement.audience = {"type": "cohorts", "ids": sorted(chosen)}
    return [_cohort_question(ctx, announcement)]


@registry.action(actions.ANNOUNCE_TAG, roles=STAFF)
def tag_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    tag = args[1] if len(args) > 1 else ""
    if tag not in TAGS:
        raise UserError(_("That button is from an earlier question. Please use the one above."))
    announcement.audience = {"type": "tag", "tag": tag}
    return [_preview(ctx, announcement)]


class OpportunityDialog(TypedDict):
    """The opportunity (its number) typed for a draft: which draft."""

    announcement: int


@registry.dialog("announce_opportunity")
def opportunity_typed(ctx: Context, text: str, dialog: OpportunityDialog) -> list[Reply]:
    announcement = _draft(ctx, str(dialog.get("announcement")))
    opportunity, _rest = opportunity_arg(ctx, text, _("like 12"))
    ctx.clear_state(DIALOG)
    announcement.audience = {"type": "opportunity", "id": opportunity.id}
    return [_preview(ctx, announcement)]


def _preview(ctx: Context, announcement: Announcement) -> Reply:
    count = len(recipients(ctx.session, announcement))
    aid = announcement.id
    audience = describe(ctx.session, announcement)
    if count == 0:
        return Reply(
            _(
                "To {students} ({audience}): nobody to send it to. Choose someone else?",
                students=_students(count),
                audience=audience,
            ),
            _audience_question(announcement).buttons,
        )
    text = _("To {students} ({audience}).", students=_students(count), audience=audience)
    rows: list[tuple[Button, ...]] = [
        (
            Button(_("Send now"), actions.ANNOUNCE_SEND.payload(aid)),
            Button(_("Schedule"), actions.ANNOUNCE_SCHEDULE.payload(aid)),
        )
    ]
    quiet = ctx.timing.quiet
    # With no quiet hours configured there is nothing for urgency to override.
    if quiet.enabled:
        text += " " + _(
            "Anyone in their quiet hours ({start} to {end} their time) gets it when those end, "
            "unless you send it as urgent.",
            start=quiet.start.strftime("%H:%M"),
            end=quiet.end.strftime("%H:%M"),
        )
        rows += [
            (
                Button(
                    _("Send now, even in quiet hours"), actions.ANNOUNCE_SEND.payload(aid, URGENT)
                ),
            ),
            (
                Button(
                    _("Schedule, even in quiet hours"),
                    actions.ANNOUNCE_SCHEDULE.payload(aid, URGENT),
                ),
            ),
        ]
    rows.append((Button(_("Cancel"), actions.ANNOUNCE_CANCEL.payload(aid)),))
    text += "\n\n" + _(
        "Here's what they'll read:\n\nAnnouncement from {school}:\n\n{text}",
        school=announcement.school.name,
        text=announcement.text,
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
            raise UserError(_("That button is from an earlier question. Please use the one above."))


@registry.action(actions.ANNOUNCE_SEND, roles=STAFF)
def send_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    if not announcement.audience.get("type"):
        raise UserError(_("Choose who should get it first."))
    return [_sent(ctx, announcement, _urgent_arg(args))]


def _sent(ctx: Context, announcement: Announcement, urgent: bool) -> Reply:
    """Send the announcement now: what the author is told."""
    _mark_urgent(announcement, urgent)
    count = send(ctx.session, announcement, ctx.now, ctx.timing.quiet)
    # Nothing has gone out yet: the outbox sends it, and the author hears when it is done.
    if urgent:
        text = _(
            "Sending as urgent to {students}, even those in their quiet hours.",
            students=_students(count),
        )
    else:
        waiting = ctx.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.announcement_id == announcement.id,
                OutboxMessage.next_attempt_at > ctx.now,
            )
        )
        if waiting:
            text = _n(
                "Sending to {students} ({n} will get it when their quiet hours end).",
                "Sending to {students} ({n} will get it when their quiet hours end).",
                waiting,
                students=_students(count),
            )
        else:
            text = _("Sending to {students}.", students=_students(count))
    reply = Reply(
        f"{text} " + _("I'll tell you when it's delivered."),
        ((Button(_("Delivery report"), actions.ANNOUNCE_REPORT.payload(announcement.id)),),),
        replace=True,
    )
    # Kept, so that when it is delivered this message itself says so (report_deliveries).
    return ctx.tracked(reply, sending_key(announcement))


def sending_key(announcement: Announcement) -> str:
    """The key of the author's "Sending to ..." message, edited once it is delivered."""
    return f"ann-sending:{announcement.id}"


@registry.action(actions.ANNOUNCE_SCHEDULE, roles=STAFF)
def schedule_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    announcement = _draft(ctx, args[0] if args else None)
    if not announcement.audience.get("type"):
        raise UserError(_("Choose who should get it first."))
    ctx.start_dialog(
        "announce_when", WhenDialog(announcement=announcement.id, urgent=_urgent_arg(args))
    )
    zone = person_zone(ctx.person).key
    return [
        Reply(
            _(
                "When should it go? Type the date and time as YYYY-MM-DD HH:MM, your time "
                "({zone}).",
                zone=zone,
            ),
            ((Button(_("Cancel"), actions.ANNOUNCE_CANCEL.payload(announcement.id)),),),
        )
    ]


class WhenDialog(TypedDict):
    """The time typed to schedule a draft: which draft, and whether it goes as urgent."""

    announcement: int
    urgent: bool


@registry.dialog("announce_when")
def when_typed(ctx: Context, text: str, dialog: WhenDialog) -> list[Reply]:
    announcement = _draft(ctx, str(dialog.get("announcement")))
    when = _parse_when(ctx, text)
    ctx.clear_state(DIALOG)
    return [_scheduled(ctx, announcement, when, dialog.get("urgent") is True)]


def _scheduled(ctx: Context, announcement: Announcement, when: datetime, urgent: bool) -> Reply:
    """Schedule the announcement for ``when``: what the author is told."""
    _mark_urgent(announcement, urgent)
    announcement.status = A.SCHEDULED
    announcement.scheduled_for = when
    count = len(recipients(ctx.session, announcement))
    values = {"moment": fmt_when(when, ctx.person), "students": _students(count)}
    if urgent:
        text = _(
            "Scheduled as urgent for {moment}, to {students} as of now (whoever fits the "
            "audience then gets it, even in their quiet hours).",
            **values,
        )
    else:
        text = _(
            "Scheduled for {moment}, to {students} as of now (whoever fits the audience then "
            "gets it).",
            **values,
        )
    return Reply(
        text,
        (
            (Button(_("Cancel it"), actions.ANNOUNCE_CANCEL.payload(announcement.id)),),
            (Button(_("Delivery report"), actions.ANNOUNCE_REPORT.payload(announcement.id)),),
        ),
    )


def _parse_when(ctx: Context, text: str) -> datetime:
    match = _WHEN.fullmatch(text.strip())
    if match is None:
        today = ctx.now.astimezone(person_zone(ctx.person)).date()
        raise UserError(
            _("Please type it as YYYY-MM-DD HH:MM, like {example}.", example=example_moment(today))
        )
    try:
        local = datetime.fromisoformat(f"{match[1]} {match[2]:0>5}")
    except ValueError:
        raise UserError(
            _("{text} isn't a real date and time. Please check it.", text=text.strip())
        ) from None
    when = local.replace(tzinfo=person_zone(ctx.person)).astimezone(UTC)
    if when <= ctx.now:
        raise UserError(_("That time has passed. Please type a time in the future."))
    if when > ctx.now + MAX_AHEAD:
        raise UserError(_("That's more than a year ahead. Please check the year."))
    return when


@registry.action(actions.ANNOUNCE_CANCEL, roles=STAFF)
def cancel_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if not args:
        return [Reply(_("OK, stopped. Nothing was sent."), replace=True)]
    announcement = _draft(ctx, args[0], statuses=(A.DRAFT, A.SCHEDULED))
    announcement.status = A.CANCELLED
    return [Reply(_("OK, cancelled. Nothing was sent."), replace=True)]


# --- The whole announcement at once (ANNOUNCE_FORM) --------------------------------------------


def _announce_at_once(ctx: Context, args: str) -> Reply:
    """Send or schedule the announcement of "/announce" then "field: value" lines; any
    problem refuses it whole, each on its field."""
    text, audience, when, urgent = _read_form(ctx, args)
    announcement = Announcement(
        author_id=ctx.person.id,
        school_id=staff_school(ctx).id,
        text=text,
        audience=audience,
        status=A.DRAFT,
        created_at=ctx.now,
    )
    ctx.session.add(announcement)
    ctx.session.flush()
    if when is not None:
        return _scheduled(ctx, announcement, when, urgent)
    return _sent(ctx, announcement, urgent)


@registry.lookup("announce_reach", roles=STAFF)
def reach(ctx: Context, args: str) -> Reply:
    """How many students the audience chosen so far reaches, or what is still to choose."""
    given, _problems = ANNOUNCE_FORM.read(args)
    by_field: dict[str, str] = {}
    audience = _audience(ctx, given, by_field)
    if audience is None:
        return Reply(next(iter(by_field.values())))
    school = staff_school(ctx)
    count = len(audience_of(ctx.session, school.id, audience))
    return Reply(
        _(
            "Will reach {students} ({audience}).",
            students=_students(count),
            audience=_describe(ctx, audience),
        )
    )


@registry.lookup("announce_preview", roles=STAFF)
def preview(ctx: Context, args: str) -> Reply:
    """What the form's announcement would do, and what students would read."""
    text, audience, when, urgent = _read_form(ctx, args)
    school = staff_school(ctx)
    count = len(audience_of(ctx.session, school.id, audience))
    values = {
        "students": _students(count),
        "audience": _describe(ctx, audience),
        "moment": _("now") if when is None else fmt_when(when, ctx.person),
    }
    if urgent:
        plan = _(
            "To {students} ({audience}), {moment}, as urgent (even in their quiet hours).", **values
        )
    else:
        plan = _("To {students} ({audience}), {moment}.", **values)
    read = _(
        "Here's what they'll read:\n\nAnnouncement from {school}:\n\n{text}",
        school=school.name,
        text=text,
    )
    return Reply(f"{plan}\n\n{read}")


def _describe(ctx: Context, audience: dict[str, Any]) -> str:
    school = staff_school(ctx)
    return describe(
        ctx.session, Announcement(school_id=school.id, school=school, audience=audience)
    )


def _read_form(ctx: Context, args: str) -> tuple[str, dict[str, Any], datetime | None, bool]:
    """The text, audience, time (None: now) and urgency of the form's lines, or a refusal
    with the problem on each field (also when nobody would get it)."""
    given, problems = ANNOUNCE_FORM.read(args)
    by_field: dict[str, str] = {}
    text = given.get("text", "")
    if len(text) > MAX_TEXT:
        by_field["text"] = _("Please keep it under {n} characters.", n=MAX_TEXT)
    audience = _audience(ctx, given, by_field)
    if audience is not None and not audience_of(ctx.session, staff_school(ctx).id, audience):
        by_field[_AUDIENCE_FIELD[audience["type"]]] = _(
            "Nobody fits that yet. Choose someone else?"
        )
    when = None
    day, hour = given.get("date"), given.get("time")
    if day and not hour:
        by_field["time"] = _("Choose a time too, or no date to send it now.")
    elif hour and not day:
        by_field["date"] = _("Choose a date too, or no time to send it now.")
    elif day and hour:
        try:
            when = _parse_when(ctx, f"{day} {hour}")
        except UserError as refused:
            by_field["date"] = refused.reply.text
    urgent = given.get("urgent", "").lower()
    if urgent not in ("", "yes"):
        by_field["urgent"] = _("Say yes, or leave it out.")
    problems += [f"{name}: {problem}" for name, problem in by_field.items()]
    if problems or audience is None:
        raise UserError(
            _("Nothing was sent. Please fix this and send it again:")
            + "\n"
            + "\n".join(f"• {problem}" for problem in problems),
            fields=by_field,
        )
    return text, audience, when, urgent == "yes"


def _audience(
    ctx: Context, given: dict[str, str], by_field: dict[str, str]
) -> dict[str, Any] | None:
    """The audience the form's lines choose, or None with the problem noted on its field."""
    kind = given.get("audience", "").lower()
    school = staff_school(ctx)
    match kind:
        case "school":
            return {"type": "school"}
        case "cohorts":
            chosen = [c.strip() for c in given.get("classes", "").split(",") if c.strip()]
            if not chosen:
                by_field["classes"] = _("Choose at least one class.")
                return None
            cohorts = {c.id: c for c in school_cohorts(ctx.session, school)}
            by_name = {c.name.lower(): c.id for c in cohorts.values()}
            ids = set()
            for name in chosen:
                number = _CHOSEN.fullmatch(name)
                found = int(number[1]) if number else by_name.get(name.lower())
                if found not in cohorts:
                    by_field["classes"] = _("Your school has no class {name}.", name=name)
                    return None
                ids.add(found)
            return {"type": "cohorts", "ids": sorted(ids)}
        case "tag":
            tag = given.get("field", "").lower()
            if tag not in TAGS:
                by_field["field"] = _("Choose one of: {fields}.", fields=", ".join(TAGS))
                return None
            return {"type": "tag", "tag": tag}
        case "opportunity":
            try:
                opportunity, _rest = opportunity_arg(ctx, given.get("opportunity", ""), "#12")
            except UserError as refused:
                by_field["opportunity"] = refused.reply.text
                return None
            return {"type": "opportunity", "id": opportunity.id}
        case _:
            by_field["audience"] = _("Choose who should get it.")
            return None


@registry.options("cohorts", roles=STAFF)
def cohort_choices(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """The school's classes whose name contains what was typed."""
    word = " ".join(typed.split()).lower()
    cohorts = school_cohorts(ctx.session, staff_school(ctx))
    return [(f"#{c.id}", c.name) for c in cohorts if word in c.name.lower()][:MAX_CHOICES]


@registry.options("opportunities", roles=STAFF)
def opportunity_choices(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """Open listings whose number, title or organisation matches what was typed, newest
    first (students may be interested in any school's listing)."""
    word = " ".join(typed.split()).removeprefix("#")
    query = (
        select(Opportunity)
        .join(Organisation, Organisation.id == Opportunity.organisation_id)
        .where(Opportunity.status == OpportunityStatus.OPEN)
        .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
        .limit(MAX_CHOICES)
    )
    if word:
        matches = Opportunity.title.icontains(word, autoescape=True) | Organisation.name.icontains(
            word, autoescape=True
        )
        if is_number(word):
            matches |= Opportunity.id == int(word)
        query = query.where(matches)
    return [(f"#{o.id}", f"#{o.id} {headline(o)}") for o in ctx.session.scalars(query)]


# --- The delivery report ----------------------------------------------------------------------


@registry.command(
    "delivery", roles=STAFF, help=N_("how your announcements were delivered: /delivery 3")
)
def delivery(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    number = args.strip().removeprefix("#")
    if number:
        if not is_number(number):
            raise UserError(_("Say which announcement by its number, like /delivery 3."))
        return [_delivery_report(ctx, number)]
    recent = ctx.session.scalars(
        select(Announcement)
        .where(Announcement.school_id == school.id, Announcement.status != A.DRAFT)
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(5)
    ).all()
    if not recent:
        return [Reply(_("No announcements yet. Send one with /announce."))]
    lines = [_("Recent announcements:")]
    buttons = []
    for announcement in recent:
        lines.append(
            f"#{announcement.id}, {_state(ctx, announcement)}: {clip(announcement.text, 60)}"
        )
        buttons.append(
            (
                Button(
                    _("Report #{number}", number=announcement.id),
                    actions.ANNOUNCE_REPORT.payload(announcement.id),
                ),
            )
        )
    return [Reply("\n".join(lines), tuple(buttons))]


@registry.action(actions.ANNOUNCE_REPORT, roles=STAFF)
def delivery_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_delivery_report(ctx, args[0] if args else None)]


def _state(ctx: Context, announcement: Announcement) -> str:
    if announcement.status == A.SENT and announcement.sent_at is not None:
        state = _("sent {moment}", moment=fmt_when(announcement.sent_at, ctx.person))
    elif announcement.status == A.SCHEDULED and announcement.scheduled_for is not None:
        state = _("scheduled for {moment}", moment=fmt_when(announcement.scheduled_for, ctx.person))
    else:
        return _(STATE_NAMES[announcement.status])
    return _("{state}, urgent", state=state) if is_urgent(announcement) else state


def _delivery_report(ctx: Context, raw_id: str | None) -> Reply:
    school = staff_school(ctx)
    announcement = ctx.session.get(Announcement, parse_id(raw_id))
    if announcement is None or announcement.school_id != school.id:
        raise UserError(_("I can't find that announcement at your school."))
    heading = _(
        "Announcement #{number} to {audience}, {state}.",
        number=announcement.id,
        audience=describe(ctx.session, announcement),
        state=_state(ctx, announcement),
    )
    if announcement.status != A.SENT:
        return Reply(heading)
    counts = _outcomes(ctx.session, announcement)
    queued = sum(counts.values())
    lines = [
        heading,
        _("Delivered: {n}", n=counts.get(OutboxStatus.SENT, 0)),
        _("Pending: {n}", n=counts.get(OutboxStatus.PENDING, 0)),
        _("Unreachable: {n}", n=counts.get(OutboxStatus.UNREACHABLE, 0)),
        _("Failed: {n}", n=counts.get(OutboxStatus.FAILED, 0)),
    ]
    if counts.get(OutboxStatus.CANCELLED):
        lines.append(_("Cancelled: {n}", n=counts[OutboxStatus.CANCELLED]))
    # Students with no account the bot can reach got no row at all.
    missing = (announcement.recipient_count or 0) - queued
    if missing > 0:
        lines.append(_("Not reachable on any platform: {n}", n=missing))
    return Reply(
        "\n".join(lines),
        ((Button(_("Refresh"), actions.ANNOUNCE_REPORT.payload(announcement.id)),),),
    )
