"""Employers answer match notifications, and the bot relays the conversation both ways.

The employer invites, asks a question or declines; the student answers through the bot. No
contact details are exchanged: each side reaches the other only through these messages, and
each message is stored so that the student's teacher can read the conversation. A minor's
details (and so any way to answer) reach the employer only once a guardian's consent is on
file: until then the employer hears that a student is interested and the school follows up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from bot.i18n import N_, _, _p, fmt_list, speaking_to
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
from storage.db import claimed_batches
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
# What a Cancel says once each kind of stored message was already sent.
WHAT = {
    "invite": N_("Your invitation was already sent, so there's nothing to cancel."),
    "question": N_("Your question was already sent, so there's nothing to cancel."),
    "message": N_("Your message was already sent, so there's nothing to cancel."),
    "decline": N_("Your answer was already sent, so there's nothing to cancel."),
    "reply": N_("Your reply was already sent, so there's nothing to cancel."),
}


def employer_members(ctx: Context, opportunity: Opportunity) -> list[Person]:
    return members_of(ctx.session, opportunity.organisation_id)


def match_notification(student: Person, opportunity: Opportunity, note: str | None) -> str:
    """What an employer learns: only what the student chose to share, and only if allowed."""
    if not may_share(student):
        return _(
            "A student is interested in {title}. Their school will share their details once a "
            "guardian's consent is on file.",
            title=opportunity.title,
        )
    cohort = student.cohort
    name = student.first_name or _("A student")
    lines = [
        _(
            "{name} ({cohort}, {school}) is interested in {title}.",
            name=name,
            cohort=cohort.name,
            school=cohort.school.name,
            title=opportunity.title,
        )
        if cohort is not None
        else _("{name} is interested in {title}.", name=name, title=opportunity.title)
    ]
    if student.tag_names:
        fields = [_(TAGS[t]) if t in TAGS else t for t in student.tag_names]
        lines.append(_("Interested in: {fields}", fields=fmt_list(fields, style="unit-short")))
    if note:
        lines.append(_("Their note: {note}", note=note))
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


def tell_withdrawn(ctx: Context, interest: Interest) -> None:
    """Tell each member of the employer that the student withdrew, in the application's thread,
    and edit the thread's first message down to that: the student's details and the buttons go,
    since there is nothing left to answer and the student asked to be told only that."""
    opportunity = interest.opportunity
    for member in employer_members(ctx, opportunity):
        root = thread_root(ctx.session, interest.id, member.id)
        with speaking_to(member):
            notice = _(
                "A student has withdrawn their interest in {title}.", title=opportunity.title
            )
            ctx.notify(
                member,
                notice,
                kind="withdrawn",
                key=f"withdrawn:{interest.id}:{member.id}:{ctx.now.isoformat()}",
                thread_of=root,
            )
            if root is not None:
                ctx.edit_notice(
                    root,
                    _with_status(notice, interest),
                    kind="match_status",
                    key=f"match-status:withdrawn:{interest.id}:{member.id}:{ctx.now.isoformat()}",
                    buttons=(),
                )


def employer_buttons(interest: Interest) -> Buttons:
    """The answers that fit where the application stands."""
    iid = interest.id
    match interest.status:
        case S.INTERESTED:
            return (
                (
                    Button(_("Invite"), actions.EMPLOYER_ANSWER.payload(iid, "inv")),
                    Button(_("Ask a question"), actions.EMPLOYER_ANSWER.payload(iid, "ask")),
                ),
                (Button(_("Decline"), actions.EMPLOYER_ANSWER.payload(iid, "dec")),),
            )
        case S.INVITED:
            return (
                (
                    Button(_p("button", "Message"), actions.EMPLOYER_ANSWER.payload(iid, "msg")),
                    Button(_("Mark as placed"), actions.EMPLOYER_ANSWER.payload(iid, "pl")),
                ),
                (Button(_("Decline"), actions.EMPLOYER_ANSWER.payload(iid, "dec")),),
            )
        case S.PLACED:
            return (
                (Button(_p("button", "Message"), actions.EMPLOYER_ANSWER.payload(iid, "msg")),),
            )
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
    for member in employer_members(ctx, opportunity):
        with speaking_to(member):
            message = match_notification(student, opportunity, interest.note)
            # Without the student's details nobody can answer, so there is no status to follow.
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
    label = staff_label(ctx.session, student)
    for teacher in school_staff(ctx.session, student_school_id(student)):
        with speaking_to(teacher):
            text = _(
                "{student} registered interest in {title}. A guardian's consent isn't on file, "
                "so {organisation} only knows that a student is interested. Please follow up: "
                "once consent is on file, I'll send {organisation} {name}'s details.",
                student=label,
                title=headline(interest.opportunity),
                organisation=organisation,
                name=student.first_name,
            )
            on_file = Button(_("Consent on file"), actions.CONSENT_ON_FILE.payload(student.id))
            ctx.notify(
                teacher,
                text,
                kind="consent_followup",
                key=f"consent-ask:{interest.id}:{teacher.id}:{ctx.now.isoformat()}",
                buttons=((on_file,),),
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
        for member in employer_members(ctx, interest.opportunity):
            with speaking_to(member):
                text = _("A guardian's consent is now on file, so here are the student's details.")
                text += "\n\n" + match_notification(student, interest.opportunity, interest.note)
                ctx.notify(
                    member,
                    _with_status(text, interest),
                    kind="match",
                    key=f"match:{interest.id}:{member.id}:consent:{ctx.now.isoformat()}",
                    buttons=employer_buttons(interest),
                    about=student,
                )
    return len(interests)


NUDGE = N_("A friendly reminder: this student is still waiting to hear from you.")


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
    unanswered = (
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
    )

    def nudge(session: Session, claimed: Sequence[Interest]) -> int:
        messages: list[Outgoing] = []
        for interest in claimed:
            interest.nudged_at = now
            student, opportunity = interest.person, interest.opportunity
            assert student is not None and interest.details_shared_at is not None
            since = max(interest.details_shared_at, interest.updated_at)
            for member in members_of(session, opportunity.organisation_id):
                with speaking_to(member):
                    text = _(NUDGE) + "\n\n"
                    text += match_notification(student, opportunity, interest.note)
                    messages.append(
                        Outgoing(
                            member,
                            text,
                            "nudge",
                            f"nudge:{interest.id}:{member.id}:{since.isoformat()}",
                            stored_buttons(employer_buttons(interest)),
                            about=student,
                            thread_of=thread_root(session, interest.id, member.id),
                        )
                    )
        enqueue_many(session, messages, now=now, quiet=timing.quiet)
        return len(claimed)

    return sum(claimed_batches(session_factory, unanswered, nudge, batch=batch))


def _answerable(ctx: Context, raw_id: str | None, verb: str) -> Interest:
    """The application an employer's button names, if this member may still answer it so."""
    interest = ctx.session.get(Interest, parse_id(raw_id))
    if interest is None:
        raise UserError(_("That application no longer exists."))
    opportunity = interest.opportunity
    if opportunity.organisation_id != ctx.person.organisation_id:
        raise UserError(_("Sorry, that application is for another organisation."))
    if interest.person_id is None or interest.status == S.WITHDRAWN:
        raise UserError(
            _(
                "The student has withdrawn their interest in {title}, so there's nothing to "
                "answer.",
                title=opportunity.title,
            )
        )
    if interest.details_shared_at is None:
        raise UserError(
            _(
                "You can't answer this one yet: the school is waiting for a guardian's consent. "
                "I'll send you the student's details as soon as it's on file."
            )
        )
    if interest.status not in ALLOWED[verb]:
        raise UserError(_not_now(interest, verb), employer_buttons(interest))
    return interest


