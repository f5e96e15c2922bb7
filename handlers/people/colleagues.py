"""An employer's members: who joins, who is there, who leaves.

A teacher's invite makes the first member of an organisation. Once it has members, a newcomer
with an invite waits for one of them to approve: a teacher at any school can write a code, but
only the organisation knows who works there, and a member sees its applicants. Members list
their colleagues with /colleagues and remove one who should no longer see them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select, update

from bot.core import DIALOG, EMPLOYERS, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, _p, fmt_list, speaking_to
from handlers import actions
from handlers.common import members_of, parse_id
from handlers.people.onboarding import ROLE_NAMES
from handlers.placements import schedule_feedback
from storage.models import (
    Account,
    AuditEntry,
    ConversationState,
    InviteCode,
    MembershipRequest,
    MembershipStatus,
    Organisation,
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
PLATFORMS = {"telegram": "Telegram", "slack": "Slack", "console": N_("the console")}
STATUS_WORDS = {
    MembershipStatus.APPROVED: N_("That request was already approved."),
    MembershipStatus.DECLINED: N_("That request was already declined."),
}
STATUS_BY = {
    MembershipStatus.APPROVED: N_("That request was already approved by {name}."),
    MembershipStatus.DECLINED: N_("That request was already declined by {name}."),
}


def _who_asked(ctx: Context, invite: InviteCode) -> str:
    """The teacher behind an invite, and their school, as the members are told."""
    teacher = ctx.session.get(Person, invite.created_by_id) if invite.created_by_id else None
    school = ctx.session.get(School, invite.school_id) if invite.school_id else None
    name = teacher.name if teacher is not None and teacher.name else _("A teacher")
    return f"{name} ({school.name})" if school is not None else name


def _newcomer(request: MembershipRequest) -> str:
    person = request.person
    platforms = sorted(
        {
            _(PLATFORMS[a.platform]) if a.platform in PLATFORMS else a.platform
            for a in person.accounts
        }
    )
    name = person.name or _("Someone")
    if not platforms:
        return name
    return _("{name} (on {platforms})", name=name, platforms=fmt_list(platforms))


def _decision_buttons(request: MembershipRequest) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_p("button", "Approve"), actions.MEMBERSHIP_APPROVE.payload(request.id)),
            Button(_p("button", "Decline"), actions.MEMBERSHIP_DECLINE.payload(request.id)),
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
    for member in members_of(ctx.session, organisation.id):
        with speaking_to(member):
            ctx.notify(
                member,
                _(
                    "{teacher} invited {newcomer} to join {organisation} on oppbot. As a member "
                    "they would see {organisation}'s applicants and answer them. Please approve "
                    "only someone you know works with you.",
                    teacher=_who_asked(ctx, invite),
                    newcomer=_newcomer(request),
                    organisation=organisation.name,
                ),
                kind="membership",
                key=f"membership:{request.id}:{member.id}",
                buttons=_decision_buttons(request),
            )
    return [
        Reply(
            _(
                "Thanks! {organisation} already has members here, so one of them confirms each "
                "new colleague. I've asked them, and I'll tell you as soon as one answers.",
                organisation=organisation.name,
            )
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
        raise UserError(_("I can't find that request among your organisation's."))
    if request.status != MembershipStatus.PENDING:
        decider = ctx.session.get(Person, request.decided_by_id) if request.decided_by_id else None
        if decider is not None and decider.name:
            raise UserError(_(STATUS_BY[request.status], name=decider.name))
        raise UserError(_(STATUS_WORDS[request.status]))
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


def _tell_colleagues(
    ctx: Context, text: Callable[[], str], key: str, *, besides: int | None = None
) -> None:
    """Every other member of the organisation (and not ``besides``), ``text()`` worded in each
    one's language."""
    assert ctx.person.organisation_id is not None
    for member in members_of(ctx.session, ctx.person.organisation_id):
        if member.id not in (ctx.person.id, besides):
            with speaking_to(member):
                ctx.notify(member, text(), kind="membership", key=f"{key}:{member.id}")


