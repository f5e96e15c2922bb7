"""Invite codes: the only way to become a teacher or an employer member."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import DIALOG, EVERYONE, STAFF, Context, Registry, Reply, UserError
from bot.i18n import N_, _
from handlers.common import (
    MAX_ORG_NAME,
    STAFF_ROLES,
    known_school,
    members_of,
    only_school,
    organisation_named,
)
from handlers.people.colleagues import request_membership, waiting_request
from handlers.people.onboarding import ROLE_NAMES, begin, normalise_code
from storage.models import AuditEntry, Cohort, InviteCode, Organisation, Person, Role, School

registry = Registry()

INVITE_LIFETIME = timedelta(days=14)
# No 0/O or 1/I: codes are read aloud and typed from paper.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_PREFIX = {Role.TEACHER: "T", Role.EMPLOYER: "E", Role.ADMIN: "A", Role.STUDENT: "S"}


def new_code(prefix: str) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"


def create_invite(
    session: Session,
    role: Role,
    *,
    now: datetime,
    organisation: Organisation | None = None,
    school: School | None = None,
    created_by: Person | None = None,
    max_uses: int = 1,
    lifetime: timedelta = INVITE_LIFETIME,
) -> InviteCode:
    if role == Role.EMPLOYER and organisation is None:
        raise ValueError("an employer invite needs an organisation")
    invite = InviteCode(
        code=new_code(_PREFIX[role]),
        role=role,
        organisation=organisation,
        school_id=school.id if school is not None else None,
        created_by_id=created_by.id if created_by is not None else None,
        max_uses=max_uses,
        expires_at=now + lifetime,
        created_at=now,
    )
    session.add(invite)
    session.flush()
    return invite


# Long because each kind of code (invite, class code) and each refusal is answered here in turn.
@registry.command("join", roles=EVERYONE, help=N_("join with an invite or class code"))
def join(ctx: Context, args: str) -> list[Reply]:
    if not args:
        return [Reply(_("Send /join followed by your code, for example: /join RIVER-11"))]
    code = normalise_code(args)
    invite = ctx.session.scalar(select(InviteCode).where(InviteCode.code == code))
    if invite is None:
        cohort = ctx.session.scalar(select(Cohort).where(Cohort.join_code == code))
        if cohort is not None and ctx.role in (None, Role.STUDENT):
            return begin(
                ctx, {"cohort": cohort.id}, note=_("You're joining {cohort}.", cohort=cohort.name)
            )
        raise UserError(_("That code doesn't match anything. Check it and try again."))
    person = ctx.person
    # Someone sending their own (now used) code again just needs to hear they are in.
    if person.role == invite.role and person.organisation_id == invite.organisation_id:
        return [
            Reply(
                _(
                    "You're already set up as {role}. Send /help to see what you can do.",
                    role=_(ROLE_NAMES[invite.role]),
                )
            )
        ]
    if waiting_request(ctx, invite) is not None:
        assert invite.organisation is not None
        return [
            Reply(
                _(
                    "Your request to join {organisation} is waiting for one of its members to "
                    "confirm it. I'll tell you as soon as one answers.",
                    organisation=invite.organisation.name,
                )
            )
        ]
    if invite.revoked_at is not None or (invite.expires_at and invite.expires_at < ctx.now):
        raise UserError(_("That code has expired. Ask whoever gave it to you for a new one."))
    if invite.uses >= invite.max_uses:
        raise UserError(
            _("That code has already been used. Ask whoever gave it to you for a new one.")
        )
    if person.role is not None:
        raise UserError(
            _(
                "You're already set up as {role}. One account has one role: please ask your "
                "school coordinator if it needs to change.",
                role=_(ROLE_NAMES[person.role]),
            )
        )
    # A teacher at any school can write an employer's code; an organisation that has members
    # decides itself who else sees its applicants. The operator's codes (the command line,
    # with no creator) are trusted.
    if (
        invite.role == Role.EMPLOYER
        and invite.organisation_id is not None
        and invite.created_by_id is not None
        and members_of(ctx.session, invite.organisation_id)
    ):
        return request_membership(ctx, invite)
    invite.uses += 1
    # A student onboarding left half-way must not go on asking a teacher for a class code.
    ctx.clear_state(DIALOG)
    person.role = invite.role
    person.organisation_id = invite.organisation_id
    if invite.role in STAFF_ROLES or invite.role == Role.EMPLOYER:
        school = only_school(ctx.session)
        person.school_id = invite.school_id or (school.id if school is not None else None)
    person.onboarded_at = ctx.now
    if not person.name:
        person.name = ctx.incoming.display_name[:100].strip()
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=person.id,
            subject_id=person.id,
            action="role_granted",
            detail={"role": invite.role.value, "via": "invite", "invite_id": invite.id},
        )
    )
    role = _(ROLE_NAMES[invite.role])
    if invite.organisation is not None:
        return [
            Reply(
                _(
                    "Welcome! You're now set up as {role} for {organisation}. Send /help to see "
                    "what you can do.",
                    role=role,
                    organisation=invite.organisation.name,
                )
            )
        ]
    return [
        Reply(
            _("Welcome! You're now set up as {role}. Send /help to see what you can do.", role=role)
        )
    ]


@registry.command(
    "invite",
    roles=STAFF,
    help=N_("make an invite code: /invite teacher, /invite employer Acme Ltd"),
)
def invite(ctx: Context, args: str) -> list[Reply]:
    kind, _space, rest = args.partition(" ")
    kind = kind.lower()
    note = ""
    if kind == "teacher":
        # A colleague joins the inviting teacher's school.
        created = create_invite(
            ctx.session,
            Role.TEACHER,
            now=ctx.now,
            created_by=ctx.person,
            school=known_school(ctx),
        )
        whom = _("a teacher")
    elif kind == "employer" and rest.strip():
        if len(rest.strip()) > MAX_ORG_NAME:
            raise UserError(
                _(
                    "Please keep the organisation's name under {most} characters.",
                    most=MAX_ORG_NAME,
                )
            )
        organisation = organisation_named(ctx.session, rest, ctx.now)
        # Their proposals will go to this school's teachers.
        created = create_invite(
            ctx.session,
            Role.EMPLOYER,
            now=ctx.now,
            organisation=organisation,
            created_by=ctx.person,
            school=known_school(ctx),
        )
        whom = _("someone at {organisation}", organisation=organisation.name)
        if members_of(ctx.session, organisation.id):
            note = "\n" + _(
                "{organisation} already has members here: one of them confirms the newcomer "
                "before they see anything.",
                organisation=organisation.name,
            )
    else:
        raise UserError(_("Say who it's for: /invite teacher, or /invite employer Acme Ltd"))
    return [
        Reply(
            _(
                "Here's a code for {whom}: {code}\nThey send /join {code} to me. It works once, "
                "for {days} days.",
                whom=whom,
                code=created.code,
                days=INVITE_LIFETIME.days,
            )
            + note
        )
    ]
