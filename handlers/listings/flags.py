"""Students flag dead listings: "Report a problem" on every card.

Reports from two different students hide the listing (it goes back to pending, where no
student sees it) until a teacher looks at it in /pending and restores or closes it, which
resolves the reports. Until opportunities have an owning school, every teacher reviews them,
as every teacher reviews employers' proposals.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bot.core import STAFF, STUDENTS, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, speaking_to
from handlers import actions
from handlers.common import (
    all_staff,
    card_text,
    headline,
    local_today,
    open_opportunity,
    parse_id,
    school_staff,
    staff_school,
)
from handlers.listings.sync.engine import tell_closed
from storage.models import AuditEntry, ListingReport, Opportunity, OpportunityStatus, School

registry = Registry()

REASONS = {
    "closed": N_("It has closed"),
    "link": N_("The link is broken"),
    "duplicate": N_("It's a duplicate"),
    "wrong": N_("Something else is wrong"),
}
# How teachers read the reasons.
REASON_NOTES = {
    "closed": N_("closed"),
    "link": N_("link broken"),
    "duplicate": N_("duplicate"),
    "wrong": N_("something wrong"),
}
REPORTS_TO_HIDE = 2


@registry.action(actions.REPORT_PROBLEM, roles=STUDENTS)
def report_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None, for_action=False)
    if len(args) == 1:
        buttons = [
            Button(_(label), actions.REPORT_PROBLEM.payload(opportunity.id, key))
            for key, label in REASONS.items()
        ]
        return [
            Reply(
                _("What's wrong with {title}?", title=opportunity.title),
                (
                    tuple(buttons[:2]),
                    tuple(buttons[2:]),
                    (Button(_("« Back"), actions.OPEN_LISTING.payload(opportunity.id)),),
                ),
                replace=True,
            )
        ]
    if len(args) != 2 or args[1] not in REASONS:
        raise UserError(_("That button doesn't work any more. Send /browse to start again."))
    # Held until commit: two students reporting at once are counted one after the other.
    ctx.session.scalar(
        select(Opportunity.id).where(Opportunity.id == opportunity.id).with_for_update()
    )
    mine = ctx.session.scalar(
        select(ListingReport).where(
            ListingReport.opportunity_id == opportunity.id,
            ListingReport.person_id == ctx.person.id,
        )
    )
    if mine is not None and mine.resolved_at is None:
        return [Reply(_("You've already reported it, thank you: a teacher will check it."))]
    if mine is None:
        mine = ListingReport(opportunity_id=opportunity.id, person_id=ctx.person.id)
        ctx.session.add(mine)
    mine.reason, mine.created_at, mine.resolved_at = args[1], ctx.now, None
    ctx.session.flush()
    reporters = ctx.session.scalar(
        select(func.count(func.distinct(ListingReport.person_id))).where(
            ListingReport.opportunity_id == opportunity.id, ListingReport.resolved_at.is_(None)
        )
    )
    if (reporters or 0) >= REPORTS_TO_HIDE and opportunity.status == OpportunityStatus.OPEN:
        _hide(ctx, opportunity)
    return [
        Reply(
            _(
                "Thank you for telling us. A teacher will check it, and it's hidden from students "
                "if others find the same."
            )
            if opportunity.status == OpportunityStatus.OPEN
            else _(
                "Thank you for telling us. It's hidden from students until a teacher checks it."
            ),
            ((Button(_("« Back to the list"), actions.BACK_TO_LIST.payload()),),),
            replace=True,
        )
    ]


def _hide(ctx: Context, opportunity: Opportunity) -> None:
    opportunity.status = OpportunityStatus.PENDING
    opportunity.updated_at = ctx.now
    # Each hiding is one audit row: its id tells this hiding's messages from a later one's.
    hidden = _audit(ctx, opportunity, "listing_hidden")
    ctx.session.flush()
    reviewers = (
        school_staff(ctx.session, opportunity.owner_school_id)
        if opportunity.owner_school_id is not None
        else all_staff(ctx.session)
    )
    for teacher in reviewers:
        with speaking_to(teacher):
            ctx.notify(
                teacher,
                _(
                    "Students report a problem with #{id} {title} ({reasons}). I've hidden it "
                    "until you look: restore or close it here or in /pending.",
                    id=opportunity.id,
                    title=headline(opportunity),
                    reasons=_reasons(ctx, opportunity),
                ),
                kind="listing_reported",
                key=f"listing-reported:{opportunity.id}:{hidden.id}:{teacher.id}",
                buttons=review_buttons(opportunity),
            )


def _reasons(ctx: Context, opportunity: Opportunity) -> str:
    counted = Counter(
        ctx.session.scalars(
            select(ListingReport.reason).where(
                ListingReport.opportunity_id == opportunity.id,
                ListingReport.resolved_at.is_(None),
            )
        )
    )
    return ", ".join(
        f"{_(REASON_NOTES[reason]) if reason in REASON_NOTES else reason}: {n}"
        for reason, n in counted.items()
    )


def review_buttons(opportunity: Opportunity) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("Restore"), actions.REPORT_RESTORE.payload(opportunity.id)),
            Button(_("Close it"), actions.REPORT_CLOSE.payload(opportunity.id)),
        ),
    )


def reported_ids(ctx: Context, school: School) -> list[int]:
    """The hidden listings waiting for ``school``'s teachers, oldest report first."""
    return list(
        ctx.session.scalars(
            select(ListingReport.opportunity_id)
            .join(Opportunity, Opportunity.id == ListingReport.opportunity_id)
            .where(
                ListingReport.resolved_at.is_(None),
                Opportunity.status == OpportunityStatus.PENDING,
                Opportunity.owner_school_id.is_(None) | (Opportunity.owner_school_id == school.id),
            )
            .group_by(ListingReport.opportunity_id)
            .order_by(func.min(ListingReport.created_at), ListingReport.opportunity_id)
        )
    )