@registry.action(actions.MEMBERSHIP_APPROVE, roles=EMPLOYERS)
def approve(ctx: Context, args: list[str]) -> list[Reply]:
    request = _request(ctx, args[0] if args else None)
    person, organisation = request.person, request.organisation
    if person.role is not None:
        _decide(ctx, request, MembershipStatus.DECLINED)
        return [
            Reply(
                _(
                    "{name} has since joined as {role}, so nothing changed.",
                    name=person.name,
                    role=_(ROLE_NAMES[person.role]),
                )
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
    _tell_approved(ctx, request)
    return [
        Reply(
            _(
                "Approved: {name} is now a member of {organisation}.",
                name=person.name,
                organisation=organisation.name,
            ),
            replace=True,
        )
    ]


def _tell_approved(ctx: Context, request: MembershipRequest) -> None:
    """The newcomer hears they're in, in their language; the other members hear who let them."""
    person, organisation = request.person, request.organisation
    with speaking_to(person):
        ctx.notify(
            person,
            _(
                "Welcome! {colleague} confirmed you, so you're now set up as an employer for "
                "{organisation}. Send /help to see what you can do.",
                colleague=_me(ctx),
                organisation=organisation.name,
            ),
            kind="membership",
            key=f"membership-approved:{request.id}",
        )
    _tell_colleagues(
        ctx,
        lambda: _(
            "{colleague} approved {name} as a member of {organisation}.",
            colleague=_me(ctx),
            name=person.name,
            organisation=organisation.name,
        ),
        f"membership-approved:{request.id}",
        besides=person.id,
    )


def _me(ctx: Context) -> str:
    """The member acting, as their colleagues are told (in the language being spoken)."""
    return ctx.person.name or _("A colleague")


@registry.action(actions.MEMBERSHIP_DECLINE, roles=EMPLOYERS)
def decline(ctx: Context, args: list[str]) -> list[Reply]:
    request = _request(ctx, args[0] if args else None)
    person, organisation = request.person, request.organisation
    _decide(ctx, request, MembershipStatus.DECLINED)
    with speaking_to(person):
        ctx.notify(
            person,
            _(
                "Sorry, {organisation}'s members didn't confirm you as a colleague, so you "
                "haven't joined. If that's a mistake, ask one of them, or the teacher who gave "
                "you the code.",
                organisation=organisation.name,
            ),
            kind="membership",
            key=f"membership-declined:{request.id}",
        )
    _tell_colleagues(
        ctx,
        lambda: _(
            "{colleague} declined {name}'s request to join {organisation}.",
            colleague=_me(ctx),
            name=person.name,
            organisation=organisation.name,
        ),
        f"membership-declined:{request.id}",
    )
    return [
        Reply(
            _(
                "Declined: {name} hasn't joined {organisation}.",
                name=person.name,
                organisation=organisation.name,
            ),
            replace=True,
        )
    ]


@registry.command(
    "colleagues",
    "team",
    roles=EMPLOYERS,
    help=N_("your organisation's members; approve or remove one"),
)
def colleagues(ctx: Context, args: str) -> list[Reply]:
    organisation = ctx.person.organisation
    if organisation is None:
        raise UserError(_("You're not linked to an organisation. Ask your school coordinator."))
    members = members_of(ctx.session, organisation.id)
    lines = [_("Members of {organisation}:", organisation=organisation.name)]
    rows: list[tuple[Button, ...]] = []
    for member in members:
        name = member.name or _("Member {number}", number=member.id)
        if member.id == ctx.person.id:
            lines.append(_("• {name} (you)", name=name))
            continue
        lines.append(f"• {name}")
        if len(rows) < MAX_BUTTONS:
            rows.append(
                (
                    Button(
                        _("Remove {name}", name=name)[:40],
                        actions.COLLEAGUE_REMOVE.payload(member.id),
                    ),
                )
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
        lines.append("\n" + _("Waiting for your approval:"))
    for request in requests:
        lines.append(
            _(
                "• {newcomer}, invited by {teacher}",
                newcomer=_newcomer(request),
                teacher=_who_asked(ctx, request.invite),
            )
        )
        if len(rows) < MAX_BUTTONS:
            approve_label = (
                _("Approve {name}", name=request.person.name)
                if request.person.name
                else _p("button", "Approve")
            )
            rows.append(
                (
                    Button(approve_label[:40], actions.MEMBERSHIP_APPROVE.payload(request.id)),
                    Button(_p("button", "Decline"), actions.MEMBERSHIP_DECLINE.payload(request.id)),
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
        raise UserError(_("They aren't a member of your organisation any more."))
    if member.id == ctx.person.id:
        raise UserError(_("That's you: a colleague can remove you if you're leaving."))
    return member


@registry.action(actions.COLLEAGUE_REMOVE, roles=EMPLOYERS)
def remove_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    member = _colleague(ctx, args[0] if args else None)
    assert ctx.person.organisation is not None
    return [
        Reply(
            _(
                "Remove {name} from {organisation}? They'll no longer see its applicants or "
                "placements, and I'll tell them.",
                name=member.name,
                organisation=ctx.person.organisation.name,
            ),
            (
                (
                    Button(_("Yes, remove"), actions.COLLEAGUE_REMOVE_YES.payload(member.id)),
                    Button(_p("button", "Cancel"), actions.COLLEAGUE_REMOVE_CANCEL.payload()),
                ),
            ),
        )
    ]


@registry.action(actions.COLLEAGUE_REMOVE_CANCEL, roles=EMPLOYERS)
def remove_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply(_("OK, nobody was removed."), replace=True)]


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
    _tell_removed(ctx, member, organisation)
    return [
        Reply(
            _(
                "Removed: {name} is no longer a member of {organisation}.",
                name=member.name,
                organisation=organisation.name,
            )
        )
    ]


def _tell_removed(ctx: Context, member: Person, organisation: Organisation) -> None:
    """The member removed hears it, in their language; so do the other members."""
    with speaking_to(member):
        ctx.notify(
            member,
            _(
                "{colleague} removed you from {organisation}'s members here, so you no longer "
                "see its applicants or placements. If that's a mistake, ask them for a new "
                "invitation.",
                colleague=_me(ctx),
                organisation=organisation.name,
            ),
            kind="membership",
            key=f"member-removed:{member.id}:{ctx.now.isoformat()}",
        )
    _tell_colleagues(
        ctx,
        lambda: _(
            "{colleague} removed {name} from {organisation}'s members.",
            colleague=_me(ctx),
            name=member.name,
            organisation=organisation.name,
        ),
        f"member-removed:{member.id}:{ctx.now.isoformat()}",
        besides=member.id,
    )
