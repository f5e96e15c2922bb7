"""An employer's members: who joins, who is there, who leaves.

A teacher's invite makes the first member of an organisation. Once it has members, a newcomer
with an invite waits for one of them to approve: a teacher at any school can write a code, but
only the organisation knows who works there, and a member sees its applicants. Members list
their colleagues with /colleagues and remove one who should no longer see them.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from bot.core import DIALOG, EMPLOYERS, Button, Context, Registry, Reply, UserError
from handlers import actions
from handlers.common import members_of, parse_id, with_article
from handlers.placements import schedule_feedback
from storage.models import (
    Account,
    AuditEntry,
    ConversationState,
    InviteCode,
    MembershipRequest,
    MembershipStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Placement,
    Role,
    School,
)

registry = Registry()

# Buttons a chat shows comfortably; a larger organisation is listed in full, with fewer buttons.
MAX_BUTTONS = 10
PLATFORMS = {"telegram": "Telegram", "slack": "Slack", "console": "the console"}


def _who_asked(ctx: Context, invite: InviteCode) -> str:
    """The teacher behind an invite, and their school, as the members are told."""
    teacher = ctx.session.get(Person, invite.created_by_id) if invite.created_by_id else None
    school = ctx.session.get(School, invite.school_id) if invite.school_id else None
    name = teacher.name if teacher is not None and teacher.name else "A teacher"
    return f"{name} ({school.name})" if school is not None else name


def _newcomer(request: MembershipRequest) -> str:
    person = request.person
    platforms = sorted({PLATFORMS.get(a.platform, a.platform) for a in person.accounts})
    on = f" (on {', '.join(platforms)})" if platforms else ""
    return f"{person.name or 'Someone'}{on}"


def _decision_buttons(request: MembershipRequest) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button("Approve", actions.MEMBERSHIP_APPROVE.payload(request.id)),
            Button("Decline", actions.MEMBERSHIP_DECLINE.payload(request.id)),
        ),
    )


def request_membership(ctx: Context, invite: InviteCode) -> list[Reply]:
    """``ctx.person`` redeemed ``invite`` for an organisation with members: ask them."""
    assert invite.organisation is not None
    organisation = invite.organisation
    person = ctx.person
    if not person.name:
        person.name = ctx.incoming.display_name[:100].strip()
    invite.uses += 1
    ctx.clear_state(DIALOG)
    request = MembershipRequest(
        organisation_id=organisation.id,
        person_id=person.id,
        invite_id=invite.id,
        status=MembershipStatus.PENDING,
        created_at=ctx.now,
    )
    ctx.session.add(request)
    ctx.session.flush()
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=person.id,
            subject_id=person.id,
            action="membership_requested",
            detail={"organisation_id": organisation.id, "invite_id": invite.id},
        )
    )
    text = (
        f"{_who_asked(ctx, invite)} invited {_newcomer(request)} to join {organisation.name} "
        f"on oppbot. As a member they would see {organisation.name}'s applicants and answer "
        "them. Please approve only someone you know works with you."
    )
    for member in members_of(ctx.session, organisation.id):
        ctx.notify(
            member,
            text,
            kind="membership",
            key=f"membership:{request.id}:{member.id}",
            buttons=_decision_buttons(request),
        )
    return [
        Reply(
            f"Thanks! {organisation.name} already has members here, so one of them confirms "
            "each new colleague. I've asked them, and I'll tell you as soon as one answers."
        )
    ]


def waiting_request(ctx: Context, invite: InviteCode) -> MembershipRequest | None:
    """This person's undecided request made with ``invite``, if any."""
    return ctx.session.scalar(
        select(MembershipRequest).where(
            MembershipRequest.person_id == ctx.person.id,
            MembershipRequest.invite_id == invite.id,
            MembershipRequest.status == MembershipStatus.PENDING,
        )
    )


