"""Saving opportunities for later, and the /saved list."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.core import STUDENTS, Button, Context, Registry, Reply
from bot.i18n import N_, _
from handlers import actions
from handlers.common import (
    card,
    clip,
    headline,
    is_saved,
    local_today,
    open_opportunity,
    parse_id,
)
from handlers.listings.browse import BROWSE, BrowseState
from handlers.messaging import sync_deadline_reminders
from storage.models import Opportunity, OpportunityStatus, SavedOpportunity

registry = Registry()


@registry.action(actions.SAVE, roles=STUDENTS)
def save_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None, for_action=False)
    if is_saved(ctx, opportunity):
        # A new message, not the card again: an edit to what the card already shows (a double
        # tap, an older card) would look as if the press did nothing.
        return [
            Reply(_("Already saved ✓ {title} is in your /saved list.", title=opportunity.title))
        ]
    ctx.session.add(
        SavedOpportunity(person_id=ctx.person.id, opportunity_id=opportunity.id, created_at=ctx.now)
    )
    sync_deadline_reminders(ctx, opportunity.id)
    return [card(ctx, opportunity, note=_("Saved. Find it again with /saved."))]


@registry.action(actions.UNSAVE, roles=STUDENTS)
def unsave_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    # A saved opportunity that has closed since must still be removable from the list.
    saved = ctx.session.get(SavedOpportunity, (ctx.person.id, parse_id(args[0] if args else None)))
    if saved is None:
        return [Reply(_("That one isn't in your saved list (any more). /saved shows what is."))]
    if _closed(saved.opportunity, local_today(ctx)):
        ctx.session.delete(saved)
        sync_deadline_reminders(ctx, saved.opportunity_id)
        return [saved_list(ctx, replace=True, note=_("Removed from your saved list."))]
    opportunity = open_opportunity(ctx, args[0] if args else None, for_action=False)
    ctx.session.delete(saved)
    sync_deadline_reminders(ctx, opportunity.id)
    return [card(ctx, opportunity, note=_("Removed from your saved list."))]


@registry.command("saved", "bookmarks", roles=STUDENTS, help=N_("opportunities I saved"))
def saved(ctx: Context, args: str) -> list[Reply]:
    return [saved_list(ctx, replace=False)]


def saved_list(ctx: Context, *, replace: bool, note: str = "") -> Reply:
    rows = ctx.session.scalars(
        select(SavedOpportunity)
        .where(SavedOpportunity.person_id == ctx.person.id)
        .options(selectinload(SavedOpportunity.opportunity).selectinload(Opportunity.organisation))
        .order_by(SavedOpportunity.created_at.desc(), SavedOpportunity.opportunity_id.desc())
    ).all()
    state = ctx.typed_state(BROWSE, BrowseState) or BrowseState()
    state["back"] = "saved"
    ctx.set_state(BROWSE, state)
    prefix = f"{note}\n\n" if note else ""
    if not rows:
        return Reply(
            prefix
            + _("You haven't saved anything yet. Tap Save on an opportunity to keep it here."),
            replace=replace,
        )
    today = local_today(ctx)
    lines = [prefix + _("Your saved opportunities:"), ""]
    buttons = []
    for n, row in enumerate(rows, start=1):
        opportunity = row.opportunity
        closed = _closed(opportunity, today)
        line = f"{n}. {clip(headline(opportunity), 90)}"
        lines.append(_("{line} (closed)", line=line) if closed else line)
        if closed:
            buttons.append(Button(_("Remove {n}", n=n), actions.UNSAVE.payload(opportunity.id)))
        else:
            buttons.append(Button(str(n), actions.OPEN_LISTING.payload(opportunity.id)))
    rows_of_buttons = tuple(tuple(buttons[i : i + 5]) for i in range(0, len(buttons), 5))
    return Reply("\n".join(lines), rows_of_buttons, replace=replace)


def _closed(opportunity: Opportunity, today: date) -> bool:
    return opportunity.status != OpportunityStatus.OPEN or (
        opportunity.deadline is not None and opportunity.deadline < today
    )
