"""Employers answer match notifications, and the bot relays the conversation both ways.

The employer invites, asks a question or declines; the student answers through the bot. No
contact details are exchanged: each side reaches the other only through these messages, and
each message is stored so that the student's teacher can read the conversation. A minor's
details (and so any way to answer) reach the employer only once a guardian's consent is on
file: until then the employer hears that a student is interested and the school follows up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import (
    DIALOG,
    EMPLOYERS,
    STAFF,
    STUDENTS,
    Button,
    Context,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from bot.i18n import _, _p, speaking_to
from handlers import actions
from handlers.common import (
    STATUS_LABELS,
    find_when,
    headline,
    is_number,
    may_share,
    members_of,
    own_interest,
    parse_id,
    school_staff,
    shown_at,
    staff_label,
    staff_school,
    stamp,
    student_label,
    student_school_id,
)
from handlers.messaging import fmt_moment, schedule_event_reminders
from handlers.placements import create_placement, placement_card
from storage.db import transaction
from storage.models import (
    Interest,
    InterestMessage,
    InterestStatus,
    Opportunity,
    OutboxMessage,
    Person,
    Role,
)
from storage.outbox import Outgoing, enqueue_many
from storage.tags import TAGS

registry = Registry()

MAX_MESSAGE = 1000
Buttons = tuple[tuple[Button, ...], ...]

S = InterestStatus
# What each employer button may still do, by the application's status when it is pressed.
ALLOWED: dict[str, frozenset[InterestStatus]] = {
    "inv": frozenset({S.INTERESTED}),
    "ask": frozenset({S.INTERESTED, S.INVITED, S.PLACED}),
    "msg": frozenset({S.INTERESTED, S.INVITED, S.PLACED}),
    "dec": frozenset({S.INTERESTED, S.INVITED}),
    "decn": frozenset({S.INTERESTED, S.INVITED}),
    "pl": frozenset({S.INVITED}),
}
# The student can answer while the application is alive.
REPLYABLE = frozenset({S.INTERESTED, S.INVITED, S.PLACED})
# The kind of stored message each employer button writes.
KINDS = {"inv": "invite", "ask": "question", "msg": "message"}
# Each kind of stored message as its writer calls it.
WHAT = {
    "invite": "invitation",
    "question": "question",
    "message": "message",
    "decline": "answer",
    "reply": "reply",
}


def employer_members(ctx: Context, opportunity: Opportunity) -> list[Person]:
    return members_of(ctx.session, opportunity.organisation_id)


def match_notification(student: Person, opportunity: Opportunity, note: str | None) -> str:
    """What an employer learns: only what the student chose to share, and only if allowed."""
    if not may_share(student):
        return (
            f"A student is interested in {opportunity.title}. Their school will share their "
            "details once a guardian's consent is on file."
        )
    cohort = student.cohort
    origin = f" ({cohort.name}, {cohort.school.name})" if cohort is not None else ""
    lines = [f"{student.first_name or 'A student'}{origin} is interested in {opportunity.title}."]
    if student.tag_names:
        lines.append("Interested in: " + ", ".join(TAGS.get(t, t) for t in student.tag_names))
    if note:
        lines.append(f"Their note: {note}")
    return "\n".join(lines)


# One thread per application and employer member: the match notification is its first message
# (the latest one, if the student's details came later with consent or the interest was
# renewed); what follows about that application goes in its thread, and the notification's
# status line is edited as the application moves on.


def _stage(interest: Interest) -> str:
    """Where the application stands, as the thread's status line tells it."""
    if interest.status == S.INTERESTED:
        return "asked" if interest.employer_replied_at is not None else "new"
    return interest.status.value


def application_status(interest: Interest) -> str:
    """The status line's word for the application, in the current language."""
    match _stage(interest):
        case "new":
            return _p("application", "New")
        case "asked":
            return _p("application", "Asked")
        case "invited":
            return _p("application", "Invited")
        case "placed":
            return _p("application", "Placed")
        case "declined":
            return _p("application", "Declined")
        case _:
            return _p("application", "Withdrawn")


def _with_status(text: str, interest: Interest) -> str:
    return text + "\n" + _("Status: {status}", status=application_status(interest))