def _not_now(interest: Interest, verb: str) -> str:
    if verb == "inv" and interest.status == S.INVITED:
        return _(
            "You've already invited {who}. To add or change details, send them a message.",
            who=student_label(interest.person),
        )
    if interest.status == S.DECLINED:
        return _("You've already declined this application.")
    if interest.status == S.PLACED:
        return _("This student already has a place: send them a message instead.")
    return _("Please invite the student first: you can mark them as placed after an invitation.")


def _prompt(interest: Interest, verb: str, now: datetime) -> Reply:
    who = student_label(interest.person)
    title = interest.opportunity.title
    cancel = (Button(_("Cancel"), actions.EMPLOYER_ANSWER_CANCEL.payload(interest.id, stamp(now))),)
    if verb == "inv":
        text = _(
            "Type your invitation for {who} (for example an interview time and place for "
            "{title}). I'll pass it on through the bot.",
            who=who,
            title=title,
        )
        return Reply(text, (cancel,))
    if verb == "dec":
        text = _(
            "Would you like to add a kind word for {who}? Type it now, or decline without "
            "a message.",
            who=who,
        )
        return Reply(
            text,
            (
                (
                    Button(
                        _("Decline without a message"),
                        actions.EMPLOYER_ANSWER.payload(interest.id, "decn"),
                    ),
                ),
                cancel,
            ),
        )
    if verb == "ask":
        text = _(
            "Type your question for {who} about {title}. I'll pass it on.", who=who, title=title
        )
    else:
        text = _(
            "Type your message for {who} about {title}. I'll pass it on.", who=who, title=title
        )
    return Reply(text, (cancel,))


