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
from bot.i18n import N_, _, _n
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
# What each kind of message in a conversation was, after who sent it.
VERBS = {
    "invite": N_("{who} invited"),
    "question": N_("{who} asked"),
    "message": N_("{who} wrote"),
    "decline": N_("{who} declined"),
    "placed": N_("{who} marked as placed"),
    "reply": N_("{who} replied"),
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


@registry.command(
    "cohort", "class", roles=STAFF, help=N_("your classes, or add one: /cohort Year 12")
)
def cohort(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    name = " ".join(args.split())
    if not name:
        return [_cohort_list(ctx, school)]
    if len(name) > MAX_COHORT_NAME:
        raise UserError(
            _("Please keep the class name under {most} characters.", most=MAX_COHORT_NAME)
        )
    existing = ctx.session.scalar(
        select(Cohort).where(Cohort.school_id == school.id, func.lower(Cohort.name) == name.lower())
    )
    if existing is not None:
        raise UserError(
            _(
                "There's already a class called {name}: its join code is {code}.",
                name=existing.name,
                code=existing.join_code,
            )
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
            _(
                "Created {name} at {school}. Students join with the code {code}: they send "
                "/start {code} to me.",
                name=name,
                school=school.name,
                code=created.join_code,
            )
        )
    ]


def _cohort_list(ctx: Context, school: School) -> Reply:
    cohorts = school_cohorts(ctx.session, school)
    if not cohorts:
        return Reply(
            _("{school} has no classes yet. Add one with /cohort Year 12.", school=school.name)
        )
    sizes = dict(
        ctx.session.execute(
            select(Person.cohort_id, func.count())
            .where(Person.cohort_id.in_([c.id for c in cohorts]), Person.role == Role.STUDENT)
            .group_by(Person.cohort_id)
        ).all()
    )
    lines = [_("Classes at {school}:", school=school.name)]
    for c in cohorts:
        lines.append(
            _n(
                "• {name}: join code {code} ({n} student)",
                "• {name}: join code {code} ({n} students)",
                sizes.get(c.id, 0),
                name=c.name,
                code=c.join_code,
            )
        )
    return Reply("\n".join(lines))


@registry.command(
    "interested", roles=STAFF, help=N_("who of your students is interested: /interested 12")
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
                _(
                    "None of your students has registered interest in #{number} {listing} yet.",
                    number=opportunity.id,
                    listing=headline(opportunity),
                )
            )
        ]
    last = _last_messages(ctx, [i.id for i in interests])
    lines = [
        _(
            "Your students interested in #{number} {listing}:",
            number=opportunity.id,
            listing=headline(opportunity),
        )
    ]
    buttons = []
    listed = interests[:MAX_LISTED]
    labels = staff_labels(ctx.session, [i.person for i in listed if i.person is not None])
    for n, interest in enumerate(listed, start=1):
        line, row = _interest_line(n, interest, labels, last.get(interest.id))
        if row:
            buttons.append(row)
        lines.append(line)
    if len(interests) > MAX_LISTED:
        lines.append("\n" + _("…and {count} more.", count=len(interests) - MAX_LISTED))
    return [Reply("\n".join(lines), tuple(buttons))]


def _interest_line(
    n: int, interest: Interest, labels: dict[int, str], message: InterestMessage | None
) -> tuple[str, tuple[Button, ...]]:
    """One student's application in /interested, and its buttons."""
    student = interest.person
    assert student is not None
    line = f"\n{n}. " + _(
        "{student}: {status}, application #{number}",
        student=labels[student.id],
        status=_(STATUS_LABELS[interest.status][0]).lower(),
        number=interest.id,
    )
    row = []
    if message is not None:
        line += "\n   " + _(
            "Last message: {message}", message=clip(_describe(message, interest), 100)
        )
        row.append(
            Button(_("Conversation {number}", number=n), actions.THREAD.payload(interest.id))
        )
    if interest.status in PLACEABLE and may_share(student):
        row.append(
            Button(_("Mark {number} placed", number=n), actions.STAFF_PLACE.payload(interest.id))
        )
    return line, tuple(row)


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
        who = interest.person.first_name if interest.person is not None else _("The student")
    else:
        name = message.sender.first_name if message.sender is not None else _("The employer")
        who = f"{name} ({interest.opportunity.organisation.name})"
    said = f": {message.text}" if message.text else ""
    did = _(VERBS[message.kind], who=who) if message.kind in VERBS else f"{who} {message.kind}"
    return did + said


@registry.command("thread", roles=STAFF, help=N_("read a student's conversation: /thread 7"))
def thread(ctx: Context, args: str) -> list[Reply]:
    number = args.strip().removeprefix("#")
    if not is_number(number):
        raise UserError(
            _("Say which application: /thread 7 (or tap a Conversation button in /interested).")
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
        raise UserError(_("I can't find that application among your school's students."))
    student = interest.person
    # The status line the employer's thread about this application shows.
    lines = [
        _(
            "{student} and {listing}.",
            student=staff_label(ctx.session, student),
            listing=headline(interest.opportunity),
        ),
        _("Status: {status}", status=application_status(interest)),
    ]
    if interest.note:
        lines.append(_("{name}'s note: {note}", name=student.first_name, note=interest.note))
    messages = ctx.session.scalars(
        select(InterestMessage)
        .where(InterestMessage.interest_id == interest.id)
        .order_by(InterestMessage.created_at, InterestMessage.id)
    ).all()
    if not messages:
        lines.append("\n" + _("No messages yet."))
    for message in messages:
        lines.append(f"\n{fmt_when(message.created_at, ctx.person)} {_describe(message, interest)}")
    text = "\n".join(lines)
    # The newest messages matter most: a long conversation keeps its end.
    limit = ctx.caps.max_text
    return Reply(text if len(text) <= limit else "…" + text[-(limit - 1) :])


@registry.command(
    "timezone", roles=STAFF | EMPLOYERS, help=N_("your time zone: /timezone Europe/London")
)
def timezone(ctx: Context, args: str) -> list[Reply]:
    # Students set theirs in /start; staff need it for the times they type (a schedule).
    wanted = args.strip().replace(" ", "_").lower()
    if not wanted:
        return [
            Reply(
                _(
                    "Your time zone is {zone}. Change it: /timezone Europe/London",
                    zone=ctx.person.timezone,
                )
            )
        ]
    zone = _ZONES.get(wanted)
    if zone is None:
        raise UserError(
            _("I don't know that time zone. Type it like Europe/London or America/New_York.")
        )
    ctx.person.timezone = zone
    return [Reply(_("Done: times are in {zone} for you now.", zone=zone))]


@registry.command("import", roles=STAFF, help=N_("import listings: send me a .csv or .json file"))
def import_command(ctx: Context, args: str) -> list[Reply]:
    return [
        Reply(
            _(
                "Send me the file here: a .csv (with columns external_id, title, organisation "
                "and any others) or a .json listings file, up to {megabytes} MB. Importing it "
                "again later updates the same opportunities.",
                megabytes=MAX_FILE_BYTES // 1024 // 1024,
            )
        )
    ]


@registry.file
def import_sent_file(ctx: Context, file: Attachment) -> list[Reply]:
    if ctx.role not in STAFF:
        raise UserError(
            _(
                "Thanks, but only teachers can import listings, so I haven't done anything with "
                "that file. Send /help to see what you can do."
            )
        )
    school = staff_school(ctx)
    # Listings no school owns are the school's only where it is the only one (see owns()).
    return start_import(ctx, file, Owner(school.id, claim=only_school(ctx.session) is school))