def thread_root(session: Session, interest_id: int, member_id: int) -> str | None:
    """The key of the match notification that starts this member's thread about the
    application, if one was queued."""
    return session.scalar(
        select(OutboxMessage.idempotency_key)
        .where(
            OutboxMessage.kind == "match",
            OutboxMessage.idempotency_key.startswith(
                f"match:{interest_id}:{member_id}:", autoescape=True
            ),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def _restate(ctx: Context, interest: Interest, message: InterestMessage, before: str) -> None:
    """Edit each member's thread root to the application's new status (and the buttons that
    fit it), if the status moved on."""
    if _stage(interest) == before:
        return
    assert interest.person is not None
    for member in employer_members(ctx, interest.opportunity):
        root = thread_root(ctx.session, interest.id, member.id)
        if root is None:
            continue
        with speaking_to(member):
            text = _with_status(
                match_notification(interest.person, interest.opportunity, interest.note),
                interest,
            )
        ctx.edit_notice(
            root,
            text,
            kind="match_status",
            key=f"match-status:{message.id}:{member.id}",
            buttons=employer_buttons(interest),
            about=interest.person,
        )


def employer_buttons(interest: Interest) -> Buttons:
    """The answers that fit where the application stands."""
    iid = interest.id
    match interest.status:
        case S.INTERESTED:
            return (
                (
                    Button("Invite", actions.EMPLOYER_ANSWER.payload(iid, "inv")),
                    Button("Ask a question", actions.EMPLOYER_ANSWER.payload(iid, "ask")),
                ),
                (Button("Decline", actions.EMPLOYER_ANSWER.payload(iid, "dec")),),
            )
        case S.INVITED:
            return (
                (
                    Button("Message", actions.EMPLOYER_ANSWER.payload(iid, "msg")),
                    Button("Mark as placed", actions.EMPLOYER_ANSWER.payload(iid, "pl")),
                ),
                (Button("Decline", actions.EMPLOYER_ANSWER.payload(iid, "dec")),),
            )
        case S.PLACED:
            return ((Button("Message", actions.EMPLOYER_ANSWER.payload(iid, "msg")),),)
        case _:
            return ()


def notify_employers(ctx: Context, interest: Interest) -> None:
    """Tell every member of the employer about a (new or renewed) interest.

    Without consent for a minor the employer hears only that a student is interested, with no
    buttons (any answer would start a conversation that identifies the student), and the
    student's teachers are asked to follow up.
    """
    student = ctx.person
    opportunity = interest.opportunity
    shared = may_share(student)
    # A renewed interest waits for a fresh answer (and may earn a fresh nudge).
    interest.employer_replied_at = None
    interest.nudged_at = None
    if shared:
        # The employer's reply time runs from this notification, not an earlier one.
        interest.details_shared_at = ctx.now
    message = match_notification(student, opportunity, interest.note)
    for member in employer_members(ctx, opportunity):
        # Without the student's details nobody can answer, so there is no status to follow.
        with speaking_to(member):
            card = _with_status(message, interest) if shared else message
        ctx.notify(
            member,
            card,
            kind="match",
            key=f"match:{interest.id}:{member.id}:{ctx.now.isoformat()}",
            buttons=employer_buttons(interest) if shared else (),
            about=student,
        )
    if not shared:
        _ask_teachers_for_consent(ctx, interest)


def _ask_teachers_for_consent(ctx: Context, interest: Interest) -> None:
    student = ctx.person
    organisation = interest.opportunity.organisation.name
    text = (
        f"{staff_label(ctx.session, student)} registered interest in "
        f"{headline(interest.opportunity)}. A guardian's consent isn't on file, so "
        f"{organisation} only knows that a student is interested. Please follow up: once "
        f"consent is on file, I'll send {organisation} {student.first_name}'s details."
    )
    for teacher in school_staff(ctx.session, student_school_id(student)):
        ctx.notify(
            teacher,
            text,
            kind="consent_followup",
            key=f"consent-ask:{interest.id}:{teacher.id}:{ctx.now.isoformat()}",
            buttons=((Button("Consent on file", actions.CONSENT_ON_FILE.payload(student.id)),),),
            about=student,
        )


def share_pending(ctx: Context, student: Person) -> int:
    """After consent: send the student's details for every interest the employer has not seen.

    Returns how many applications were shared.
    """
    interests = ctx.session.scalars(
        select(Interest)
        .where(
            Interest.person_id == student.id,
            Interest.details_shared_at.is_(None),
            Interest.status == S.INTERESTED,
        )
        .order_by(Interest.id)
    ).all()
    for interest in interests:
        interest.details_shared_at = ctx.now
        text = "A guardian's consent is now on file, so here are the student's details.\n\n"
        text += match_notification(student, interest.opportunity, interest.note)
        for member in employer_members(ctx, interest.opportunity):
            with speaking_to(member):
                card = _with_status(text, interest)
            ctx.notify(
                member,
                card,
                kind="match",
                key=f"match:{interest.id}:{member.id}:consent:{ctx.now.isoformat()}",
                buttons=employer_buttons(interest),
                about=student,
            )
    return len(interests)


NUDGE = "A friendly reminder: this student is still waiting to hear from you.\n\n"


def nudge_unanswered(
    session_factory: sessionmaker[Session],
    now: datetime,
    timing: Timing,
    *,
    after: timedelta,
    batch: int = 200,
) -> int:
    """One friendly nudge to every member of the employer for each match notification that
    nobody answered within ``after``; returns how many matches were nudged.

    The clock starts when the employer could first answer: when the student's details were
    shared (for a minor, once consent is on file) or the interest was last renewed. Each match
    is claimed with ``FOR UPDATE SKIP LOCKED`` and marked nudged in the transaction that queues
    the nudge, so several workers nudge it once. A nudge can wait, so it keeps quiet hours.
    """
    cutoff = now - after
    total = 0
    while True:
        with transaction(session_factory) as session:
            claimed = session.scalars(
                select(Interest)
                .where(
                    Interest.status == S.INTERESTED,
                    Interest.person_id.is_not(None),
                    Interest.employer_replied_at.is_(None),
                    Interest.nudged_at.is_(None),
                    Interest.details_shared_at <= cutoff,
                    Interest.updated_at <= cutoff,
                )
                .order_by(Interest.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            messages: list[Outgoing] = []
            for interest in claimed:
                interest.nudged_at = now
                student, opportunity = interest.person, interest.opportunity
                assert student is not None and interest.details_shared_at is not None
                since = max(interest.details_shared_at, interest.updated_at)
                text = NUDGE + match_notification(student, opportunity, interest.note)
                buttons = stored_buttons(employer_buttons(interest))
                messages.extend(
                    Outgoing(
                        member,
                        text,
                        "nudge",
                        f"nudge:{interest.id}:{member.id}:{since.isoformat()}",
                        buttons,
                        about=student,
                        thread_of=thread_root(session, interest.id, member.id),
                    )
                    for member in members_of(session, opportunity.organisation_id)
                )
            enqueue_many(session, messages, now=now, quiet=timing.quiet)
            total += len(claimed)
        if len(claimed) < batch:
            return total


def _answerable(ctx: Context, raw_id: str | None, verb: str) -> Interest:
    """The application an employer's button names, if this member may still answer it so."""
    interest = ctx.session.get(Interest, parse_id(raw_id))
    if interest is None:
        raise UserError("That application no longer exists.")
    opportunity = interest.opportunity
    if opportunity.organisation_id != ctx.person.organisation_id:
        raise UserError("Sorry, that application is for another organisation.")
    if interest.person_id is None or interest.status == S.WITHDRAWN:
        raise UserError(
            f"The student has withdrawn their interest in {opportunity.title}, "
            "so there's nothing to answer."
        )
    if interest.details_shared_at is None:
        raise UserError(
            "You can't answer this one yet: the school is waiting for a guardian's consent. "
            "I'll send you the student's details as soon as it's on file."
        )
    if interest.status not in ALLOWED[verb]:
        raise UserError(_not_now(interest, verb), employer_buttons(interest))
    return interest


def _not_now(interest: Interest, verb: str) -> str:
    if verb == "inv" and interest.status == S.INVITED:
        return (
            f"You've already invited {student_label(interest.person)}. To add or change "
            "details, send them a message."
        )
    if interest.status == S.DECLINED:
        return "You've already declined this application."
    if interest.status == S.PLACED:
        return "This student already has a place: send them a message instead."
    return "Please invite the student first: you can mark them as placed after an invitation."


def _prompt(interest: Interest, verb: str, now: datetime) -> Reply:
    who = student_label(interest.person)
    title = interest.opportunity.title
    cancel = (Button("Cancel", actions.EMPLOYER_ANSWER_CANCEL.payload(interest.id, stamp(now))),)
    if verb == "inv":
        text = (
            f"Type your invitation for {who} (for example an interview time and place for "
            f"{title}). I'll pass it on through the bot."
        )
        return Reply(text, (cancel,))
    if verb == "dec":
        text = (
            f"Would you like to add a kind word for {who}? Type it now, or decline without "
            "a message."
        )
        return Reply(
            text,
            (
                (
                    Button(
                        "Decline without a message",
                        actions.EMPLOYER_ANSWER.payload(interest.id, "decn"),
                    ),
                ),
                cancel,
            ),
        )
    what = "question" if verb == "ask" else "message"
    return Reply(f"Type your {what} for {who} about {title}. I'll pass it on.", (cancel,))


@registry.action(actions.EMPLOYER_ANSWER, roles=EMPLOYERS)
def employer_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2 or args[1] not in ALLOWED:
        raise UserError("That button doesn't work any more. Send /help to see what you can do.")
    raw_id, verb = args
    interest = _answerable(ctx, raw_id, verb)
    if verb == "decn":
        replies = _decline(ctx, interest, "")
    elif verb == "pl":
        replies = _place(ctx, interest)
    else:
        ctx.start_dialog("employer_message", EmployerDialog(interest=interest.id, verb=verb))
        replies = [_prompt(interest, verb, ctx.now)]
    # The answer belongs with the notification pressed: in its thread, where there are threads.
    return [replace(reply, in_thread=True) for reply in replies]


@registry.action(actions.EMPLOYER_ANSWER_CANCEL, roles=EMPLOYERS)
def employer_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [_cancelled(ctx, args)]


def _cancelled(ctx: Context, args: list[str]) -> Reply:
    """The answer to a prompt's Cancel (``emx``/``srx:INTEREST:STAMP``): truthful also when
    what the prompt asked for was typed and sent after it was shown."""
    if len(args) == 2 and (since := shown_at(args[1])) is not None:
        sent = ctx.session.scalar(
            select(InterestMessage)
            .where(
                InterestMessage.interest_id == parse_id(args[0]),
                InterestMessage.from_person_id == ctx.person.id,
                InterestMessage.created_at >= since,
                InterestMessage.kind.in_(WHAT),
            )
            .order_by(InterestMessage.id.desc())
            .limit(1)
        )
        if sent is not None:
            what = WHAT[sent.kind]
            return Reply(
                f"Your {what} was already sent, so there's nothing to cancel.", replace=True
            )
    return Reply("OK, nothing sent.", replace=True)


def _message_text(text: str) -> str:
    message = text.strip()
    if len(message) > MAX_MESSAGE:
        raise UserError(
            f"That's {len(message)} characters; please keep it under {MAX_MESSAGE} and "
            "send it again."
        )
    return message


class EmployerDialog(TypedDict):
    """The message an employer types to a student: about which interest, and the answer's
    verb (one of ``KINDS``, or "dec" to decline with a message)."""

    interest: int
    verb: str


@registry.dialog("employer_message")
def employer_typed(ctx: Context, text: str, dialog: EmployerDialog) -> list[Reply]:
    verb = str(dialog.get("verb"))
    if verb not in KINDS and verb != "dec":
        ctx.clear_state(DIALOG)
        raise UserError("That conversation has expired. Please press the button again.")
    interest = _answerable(ctx, str(dialog.get("interest")), verb)
    message = _message_text(text)
    ctx.clear_state(DIALOG)
    if verb == "dec":
        return _decline(ctx, interest, message)
    return _write_to_student(ctx, interest, verb, message)


def _record(ctx: Context, interest: Interest, kind: str, text: str) -> InterestMessage:
    message = InterestMessage(
        interest_id=interest.id,
        from_person_id=ctx.person.id,
        from_role=ctx.person.role,
        kind=kind,
        text=text,
        created_at=ctx.now,
    )
    ctx.session.add(message)
    ctx.session.flush()
    interest.updated_at = ctx.now
    if ctx.person.role == Role.EMPLOYER and interest.employer_replied_at is None:
        interest.employer_replied_at = ctx.now
    return message


def _colleague(ctx: Context) -> str:
    """The employer member who answered, as their colleagues see them."""
    return ctx.person.first_name or "A colleague"


def _tell_student(
    ctx: Context, interest: Interest, message: InterestMessage, text: str, *, reply: bool
) -> None:
    assert interest.person is not None
    buttons = ((Button("Reply", actions.STUDENT_REPLY.payload(interest.id)),),) if reply else ()
    ctx.notify(
        interest.person,
        text,
        kind="relay",
        key=f"relay:{message.id}:{interest.person.id}",
        buttons=buttons,
        thread_of=_student_thread(ctx, interest, interest.person),
    )


def _student_thread(ctx: Context, interest: Interest, student: Person) -> str | None:
    """The student's side of the thread: the first message about the application they were
    sent (on Telegram the later ones quote it)."""
    said = ctx.session.scalars(
        select(InterestMessage.id).where(InterestMessage.interest_id == interest.id)
    )
    keys = [f"relay:{message_id}:{student.id}" for message_id in said]
    return ctx.session.scalar(
        select(OutboxMessage.idempotency_key)
        .where(OutboxMessage.idempotency_key.in_(keys))
        .order_by(OutboxMessage.id)
        .limit(1)
    )


def _tell_members(
    ctx: Context, interest: Interest, message: InterestMessage, text: str, *, others_only: bool
) -> None:
    """Every member of the employer (but the writer, for a copy of what they did)."""
    for member in employer_members(ctx, interest.opportunity):
        if others_only and member.id == ctx.person.id:
            continue
        ctx.notify(
            member,
            text,
            kind="relay",
            key=f"relay:{message.id}:{member.id}",
            buttons=employer_buttons(interest),
            about=interest.person,
            thread_of=thread_root(ctx.session, interest.id, member.id),
        )


def _write_to_student(ctx: Context, interest: Interest, verb: str, text: str) -> list[Reply]:
    before = _stage(interest)
    if verb == "inv":
        interest.status = S.INVITED
    message = _record(ctx, interest, KINDS[verb], text)
    _restate(ctx, interest, message, before)
    organisation = interest.opportunity.organisation.name
    title = interest.opportunity.title
    who = student_label(interest.person)
    to_student, done, copy = {
        "inv": (
            f"{organisation} invited you for {title}: {text}",
            f"Invitation sent to {who}.",
            f"{_colleague(ctx)} invited {who} for {title}: {text}",
        ),
        "ask": (
            f"{organisation} has a question about {title}: {text}",
            f"Question sent to {who}.",
            f"{_colleague(ctx)} asked {who} about {title}: {text}",
        ),
        "msg": (
            f"{organisation} writes about {title}: {text}",
            f"Message sent to {who}.",
            f"{_colleague(ctx)} wrote to {who} about {title}: {text}",
        ),
    }[verb]
    event_at = _invited_event(ctx, interest, text) if verb == "inv" else None
    if event_at is not None and interest.person is not None:
        to_student += (
            f"\n\nI'll remind you before it ({fmt_moment(event_at, interest.person, ctx.now)})."
        )
        when = fmt_moment(event_at, ctx.person, ctx.now)
        done += f" I read the time as {when} and will remind {who} before it."
    _tell_student(ctx, interest, message, to_student, reply=True)
    _tell_members(ctx, interest, message, copy, others_only=True)
    return [Reply(f"{done} Their reply will come here.", employer_buttons(interest))]


def _invited_event(ctx: Context, interest: Interest, text: str) -> datetime | None:
    """The date and time an invitation names (an interview, a shadowing day), read in the
    writer's time zone, once the student's reminders before it are set; None if it names none."""
    event_at = find_when(text, ctx.now, ctx.person.zone)
    if event_at is None or interest.person is None:
        return None
    reminders = schedule_event_reminders(
        ctx.session,
        interest.person,
        interest.opportunity,
        event_at,
        now=ctx.now,
        timing=ctx.timing,
        what="Invitation",
    )
    return event_at if reminders else None


def _decline(ctx: Context, interest: Interest, text: str) -> list[Reply]:
    before = _stage(interest)
    interest.status = S.DECLINED
    message = _record(ctx, interest, "decline", text)
    _restate(ctx, interest, message, before)
    organisation = interest.opportunity.organisation.name
    title = interest.opportunity.title
    who = student_label(interest.person)
    lines = [
        f"Thank you for your interest in {title}. {organisation} can't offer you a place this time."
    ]
    if text:
        lines.append(f"They said: {text}")
    lines.append("Don't be discouraged: there's plenty more to find with /browse.")
    _tell_student(ctx, interest, message, "\n".join(lines), reply=False)
    said = f": {text}" if text else "."
    _tell_members(
        ctx,
        interest,
        message,
        f"{_colleague(ctx)} declined {who} for {title}{said}",
        others_only=True,
    )
    return [Reply(f"Declined. I've let {who} know kindly.", replace=not text)]


def _place(ctx: Context, interest: Interest) -> list[Reply]:
    """Mark the application placed (by an employer member or the student's teacher)."""
    before = _stage(interest)
    interest.status = S.PLACED
    message = _record(ctx, interest, "placed", "")
    _restate(ctx, interest, message, before)
    placement = create_placement(ctx, interest)
    organisation = interest.opportunity.organisation.name
    title = interest.opportunity.title
    who = student_label(interest.person)
    by_teacher = ctx.person.role != Role.EMPLOYER
    confirmed = (
        f"your teacher confirmed your place for {title} at {organisation}"
        if by_teacher
        else f"{organisation} confirmed your place for {title}"
    )
    _tell_student(
        ctx,
        interest,
        message,
        f"Great news: {confirmed}. Well done! "
        "Log your hours as you go with /hours, for example /hours today 3h.",
        # The student may write to the employer only once the employer has written to them.
        reply=interest.employer_replied_at is not None,
    )
    placer = f"{ctx.person.name or 'A teacher'} (the student's teacher)" if by_teacher else None
    _tell_members(
        ctx,
        interest,
        message,
        f"{placer or _colleague(ctx)} marked {who} as placed for {title}. "
        f"Set the dates and supervisor with /placements {placement.id}.",
        others_only=not by_teacher,
    )
    if by_teacher and interest.person is not None:
        who = staff_label(ctx.session, interest.person)
    done = f"Marked {who} as placed for {title}. I've told them the good news."
    return [placement_card(ctx, placement, note=done + " Please check the details:")]


@registry.command("place", roles=STAFF, help="mark one of your students placed: /place APPLICATION")
def place(ctx: Context, args: str) -> list[Reply]:
    number = args.strip().removeprefix("#")
    if not is_number(number):
        raise UserError(
            "Say which application by its number, like /place 7 (the numbers are in /interested)."
        )
    return _teacher_places(ctx, int(number))


@registry.action(actions.STAFF_PLACE, roles=STAFF)
def place_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return _teacher_places(ctx, parse_id(args[0] if args else None))


def _teacher_places(ctx: Context, interest_id: int) -> list[Reply]:
    interest = ctx.session.get(Interest, interest_id)
    school = staff_school(ctx)
    if (
        interest is None
        or interest.person is None
        or student_school_id(interest.person) != school.id
    ):
        raise UserError("I can't find that application among your students'.")
    if interest.status == S.PLACED:
        raise UserError(
            f"{staff_label(ctx.session, interest.person)} already has a place: see /placements "
            "to change it."
        )
    if interest.status not in (S.INTERESTED, S.INVITED):
        raise UserError(
            f"That application is {STATUS_LABELS[interest.status][0].lower()}, so it can't "
            "be marked placed."
        )
    if not may_share(interest.person):
        raise UserError(
            f"{staff_label(ctx.session, interest.person)} is under 18 and their guardian's "
            "consent isn't on file "
            "yet, so the employer can't know who they are. Record it first with /consent."
        )
    return _place(ctx, interest)


# As many as the buttons to open them can show.
MAX_APPLICATIONS = 12
_ANSWER_STATE = {
    S.INTERESTED: "waiting for your answer",
    S.INVITED: "invited",
    S.PLACED: "placed",
}


def live_applications(
    ctx: Context, statuses: tuple[InterestStatus, ...] = tuple(_ANSWER_STATE)
) -> list[Interest]:
    """The employer's applications in ``statuses`` (by default every live one), newest first."""
    return list(
        ctx.session.scalars(
            select(Interest)
            .join(Opportunity, Opportunity.id == Interest.opportunity_id)
            .where(
                Opportunity.organisation_id == ctx.person.organisation_id,
                Interest.status.in_(statuses),
                Interest.person_id.is_not(None),
            )
            .options(selectinload(Interest.opportunity), selectinload(Interest.person))
            .order_by(Interest.updated_at.desc(), Interest.id.desc())
            .limit(MAX_APPLICATIONS)
        )
    )


@registry.command(
    "matches",
    "candidates",
    roles=EMPLOYERS,
    help="students interested in your opportunities; answer one",
)
def applications(ctx: Context, args: str) -> list[Reply]:
    """Every live application to this employer, so a missed notification is never lost."""
    interests = live_applications(ctx)
    if not interests:
        return [
            Reply(
                "No applications yet. When a student registers interest in one of your "
                "opportunities, you'll hear from me, and it will be listed here."
            )
        ]
    lines = ["Applications to your opportunities, newest first:"]
    buttons = []
    for interest in interests:
        title = interest.opportunity.title
        if interest.details_shared_at is None:
            lines.append(f"• A student, {title}: waiting for a guardian's consent")
            continue
        state = _ANSWER_STATE[interest.status]
        lines.append(f"• #{interest.id} {student_label(interest.person)}, {title}: {state}")
        buttons.append(Button(f"#{interest.id}", actions.APPLICATION.payload(interest.id)))
    rows = tuple(tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4))
    if rows:
        lines.append("Tap a number to answer.")
    return [Reply("\n".join(lines), rows)]


@registry.action(actions.APPLICATION, roles=EMPLOYERS)
def application_opened(ctx: Context, args: list[str]) -> list[Reply]:
    interest = _answerable(ctx, args[0] if args else None, "msg")
    assert interest.person is not None
    text = match_notification(interest.person, interest.opportunity, interest.note)
    return [Reply(f"{text}\nStatus: {_ANSWER_STATE[interest.status]}.", employer_buttons(interest))]


@registry.action(actions.STUDENT_REPLY, roles=STUDENTS)
def student_reply_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    interest = _replyable(ctx, args[0] if args else None)
    ctx.start_dialog("student_reply", ReplyDialog(interest=interest.id))
    return [
        Reply(
            f"Type your reply to {interest.opportunity.organisation.name} about "
            f"{interest.opportunity.title} (up to {MAX_MESSAGE} characters).",
            (
                (
                    Button(
                        "Cancel", actions.STUDENT_REPLY_CANCEL.payload(interest.id, stamp(ctx.now))
                    ),
                ),
            ),
        )
    ]


@registry.action(actions.STUDENT_REPLY_CANCEL, roles=STUDENTS)
def student_reply_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [_cancelled(ctx, args)]


def _replyable(ctx: Context, raw_id: str | None) -> Interest:
    interest = own_interest(ctx, raw_id)
    if interest.status not in REPLYABLE:
        raise UserError(
            "That application is closed now, so there's no one to reply to. Send /mine to "
            "see the others."
        )
    # Employers start the conversation: a student cannot write to one unprompted.
    if interest.employer_replied_at is None:
        raise UserError("You can reply once the employer has written to you.")
    return interest


class ReplyDialog(TypedDict):
    """A student's reply to an employer's message: about which interest."""

    interest: int


@registry.dialog("student_reply")
def student_typed(ctx: Context, text: str, dialog: ReplyDialog) -> list[Reply]:
    interest = _replyable(ctx, str(dialog.get("interest")))
    reply = _message_text(text)
    ctx.clear_state(DIALOG)
    message = _record(ctx, interest, "reply", reply)
    title = interest.opportunity.title
    _tell_members(
        ctx,
        interest,
        message,
        f"{student_label(ctx.person)} replies about {title}: {reply}",
        others_only=False,
    )
    return [
        Reply(
            f"Sent to {interest.opportunity.organisation.name}. Their answer will come here.",
            ((Button("My applications", actions.MY_APPLICATIONS.payload()),),),
        )
    ]
