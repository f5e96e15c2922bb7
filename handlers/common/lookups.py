"""Finding the things a message names: an opportunity by its number, an organisation by name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import Context, UserError
from bot.i18n import _
from handlers.common.wording import is_number
from storage.models import InterestStatus, Opportunity, Organisation

MAX_ORG_NAME = 200
# The applications still in play: withdrawn or declined ones are history.
ACTIVE = (InterestStatus.INTERESTED, InterestStatus.INVITED, InterestStatus.PLACED)


def opportunity_arg(ctx: Context, text: str, usage: str) -> tuple[Opportunity, str]:
    """The opportunity a command names by its number ("12" or "#12"), and the rest."""
    first, _space, rest = text.strip().partition(" ")
    number = first.removeprefix("#")
    if not is_number(number):
        raise UserError(_("Say which opportunity by its number: {usage}", usage=usage))
    opportunity = ctx.session.get(Opportunity, int(number))
    if opportunity is None:
        raise UserError(_("There's no opportunity #{number}.", number=number))
    return opportunity, rest.strip()


def organisation_named(session: Session, name: str, now: datetime) -> Organisation:
    clean = " ".join(name.split())
    found = session.scalar(select(Organisation).where(Organisation.name == clean))
    if found is None:
        found = Organisation(name=clean, created_at=now)
        session.add(found)
        session.flush()
    return found
