"""A teacher's own tools: classes and their join codes, and who is interested in what.

Teachers see the applications of their own school's students only, including the
conversation the bot relayed between a student and an employer.
"""

from __future__ import annotations

import re
import secrets
from zoneinfo import available_timezones

from sqlalchemy import func, select

from bot.core import (
    EMPLOYERS,
    MAX_FILE_BYTES,
    STAFF,
    Attachment,
    Button,
    Context,
    Registry,
    Reply,
    UserError,
)
from bot.i18n import _
from handlers import actions
from handlers.applications import application_status
from handlers.common import (
    STATUS_LABELS,
    clip,
    fmt_when,
    headline,
    is_number,
    may_share,
    only_school,
    opportunity_arg,
    parse_id,
    school_cohorts,
    staff_label,
    staff_labels,
    staff_school,
    student_school_id,
)
from handlers.listings import Owner, start_import
from storage.models import (
    AuditEntry,
    Cohort,
    Interest,
    InterestMessage,
    InterestStatus,
    InviteCode,
    Person,
    Role,
    School,
)

registry = Registry()

# A teacher may record a placement the employer arranged with the student outside the bot.
PLACEABLE = (InterestStatus.INTERESTED, InterestStatus.INVITED)

MAX_COHORT_NAME = 100
MAX_LISTED = 30
# Like invite codes: no 0/O or 1/I, because join codes are read aloud and copied from a board.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ZONES = {zone.lower(): zone for zone in available_timezones()}
VERBS = {
    "invite": "invited",
    "question": "asked",
    "message": "wrote",
    "decline": "declined",
    "placed": "marked as placed",
    "reply": "replied",
}


def _join_code(ctx: Context, school: School) -> str:
    """A fresh code that starts with the school's name, so students recognise it."""
    prefix = re.sub(r"[^A-Z]", "", school.name.split()[0].upper())[:5] or "CLASS"
    while True:
        code = f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _char in range(4))
        taken = ctx.session.scalar(
            select(func.count()).select_from(Cohort).where(Cohort.join_code == code)
        ) or ctx.session.scalar(
            select(func.count()).select_from(InviteCode).where(InviteCode.code == code)
        )
        if not taken:
            return code


@registry.command("cohort", "class", roles=STAFF, help="your classes, or add one: /cohort Year 12")
def cohort(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    name = " ".join(args.split())
    if not name:
        return [_cohort_list(ctx, school)]
    if len(name) > MAX_COHORT_NAME:
        raise UserError(f"Please keep the class name under {MAX_COHORT_NAME} characters.")
    existing = ctx.session.scalar(
        select(Cohort).where(Cohort.school_id == school.id, func.lower(Cohort.name) == name.lower())
    )
    if existing is not None:
        raise UserError(
            f"There's already a class called {existing.name}: its join code is "
            f"{existing.join_code}."
        )
    created = Cohort(
        school_id=school.id, name=name, join_code=_join_code(ctx, school), created_at=ctx.now
    )
    ctx.session.add(created)
    ctx.session.flush()
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=created.id,
            action="cohort_created",
            detail={"school_id": school.id},
        )
    )
    return [
        Reply(
            f"Created {name} at {school.name}. Students join with the code {created.join_code}: "
            f"they send /start {created.join_code} to me."
        )
    ]


def _cohort_list(ctx: Context, school: School) -> Reply:
    cohorts = school_cohorts(ctx.session, school)
    if not cohorts:
        return Reply(f"{school.name} has no classes yet. Add one with /cohort Year 12.")
    sizes = dict(
        ctx.session.execute(
            select(Person.cohort_id, func.count())
            .where(Person.cohort_id.in_([c.id for c in cohorts]), Person.role == Role.STUDENT)
            .group_by(Person.cohort_id)
        ).all()
    )
    lines = [f"Classes at {school.name}:"]
    for c in cohorts:
        count = sizes.get(c.id, 0)
        lines.append(
            f"• {c.name}: join code {c.join_code} ({count} student{'' if count == 1 else 's'})"
        )
    return Reply("\n".join(lines))