def _request(ctx: Context, raw_id: str | None) -> MembershipRequest:
    request = ctx.session.get(MembershipRequest, parse_id(raw_id))
    if request is None or request.organisation_id != ctx.person.organisation_id:
        raise UserError("I can't find that request among your organisation's.")
    if request.status != MembershipStatus.PENDING:
        decider = ctx.session.get(Person, request.decided_by_id) if request.decided_by_id else None
        by = f" by {decider.name}" if decider is not None and decider.name else ""
        raise UserError(f"That request was already {request.status.value}{by}.")
    return request


def _decide(ctx: Context, request: MembershipRequest, status: MembershipStatus) -> None:
    request.status = status
    request.decided_by_id = ctx.person.id
    request.decided_at = ctx.now
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=request.person_id,
            action=f"membership_{status.value}",
            detail={"organisation_id": request.organisation_id, "request_id": request.id},
        )
    )


def _tell_colleagues(ctx: Context, text: str, key: str, *, besides: int | None = None) -> None:
    """Every other member of the organisation (and not ``besides``)."""
    assert ctx.person.organisation_id is not None
    for member in members_of(ctx.session, ctx.person.organisation_id):
        if member.id not in (ctx.person.id, besides):
            ctx.notify(member, text, kind="membership", key=f"{key}:{member.id}")


@registry.action(actions.MEMBERSHIP_APPROVE, roles=EMPLOYERS)
def approve(ctx: Context, args: list[str]) -> list[Reply]:
    request = _request(ctx, args[0] if args else None)
    person, organisation = request.person, request.organisation
    if person.role is not None:
        _decide(ctx, request, MembershipStatus.DECLINED)
        return [
            Reply(
                f"{person.name} has since joined as {with_article(person.role.value)}, so "
                "nothing changed."
            )
        ]
    _decide(ctx, request, MembershipStatus.APPROVED)
    person.role = Role.EMPLOYER
    person.organisation_id = organisation.id
    person.school_id = request.invite.school_id
    person.onboarded_at = ctx.now
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=person.id,
            action="role_granted",
            detail={"role": Role.EMPLOYER.value, "via": "invite", "invite_id": request.invite_id},
        )
    )
    me = ctx.person.name or "A colleague"
    ctx.notify(
        person,
        f"Welcome! {me} confirmed you, so you're now set up as an employer for "
        f"{organisation.name}. Send /help to see what you can do.",
        kind="membership",
        key=f"membership-approved:{request.id}",
    )
    _tell_colleagues(
        ctx,
        f"{me} approved {person.name} as a member of {organisation.name}.",
        f"membership-approved:{request.id}",
        besides=person.id,
    )
    return [Reply(f"Approved: {person.name} is now a member of {organisation.name}.", replace=True)]


@registry.action(actions.MEMBERSHIP_DECLINE, roles=EMPLOYERS)
def decline(ctx: Context, args: list[str]) -> list[Reply]:
    request = _request(ctx, args[0] if args else None)
    person, organisation = request.person, request.organisation
    _decide(ctx, request, MembershipStatus.DECLINED)
    ctx.notify(
        person,
        f"Sorry, {organisation.name}'s members didn't confirm you as a colleague, so you "
        "haven't joined. If that's a mistake, ask one of them, or the teacher who gave you the "
        "code.",
        kind="membership",
        key=f"membership-declined:{request.id}",
    )
    me = ctx.person.name or "A colleague"
    _tell_colleagues(
        ctx,
        f"{me} declined {person.name}'s request to join {organisation.name}.",
        f"membership-declined:{request.id}",
    )
    return [Reply(f"Declined: {person.name} hasn't joined {organisation.name}.", replace=True)]