def reported_card(ctx: Context, opportunity: Opportunity) -> Reply:
    body = card_text(opportunity, local_today(ctx), ctx.caps.max_text - 200)
    return Reply(
        _(
            "Reported #{id} ({reasons}), hidden from students:",
            id=opportunity.id,
            reasons=_reasons(ctx, opportunity),
        )
        + f"\n\n{body}",
        review_buttons(opportunity),
    )


def _reported(ctx: Context, raw_id: str | None) -> Opportunity:
    opportunity = ctx.session.get(Opportunity, parse_id(raw_id))
    if opportunity is None or opportunity.id not in reported_ids(ctx, staff_school(ctx)):
        raise UserError(_("That report was already dealt with. Send /pending for the rest."))
    return opportunity


def _resolve(ctx: Context, opportunity: Opportunity) -> None:
    for report in ctx.session.scalars(
        select(ListingReport).where(
            ListingReport.opportunity_id == opportunity.id, ListingReport.resolved_at.is_(None)
        )
    ):
        report.resolved_at = ctx.now
    opportunity.updated_at = ctx.now


@registry.action(actions.REPORT_RESTORE, roles=STAFF)
def restore(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = _reported(ctx, args[0] if args else None)
    opportunity.status = OpportunityStatus.OPEN
    _resolve(ctx, opportunity)
    _audit(ctx, opportunity, "listing_restored")
    return [Reply(_("Restored: {title}. Students can find it again.", title=headline(opportunity)))]


@registry.action(actions.REPORT_CLOSE, roles=STAFF)
def close(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = _reported(ctx, args[0] if args else None)
    opportunity.status = OpportunityStatus.CLOSED
    _resolve(ctx, opportunity)
    _audit(ctx, opportunity, "opportunity_closed")
    ctx.session.flush()
    tell_closed(ctx.session, [opportunity], now=ctx.now, quiet=ctx.timing.quiet)
    return [
        Reply(_("Closed: {title}. Students who saved it are told.", title=headline(opportunity)))
    ]


def _audit(ctx: Context, opportunity: Opportunity, action: str) -> AuditEntry:
    entry = AuditEntry(at=ctx.now, actor_id=ctx.person.id, subject_id=opportunity.id, action=action)
    ctx.session.add(entry)
    return entry