@registry.action(actions.EMPLOYER_ANSWER, roles=EMPLOYERS)
def employer_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2 or args[1] not in ALLOWED:
        raise UserError(_("That button doesn't work any more. Send /help to see what you can do."))
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
            return Reply(_(WHAT[sent.kind]), replace=True)
    return Reply(_("OK, nothing sent."), replace=True)


def _message_text(text: str) -> str:
    message = text.strip()
    if len(message) > MAX_MESSAGE:
        raise UserError(
            _(
                "That's {length} characters; please keep it under {n} and send it again.",
                length=len(message),
                n=MAX_MESSAGE,
            )
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
        raise UserError(_("That conversation has expired. Please press the button again."))
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
    return ctx.person.first_name or _("A colleague")


# What is relayed is worded in each recipient's language: a function that renders it there.
Text = Callable[[], str]


def _tell_student(
    ctx: Context, interest: Interest, message: InterestMessage, text: Text, *, reply: bool
) -> None:
    assert interest.person is not None
    with speaking_to(interest.person):
        buttons = (
            ((Button(_("Reply"), actions.STUDENT_REPLY.payload(interest.id)),),) if reply else ()
        )
        ctx.notify(
            interest.person,
            text(),
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
    ctx: Context, interest: Interest, message: InterestMessage, text: Text, *, others_only: bool
) -> None:
    """Every member of the employer (but the writer, for a copy of what they did)."""
    for member in employer_members(ctx, interest.opportunity):
        if others_only and member.id == ctx.person.id:
            continue
        with speaking_to(member):
            ctx.notify(
                member,
                text(),
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
    said = {"organisation": organisation, "title": title, "text": text}
    to_student, done, copy = {
        "inv": (
            N_("{organisation} invited you for {title}: {text}"),
            N_("Invitation sent to {who}."),
            N_("{colleague} invited {who} for {title}: {text}"),
        ),
        "ask": (
            N_("{organisation} has a question about {title}: {text}"),
            N_("Question sent to {who}."),
            N_("{colleague} asked {who} about {title}: {text}"),
        ),
        "msg": (
            N_("{organisation} writes about {title}: {text}"),
            N_("Message sent to {who}."),
            N_("{colleague} wrote to {who} about {title}: {text}"),
        ),
    }[verb]
    event_at = _invited_event(ctx, interest, text) if verb == "inv" else None
    student = interest.person

    def for_student() -> str:
        if event_at is None or student is None:
            return _(to_student, **said)
        when = fmt_moment(event_at, student, ctx.now)
        return _(to_student, **said) + "\n\n" + _("I'll remind you before it ({when}).", when=when)

    who = student_label(student)
    sent = _(done, who=who)
    if event_at is not None and student is not None:
        when = fmt_moment(event_at, ctx.person, ctx.now)
        sent += " " + _(
            "I read the time as {when} and will remind {who} before it.", when=when, who=who
        )
    _tell_student(ctx, interest, message, for_student, reply=True)
    _tell_members(
        ctx,
        interest,
        message,
        lambda: _(copy, colleague=_colleague(ctx), who=student_label(student), **said),
        others_only=True,
    )
    return [Reply(sent + " " + _("Their reply will come here."), employer_buttons(interest))]


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
        what=N_("Invitation"),
    )
    return event_at if reminders else None


def _decline(ctx: Context, interest: Interest, text: str) -> list[Reply]:
    before = _stage(interest)
    interest.status = S.DECLINED
    message = _record(ctx, interest, "decline", text)
    _restate(ctx, interest, message, before)
    organisation = interest.opportunity.organisation.name
    title = interest.opportunity.title

    def for_student() -> str:
        lines = [
            _(
                "Thank you for your interest in {title}. {organisation} can't offer you a place "
                "this time.",
                title=title,
                organisation=organisation,
            )
        ]
        if text:
            lines.append(_("They said: {text}", text=text))
        lines.append(_("Don't be discouraged: there's plenty more to find with /browse."))
        return "\n".join(lines)

    def for_members() -> str:
        who = student_label(interest.person)
        if text:
            return _(
                "{colleague} declined {who} for {title}: {text}",
                colleague=_colleague(ctx),
                who=who,
                title=title,
                text=text,
            )
        return _(
            "{colleague} declined {who} for {title}.",
            colleague=_colleague(ctx),
            who=who,
            title=title,
        )

    _tell_student(ctx, interest, message, for_student, reply=False)
    _tell_members(ctx, interest, message, for_members, others_only=True)
    who = student_label(interest.person)
    return [Reply(_("Declined. I've let {who} know kindly.", who=who), replace=not text)]


def _place(ctx: Context, interest: Interest) -> list[Reply]:
    """Mark the application placed (by an employer member or the student's teacher)."""
    before = _stage(interest)
    interest.status = S.PLACED
    message = _record(ctx, interest, "placed", "")
    _restate(ctx, interest, message, before)
    placement = create_placement(ctx, interest)
    organisation = interest.opportunity.organisation.name
    title = interest.opportunity.title
    by_teacher = ctx.person.role != Role.EMPLOYER
    names = {"title": title, "organisation": organisation}
    confirmed = (
        N_(
            "Great news: your teacher confirmed your place for {title} at {organisation}. Well "
            "done! Log your hours as you go with /hours, for example /hours today 3h."
        )
        if by_teacher
        else N_(
            "Great news: {organisation} confirmed your place for {title}. Well done! Log your "
            "hours as you go with /hours, for example /hours today 3h."
        )
    )
    _tell_student(
        ctx,
        interest,
        message,
        lambda: _(confirmed, **names),
        # The student may write to the employer only once the employer has written to them.
        reply=interest.employer_replied_at is not None,
    )

    def for_members() -> str:
        who = student_label(interest.person)
        at = {"who": who, "title": title, "id": placement.id}
        if by_teacher:
            teacher = ctx.person.name or _("A teacher")
            return _(
                "{teacher} (the student's teacher) marked {who} as placed for {title}. Set the "
                "dates and supervisor with /placements {id}.",
                teacher=teacher,
                **at,
            )
        return _(
            "{colleague} marked {who} as placed for {title}. Set the dates and supervisor with "
            "/placements {id}.",
            colleague=_colleague(ctx),
            **at,
        )

    _tell_members(ctx, interest, message, for_members, others_only=not by_teacher)
    who = student_label(interest.person)
    if by_teacher and interest.person is not None:
        who = staff_label(ctx.session, interest.person)
    done = _(
        "Marked {who} as placed for {title}. I've told them the good news. Please check the "
        "details:",
        who=who,
        title=title,
    )
    return [placement_card(ctx, placement, note=done)]


@registry.command(
    "place", roles=STAFF, help=N_("mark one of your students placed: /place APPLICATION")
)
def place(ctx: Context, args: str) -> list[Reply]:
    number = args.strip().removeprefix("#")
    if not is_number(number):
        raise UserError(
            _(
                "Say which application by its number, like /place 7 "
                "(the numbers are in /interested)."
            )
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
        raise UserError(_("I can't find that application among your students'."))
    if interest.status == S.PLACED:
        raise UserError(
            _(
                "{student} already has a place: see /placements to change it.",
                student=staff_label(ctx.session, interest.person),
            )
        )
    if interest.status not in (S.INTERESTED, S.INVITED):
        raise UserError(
            _(
                "That application is {status}, so it can't be marked placed.",
                status=_(STATUS_LABELS[interest.status][0]).lower(),
            )
        )
    if not may_share(interest.person):
        raise UserError(
            _(
                "{student} is under 18 and their guardian's consent isn't on file yet, so the "
                "employer can't know who they are. Record it first with /consent.",
                student=staff_label(ctx.session, interest.person),
            )
        )
    return _place(ctx, interest)


# As many as the buttons to open them can show.
MAX_APPLICATIONS = 12
_ANSWER_STATE = {
    S.INTERESTED: N_("waiting for your answer"),
    S.INVITED: N_("invited"),
    S.PLACED: N_("placed"),
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
    help=N_("students interested in your opportunities; answer one"),
)
def applications(ctx: Context, args: str) -> list[Reply]:
    """Every live application to this employer, so a missed notification is never lost."""
    interests = live_applications(ctx)
    if not interests:
        return [
            Reply(
                _(
                    "No applications yet. When a student registers interest in one of your "
                    "opportunities, you'll hear from me, and it will be listed here."
                )
            )
        ]
    lines = [_("Applications to your opportunities, newest first:")]
    buttons = []
    for interest in interests:
        title = interest.opportunity.title
        if interest.details_shared_at is None:
            lines.append(_("• A student, {title}: waiting for a guardian's consent", title=title))
            continue
        state = _(_ANSWER_STATE[interest.status])
        lines.append(f"• #{interest.id} {student_label(interest.person)}, {title}: {state}")
        buttons.append(Button(f"#{interest.id}", actions.APPLICATION.payload(interest.id)))
    rows = tuple(tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4))
    if rows:
        lines.append(_("Tap a number to answer."))
    return [Reply("\n".join(lines), rows)]


@registry.action(actions.APPLICATION, roles=EMPLOYERS)
def application_opened(ctx: Context, args: list[str]) -> list[Reply]:
    interest = _answerable(ctx, args[0] if args else None, "msg")
    assert interest.person is not None
    text = match_notification(interest.person, interest.opportunity, interest.note)
    status = _("Status: {status}.", status=_(_ANSWER_STATE[interest.status]))
    return [Reply(f"{text}\n{status}", employer_buttons(interest))]


@registry.action(actions.STUDENT_REPLY, roles=STUDENTS)
def student_reply_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    interest = _replyable(ctx, args[0] if args else None)
    ctx.start_dialog("student_reply", ReplyDialog(interest=interest.id))
    return [
        Reply(
            _(
                "Type your reply to {organisation} about {title} (up to {n} characters).",
                organisation=interest.opportunity.organisation.name,
                title=interest.opportunity.title,
                n=MAX_MESSAGE,
            ),
            (
                (
                    Button(
                        _("Cancel"),
                        actions.STUDENT_REPLY_CANCEL.payload(interest.id, stamp(ctx.now)),
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
            _(
                "That application is closed now, so there's no one to reply to. Send /mine to "
                "see the others."
            )
        )
    # Employers start the conversation: a student cannot write to one unprompted.
    if interest.employer_replied_at is None:
        raise UserError(_("You can reply once the employer has written to you."))
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
        lambda: _(
            "{student} replies about {title}: {reply}",
            student=student_label(ctx.person),
            title=title,
            reply=reply,
        ),
        others_only=False,
    )
    return [
        Reply(
            _(
                "Sent to {organisation}. Their answer will come here.",
                organisation=interest.opportunity.organisation.name,
            ),
            ((Button(_("My applications"), actions.MY_APPLICATIONS.payload()),),),
        )
    ]