@registry.command(
    "interested", roles=STAFF, help="who of your students is interested: /interested 12"
)
def interested(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    opportunity, _rest = opportunity_arg(ctx, args, "/interested 12")
    interests = ctx.session.scalars(
        select(Interest)
        .join(Person, Person.id == Interest.person_id)
        .join(Cohort, Cohort.id == Person.cohort_id)
        .where(Interest.opportunity_id == opportunity.id, Cohort.school_id == school.id)
        .order_by(Interest.created_at, Interest.id)
    ).all()
    if not interests:
        return [
            Reply(
                f"None of your students has registered interest in #{opportunity.id} "
                f"{headline(opportunity)} yet."
            )
        ]
    last = _last_messages(ctx, [i.id for i in interests])
    lines = [f"Your students interested in #{opportunity.id} {headline(opportunity)}:"]
    buttons = []
    listed = interests[:MAX_LISTED]
    labels = staff_labels(ctx.session, [i.person for i in listed if i.person is not None])
    for n, interest in enumerate(listed, start=1):
        student = interest.person
        assert student is not None
        line = f"\n{n}. {labels[student.id]}: "
        line += f"{STATUS_LABELS[interest.status][0].lower()}, application #{interest.id}"
        message = last.get(interest.id)
        row = []
        if message is not None:
            line += f"\n   Last message: {clip(_describe(message, interest), 100)}"
            row.append(Button(f"Conversation {n}", actions.THREAD.payload(interest.id)))
        if interest.status in PLACEABLE and may_share(student):
            row.append(Button(f"Mark {n} placed", actions.STAFF_PLACE.payload(interest.id)))
        if row:
            buttons.append(tuple(row))
        lines.append(line)
    if len(interests) > MAX_LISTED:
        lines.append(f"\n…and {len(interests) - MAX_LISTED} more.")
    return [Reply("\n".join(lines), tuple(buttons))]


def _last_messages(ctx: Context, interest_ids: list[int]) -> dict[int, InterestMessage]:
    messages = ctx.session.scalars(
        select(InterestMessage)
        .where(InterestMessage.interest_id.in_(interest_ids))
        .order_by(InterestMessage.created_at, InterestMessage.id)
    )
    # Oldest first, so the newest of each application is the one left in the dictionary.
    return {m.interest_id: m for m in messages}


def _describe(message: InterestMessage, interest: Interest) -> str:
    if message.from_role == Role.STUDENT:
        who = interest.person.first_name if interest.person is not None else "The student"
    else:
        name = message.sender.first_name if message.sender is not None else "The employer"
        who = f"{name} ({interest.opportunity.organisation.name})"
    said = f": {message.text}" if message.text else ""
    return f"{who} {VERBS.get(message.kind, message.kind)}{said}"


@registry.command("thread", roles=STAFF, help="read a student's conversation: /thread 7")
def thread(ctx: Context, args: str) -> list[Reply]:
    number = args.strip().removeprefix("#")
    if not is_number(number):
        raise UserError(
            "Say which application: /thread 7 (or tap a Conversation button in /interested)."
        )
    return [_thread(ctx, number)]


@registry.action(actions.THREAD, roles=STAFF)
def thread_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_thread(ctx, args[0] if args else None)]


def _thread(ctx: Context, raw_id: str | None) -> Reply:
    school = staff_school(ctx)
    interest = ctx.session.get(Interest, parse_id(raw_id))
    if (
        interest is None
        or interest.person is None
        or student_school_id(interest.person) != school.id
    ):
        raise UserError("I can't find that application among your school's students.")
    student = interest.person
    # The status line the employer's thread about this application shows.
    lines = [
        f"{staff_label(ctx.session, student)} and {headline(interest.opportunity)}.",
        _("Status: {status}", status=application_status(interest)),
    ]
    if interest.note:
        lines.append(f"{student.first_name}'s note: {interest.note}")
    messages = ctx.session.scalars(
        select(InterestMessage)
        .where(InterestMessage.interest_id == interest.id)
        .order_by(InterestMessage.created_at, InterestMessage.id)
    ).all()
    if not messages:
        lines.append("\nNo messages yet.")
    for message in messages:
        lines.append(f"\n{fmt_when(message.created_at, ctx.person)} {_describe(message, interest)}")
    text = "\n".join(lines)
    # The newest messages matter most: a long conversation keeps its end.
    limit = ctx.caps.max_text
    return Reply(text if len(text) <= limit else "…" + text[-(limit - 1) :])


@registry.command(
    "timezone", roles=STAFF | EMPLOYERS, help="your time zone: /timezone Europe/London"
)
def timezone(ctx: Context, args: str) -> list[Reply]:
    # Students set theirs in /start; staff need it for the times they type (a schedule).
    wanted = args.strip().replace(" ", "_").lower()
    if not wanted:
        return [
            Reply(f"Your time zone is {ctx.person.timezone}. Change it: /timezone Europe/London")
        ]
    zone = _ZONES.get(wanted)
    if zone is None:
        raise UserError(
            "I don't know that time zone. Type it like Europe/London or America/New_York."
        )
    ctx.person.timezone = zone
    return [Reply(f"Done: times are in {zone} for you now.")]


@registry.command("import", roles=STAFF, help="import listings: send me a .csv or .json file")
def import_command(ctx: Context, args: str) -> list[Reply]:
    return [
        Reply(
            "Send me the file here: a .csv (with columns external_id, title, organisation and "
            f"any others) or a .json listings file, up to {MAX_FILE_BYTES // 1024 // 1024} MB. "
            "Importing it again later updates the same opportunities."
        )
    ]


@registry.file
def import_sent_file(ctx: Context, file: Attachment) -> list[Reply]:
    if ctx.role not in STAFF:
        raise UserError(
            "Thanks, but only teachers can import listings, so I haven't done anything with "
            "that file. Send /help to see what you can do."
        )
    school = staff_school(ctx)
    # Listings no school owns are the school's only where it is the only one (see owns()).
    return start_import(ctx, file, Owner(school.id, claim=only_school(ctx.session) is school))
