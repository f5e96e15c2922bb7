"""Registering interest in an opportunity, following applications, withdrawing.

The employer hears of it through the outbox, in the same transaction that records it, and
hears only what the student chose to share (a minor's details only with a guardian's consent).
"""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core import DIALOG, STUDENTS, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, fmt_date
from handlers import actions
from handlers.applications.matches import notify_employers, tell_withdrawn
from handlers.common import (
    ACTIVE,
    STATUS_LABELS,
    card,
    clip,
    headline,
    local_today,
    open_opportunity,
    own_interest,
    parse_id,
    student_school_id,
)
from handlers.messaging import sync_deadline_reminders
from storage.models import Interest, InterestStatus, Opportunity

registry = Registry()
NOTE = "note"


class NoteDialog(TypedDict):
    """The note typed after "I'm interested": for which opportunity."""

    opportunity: int


MAX_NOTE = 500


def _check_open(ctx: Context, opportunity: Opportunity) -> None:
    if opportunity.deadline is not None and opportunity.deadline < local_today(ctx):
        raise UserError(
            _(
                "Sorry, applications for {title} closed on {day}. Send /browse to see what's open.",
                title=opportunity.title,
                day=fmt_date(opportunity.deadline),
            )
        )


def _existing(ctx: Context, opportunity: Opportunity) -> Interest | None:
    return ctx.session.scalar(
        select(Interest).where(
            Interest.person_id == ctx.person.id, Interest.opportunity_id == opportunity.id
        )
    )


def _already(interest: Interest) -> UserError:
    when = interest.created_at
    return UserError(
        _(
            "You already registered interest on {day}. Send /mine to see where it stands.",
            day=fmt_date(when.date()),
        ),
        ((Button(_("My applications"), actions.MY_APPLICATIONS.payload()),),),
    )


@registry.action(actions.INTEREST, roles=STUDENTS)
def interest_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None)
    _check_open(ctx, opportunity)
    existing = _existing(ctx, opportunity)
    if existing is not None and existing.status != InterestStatus.WITHDRAWN:
        raise _already(existing)
    ctx.start_dialog(NOTE, NoteDialog(opportunity=opportunity.id))
    return [
        Reply(
            _(
                "Great choice! Would you like to add a short note for {organisation}? "
                "Type it now (up to {n} characters), or send it without one.",
                organisation=opportunity.organisation.name,
                n=MAX_NOTE,
            ),
            _note_buttons(opportunity.id),
        )
    ]


def _note_buttons(opportunity_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button(_("Send without a note"), actions.INTEREST_NO_NOTE.payload(opportunity_id)),),
        (Button(_("Cancel"), actions.INTEREST_CANCEL.payload(opportunity_id)),),
    )


@registry.action(actions.INTEREST_NO_NOTE, roles=STUDENTS)
def without_note_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None)
    ctx.clear_state(DIALOG)
    return register(ctx, opportunity, None)


@registry.action(actions.INTEREST_CANCEL, roles=STUDENTS)
def cancel_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    # The note prompt stays in the chat after a typed note sent the interest: its Cancel
    # must not then claim that nothing was sent.
    opportunity = ctx.session.get(Opportunity, parse_id(args[0])) if args else None
    interest = _existing(ctx, opportunity) if opportunity is not None else None
    if opportunity is not None and interest is not None and interest.status in ACTIVE:
        when = interest.updated_at
        return [
            Reply(
                _(
                    "Your interest in {title} was already sent to {organisation} on {day}, "
                    "so there's nothing to cancel. /mine shows where it stands.",
                    title=opportunity.title,
                    organisation=opportunity.organisation.name,
                    day=fmt_date(when.date()),
                ),
                ((Button(_("My applications"), actions.MY_APPLICATIONS.payload()),),),
                replace=True,
            )
        ]
    ctx.clear_state(DIALOG)
    return [Reply(_("OK, nothing sent. Send /browse to keep looking."), replace=True)]


@registry.dialog(NOTE)
def note_typed(ctx: Context, text: str, dialog: NoteDialog) -> list[Reply]:
    opportunity_id = dialog["opportunity"]
    note = text.strip()
    if len(note) > MAX_NOTE:
        raise UserError(
            _(
                "That note is {length} characters; please keep it under {n}. "
                "Try again, or tap Send without a note.",
                length=len(note),
                n=MAX_NOTE,
            ),
            _note_buttons(opportunity_id),
        )
    opportunity = open_opportunity(ctx, str(opportunity_id))
    ctx.clear_state(DIALOG)
    return register(ctx, opportunity, note)