@registry.command(
    "colleagues",
    "team",
    roles=EMPLOYERS,
    help="your organisation's members; approve or remove one",
)
def colleagues(ctx: Context, args: str) -> list[Reply]:
    organisation = ctx.person.organisation
    if organisation is None:
        raise UserError("You're not linked to an organisation. Ask your school coordinator.")
    members = members_of(ctx.session, organisation.id)
    lines = [f"Members of {organisation.name}:"]
    rows: list[tuple[Button, ...]] = []
    for member in members:
        name = member.name or f"Member {member.id}"
        if member.id == ctx.person.id:
            lines.append(f"• {name} (you)")
            continue
        lines.append(f"• {name}")
        if len(rows) < MAX_BUTTONS:
            rows.append(
                (Button(f"Remove {name}"[:40], actions.COLLEAGUE_REMOVE.payload(member.id)),)
            )
    requests = ctx.session.scalars(
        select(MembershipRequest)
        .where(
            MembershipRequest.organisation_id == organisation.id,
            MembershipRequest.status == MembershipStatus.PENDING,
        )
        .order_by(MembershipRequest.id)
    ).all()
    if requests:
        lines.append("\nWaiting for your approval:")
    for request in requests:
        lines.append(f"• {_newcomer(request)}, invited by {_who_asked(ctx, request.invite)}")
        if len(rows) < MAX_BUTTONS:
            name = request.person.name or "them"
            rows.append(
                (
                    Button(f"Approve {name}"[:40], actions.MEMBERSHIP_APPROVE.payload(request.id)),
                    Button("Decline", actions.MEMBERSHIP_DECLINE.payload(request.id)),
                )
            )
    return [Reply("\n".join(lines), tuple(rows))]


def _colleague(ctx: Context, raw_id: str | None) -> Person:
    member = ctx.session.get(Person, parse_id(raw_id))
    if (
        member is None
        or member.role != Role.EMPLOYER
        or member.organisation_id != ctx.person.organisation_id
    ):
        raise UserError("They aren't a member of your organisation any more.")
    if member.id == ctx.person.id:
        raise UserError("That's you: a colleague can remove you if you're leaving.")
    return member


@registry.action(actions.COLLEAGUE_REMOVE, roles=EMPLOYERS)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    member = _colleague(ctx, args[0] if args else None)
    assert ctx.person.organisation is not None
    return [
        Reply(
            f"Remove {member.name} from {ctx.person.organisation.name}? They'll no longer see "
            "its applicants or placements, and I'll tell them.",
            (
                (
                    Button("Yes, remove", actions.COLLEAGUE_REMOVE_YES.payload(member.id)),
                    Button("Cancel", actions.COLLEAGUE_REMOVE_CANCEL.payload()),
                ),
            ),
        )
    ]


@registry.action(actions.COLLEAGUE_REMOVE_CANCEL, roles=EMPLOYERS)
def remove_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply("OK, nobody was removed.", replace=True)]


@registry.action(actions.COLLEAGUE_REMOVE_YES, roles=EMPLOYERS)
def remove_confirmed(ctx: Context, args: list[str]) -> list[Reply]:
    member = _colleague(ctx, args[0] if args else None)
    organisation = ctx.person.organisation
    assert organisation is not None
    member.role = None
    member.organisation_id = None
    member.school_id = None
    # What was queued for them (applicants' names, notes) must not reach them any more, and
    # what they had half-typed as a member must not be sent later.
    accounts = select(Account.id).where(Account.person_id == member.id)
    ctx.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.account_id.in_(accounts),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED)
    )
    ctx.session.execute(delete(ConversationState).where(ConversationState.person_id == member.id))
    # Hours and feedback they supervised go to the remaining members instead.
    for placement in ctx.session.scalars(
        select(Placement).where(Placement.supervisor_id == member.id)
    ):
        placement.supervisor_id = None
        placement.supervisor = None
        schedule_feedback(ctx.session, placement, ctx.timing, ctx.now)
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=member.id,
            action="member_removed",
            detail={"organisation_id": organisation.id},
        )
    )
    me = ctx.person.name or "A colleague"
    ctx.notify(
        member,
        f"{me} removed you from {organisation.name}'s members here, so you no longer see its "
        "applicants or placements. If that's a mistake, ask them for a new invitation.",
        kind="membership",
        key=f"member-removed:{member.id}:{ctx.now.isoformat()}",
    )
    _tell_colleagues(
        ctx,
        f"{me} removed {member.name} from {organisation.name}'s members.",
        f"member-removed:{member.id}:{ctx.now.isoformat()}",
        besides=member.id,
    )
    return [Reply(f"Removed: {member.name} is no longer a member of {organisation.name}.")]