def register(ctx: Context, opportunity: Opportunity, note: str | None) -> list[Reply]:
    """Record the interest once and tell every member of the employer."""
    _check_open(ctx, opportunity)
    interest = _existing(ctx, opportunity)
    if interest is not None and interest.status != InterestStatus.WITHDRAWN:
        raise _already(interest)
    # The school whose figures it counts in, even after the student deletes their data. Read
    # first: loading the student's class would flush a new row before it is complete.
    school_id = student_school_id(ctx.person)
    if interest is None:
        interest = Interest(
            person_id=ctx.person.id, opportunity_id=opportunity.id, created_at=ctx.now
        )
        ctx.session.add(interest)
    interest.status = InterestStatus.INTERESTED
    interest.school_id = school_id
    interest.note = note or None
    interest.updated_at = ctx.now
    ctx.session.flush()
    sync_deadline_reminders(ctx, opportunity.id)
    notify_employers(ctx, interest)
    confirmation = _(
        "Done! {organisation} will hear that you're interested in {title}. "
        "Their reply will come here; /mine shows where it stands.",
        organisation=opportunity.organisation.name,
        title=opportunity.title,
    )
    return [card(ctx, opportunity, note=confirmation)]


@registry.command("mine", "applications", "status", roles=STUDENTS, help=N_("my applications"))
def mine(ctx: Context, args: str) -> list[Reply]:
    return [_mine(ctx, replace=False)]


@registry.action(actions.MY_APPLICATIONS, roles=STUDENTS)
def mine_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_mine(ctx, replace=False)]


def my_applications(ctx: Context) -> list[Interest]:
    """The student's applications, most recently changed first."""
    return list(
        ctx.session.scalars(
            select(Interest)
            .where(Interest.person_id == ctx.person.id)
            .options(selectinload(Interest.opportunity).selectinload(Opportunity.organisation))
            .order_by(Interest.updated_at.desc(), Interest.id.desc())
        )
    )


def _mine(ctx: Context, *, replace: bool, note: str = "") -> Reply:
    interests = my_applications(ctx)
    prefix = f"{note}\n\n" if note else ""
    if not interests:
        return Reply(
            prefix
            + _("You haven't registered interest in anything yet. Send /browse to look around."),
            replace=replace,
        )
    lines = [prefix + _("Your applications:")]
    buttons = []
    for n, interest in enumerate(interests, start=1):
        label, next_step = STATUS_LABELS[interest.status]
        lines.append(
            f"\n{n}. {clip(headline(interest.opportunity), 90)}\n   {_(label)}. {_(next_step)}"
        )
        if interest.status in (InterestStatus.INTERESTED, InterestStatus.INVITED):
            buttons.append((Button(_("Withdraw {n}", n=n), actions.WITHDRAW.payload(interest.id)),))
    return Reply("\n".join(lines), tuple(buttons), replace=replace)


@registry.action(actions.WITHDRAW, roles=STUDENTS)
def withdraw_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    interest = own_interest(ctx, args[0] if args else None)
    if interest.status not in (InterestStatus.INTERESTED, InterestStatus.INVITED):
        raise UserError(_("That application is no longer open, so there is nothing to withdraw."))
    return [
        Reply(
            _(
                "Withdraw your interest in {title}? The employer will only be told that you "
                "withdrew.",
                title=headline(interest.opportunity),
            ),
            (
                (
                    Button(_("Yes, withdraw"), actions.WITHDRAW_YES.payload(interest.id)),
                    Button(_("Keep it"), actions.MY_APPLICATIONS.payload()),
                ),
            ),
        )
    ]


@registry.action(actions.WITHDRAW_YES, roles=STUDENTS)
def withdraw_confirmed(ctx: Context, args: list[str]) -> list[Reply]:
    interest = own_interest(ctx, args[0] if args else None)
    if interest.status not in (InterestStatus.INTERESTED, InterestStatus.INVITED):
        raise UserError(_("That application is no longer open, so there is nothing to withdraw."))
    withdraw(ctx, interest)
    return [
        _mine(ctx, replace=True, note=_("Withdrawn: {title}.", title=interest.opportunity.title))
    ]


def withdraw(ctx: Context, interest: Interest) -> None:
    """Mark withdrawn and tell the employer exactly that, and nothing more."""
    interest.status = InterestStatus.WITHDRAWN
    interest.updated_at = ctx.now
    sync_deadline_reminders(ctx, interest.opportunity.id)
    tell_withdrawn(ctx, interest)
