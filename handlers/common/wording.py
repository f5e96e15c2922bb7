"""Wording and lookups shared by the student handlers, so that every message reads alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core import STALE_BUTTON_TEXT, Button, Context, Reply, UserError
from bot.i18n import N_, _, _n, fmt_datetime
from bot.i18n import fmt_date as _fmt_date
from handlers import actions
from handlers.common.membership import student_school_id
from storage.models import (
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    Person,
    Role,
    SavedOpportunity,
)
from storage.places import student_keys
from storage.queries import Elsewhere, elsewhere, ineligibility, record_view
from storage.tags import TAGS

KIND_LABELS: dict[OpportunityKind, str] = {
    OpportunityKind.INTERNSHIP: N_("Internship"),
    OpportunityKind.JOB_SHADOWING: N_("Job shadowing"),
    OpportunityKind.COOP: N_("Co-op placement"),
    OpportunityKind.MENTORING: N_("Mentoring"),
    OpportunityKind.SITE_VISIT: N_("Site visit"),
    OpportunityKind.EVENT: N_("Event"),
}

STATUS_LABELS: dict[InterestStatus, tuple[str, str]] = {
    InterestStatus.INTERESTED: (
        N_("Interest sent"),
        N_("The employer has been told; their reply comes here."),
    ),
    InterestStatus.INVITED: (N_("Invited"), N_("The employer invited you: check their message.")),
    InterestStatus.DECLINED: (
        N_("Not this time"),
        N_("The employer said no this time. Keep looking: /browse"),
    ),
    InterestStatus.WITHDRAWN: (
        N_("Withdrawn"),
        N_("You withdrew. You can register again while it's open."),
    ),
    InterestStatus.PLACED: (N_("Placed"), N_("You have a place. Well done!")),
}


def person_zone(person: Person) -> ZoneInfo:
    return person.zone


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(person_zone(ctx.person)).date()


def fmt_date(value: date) -> str:
    """3 Dec 2026, in the current language (3 dic 2026)."""
    return _fmt_date(value)


def fmt_when(value: datetime, person: Person) -> str:
    return fmt_datetime(value, person_zone(person))


def deadline_phrase(opportunity: Opportunity, today: date) -> str:
    if opportunity.deadline is None:
        return _("No deadline")
    days = (opportunity.deadline - today).days
    if days < 0:
        return _("Deadline passed ({date})", date=fmt_date(opportunity.deadline))
    day = fmt_date(opportunity.deadline)
    if days == 0:
        return _("Apply by {date} (today)", date=day)
    if days == 1:
        return _("Apply by {date} (tomorrow)", date=day)
    return _n("Apply by {date} (in {n} day)", "Apply by {date} (in {n} days)", days, date=day)


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an": "a teacher", "an employer", "an admin".

    By its first letter, which is right for the role and kind words it is used for (not for
    words like "hour" or "user").
    """
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def check_place(place: str, limit: int) -> None:
    """Refuse a place typed for a filter or an alert that is too long, or that has nothing in
    it to match (only punctuation, a street number): ``storage.places`` finds no key in it."""
    if len(place) > limit:
        raise UserError(_("That place name is too long. Try a town or city."))
    if not student_keys(place):
        raise UserError(
            _("I don't know that place. Try a town or a postcode area, like Leeds or LS6.")
        )


def searched(words: str) -> str:
    """Search words as a message puts them in its own quotes: a phrase the student quoted
    whole loses its quotes, and quotes inside become single, so the quotes never double up."""
    if len(words) > 1 and words.startswith('"') and words.endswith('"') and '"' not in words[1:-1]:
        words = words[1:-1]
    return words.replace('"', "'")


def headline(opportunity: Opportunity) -> str:
    return f"{opportunity.title} — {opportunity.organisation.name}"


def card_text(
    opportunity: Opportunity, today: date, max_text: int, *, also: str | None = None
) -> str:
    """The card's text; ``also`` says where else the same role is listed."""
    facts = [_(KIND_LABELS[opportunity.kind])]
    if opportunity.paid is not None:
        facts.append(_("Paid") if opportunity.paid else _("Unpaid"))
    if opportunity.remote:
        facts.append(_("Remote"))
    lines = [headline(opportunity), " · ".join(facts)]
    if opportunity.location:
        lines.append(_("Where: {place}", place=opportunity.location))
    if also:
        lines.append(f"({also})")
    if opportunity.start_date and opportunity.end_date:
        lines.append(
            _(
                "When: {start} to {end}",
                start=fmt_date(opportunity.start_date),
                end=fmt_date(opportunity.end_date),
            )
        )
    elif opportunity.start_date:
        lines.append(_("Starts: {date}", date=fmt_date(opportunity.start_date)))
    lines.append(deadline_phrase(opportunity, today))
    if opportunity.spots:
        lines.append(_("Places: {n}", n=opportunity.spots))
    if opportunity.tag_names:
        fields = ", ".join(_(TAGS[t]) if t in TAGS else t for t in opportunity.tag_names)
        lines.append(_("Fields: {fields}", fields=fields))
    eligibility = []
    if opportunity.min_age:
        eligibility.append(_("age {age}+", age=opportunity.min_age))
    if opportunity.min_grade or opportunity.max_grade:
        low, high = opportunity.min_grade, opportunity.max_grade
        if low and high:
            eligibility.append(_("grades {low}–{high}", low=low, high=high))
        elif low:
            eligibility.append(_("grades {low}+", low=low))
        else:
            eligibility.append(_("grades up to {high}", high=high))
    if eligibility:
        lines.append(_("Who can apply: {who}", who=", ".join(eligibility)))
    if opportunity.url:
        lines.append(_("Link: {url}", url=opportunity.url))
    text = "\n".join(lines)
    if opportunity.description:
        room = max_text - len(text) - 2
        text += "\n\n" + clip(opportunity.description.strip(), max(room, 0))
    return text


def is_number(text: str, max_digits: int = 12) -> bool:
    """Whether ``text`` is a plain number (ASCII digits: "²" or "٣" are digits to Python)."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def stamp(now: datetime) -> str:
    """``now`` for a button's payload, so that its press can tell what happened since the
    button was shown (a Cancel pressed after the thing it cancels was already sent)."""
    return str(int(now.timestamp()))


def shown_at(value: str | None) -> datetime | None:
    """The moment ``stamp`` wrote; None for a button from before stamps, or a forged one."""
    if value is None or not is_number(value, max_digits=11):
        return None
    return datetime.fromtimestamp(int(value), UTC)


def parse_id(value: str | None) -> int:
    """A record id from a button payload; anything else is a stale or forged button."""
    if value is None or not is_number(value):
        raise UserError(STALE_BUTTON_TEXT)
    return int(value)


def open_opportunity(ctx: Context, raw_id: str | None, *, for_action: bool = True) -> Opportunity:
    """The opportunity a button names, if it still exists and this student may act on it."""
    opportunity = ctx.session.get(Opportunity, parse_id(raw_id))
    if opportunity is None or (
        opportunity.status != OpportunityStatus.OPEN and ctx.role == Role.STUDENT
    ):
        raise UserError(
            _("That opportunity is no longer available. Send /browse to see what is open."),
        )
    if for_action:
        why = ineligibility(opportunity, ctx.person)
        if why is not None:
            # The reason is storage's, marked there and worded here.
            reason = _(why.reason, age=why.age, grade=why.grade)
            raise UserError(_("Sorry, you can't apply for that one: {reason}.", reason=reason))
    return opportunity


def own_interest(ctx: Context, raw_id: str | None) -> Interest:
    interest = ctx.session.get(Interest, parse_id(raw_id))
    if interest is None or interest.person_id != ctx.person.id:
        raise UserError(_("I can't find that application. Send /mine to see yours."))
    return interest


def is_saved(ctx: Context, opportunity: Opportunity) -> bool:
    return ctx.session.get(SavedOpportunity, (ctx.person.id, opportunity.id)) is not None


def card(ctx: Context, opportunity: Opportunity, *, note: str = "", replace: bool = True) -> Reply:
    """An opportunity's card with the buttons that fit this student's relation to it."""
    today = local_today(ctx)
    # Who opened the card is who the partnership reached, for its report.
    record_view(ctx.session, ctx.person.id, opportunity.id, student_school_id(ctx.person), ctx.now)
    interest = ctx.session.scalar(
        select(Interest).where(
            Interest.person_id == ctx.person.id, Interest.opportunity_id == opportunity.id
        )
    )
    oid = opportunity.id
    if interest is not None and interest.status != InterestStatus.WITHDRAWN:
        label = _(STATUS_LABELS[interest.status][0])
        first = Button(f"✓ {label}", actions.MY_APPLICATIONS.payload())
    else:
        first = Button(_("I'm interested"), actions.INTEREST.payload(oid))
    save = (
        Button(_("Unsave"), actions.UNSAVE.payload(oid))
        if is_saved(ctx, opportunity)
        else Button(_("Save"), actions.SAVE.payload(oid))
    )
    prefix = f"{note}\n\n" if note else ""
    other = elsewhere(ctx.session, ctx.person, today, [opportunity]).get(oid)
    body = card_text(
        opportunity, today, ctx.caps.max_text - len(prefix), also=also(other) if other else None
    )
    rows = (
        (first, save),
        (
            Button(_("Remind me"), actions.REMIND.payload(oid)),
            Button(_("Report a problem"), actions.REPORT_PROBLEM.payload(oid)),
        ),
        (Button(_("« Back"), actions.BACK_TO_LIST.payload()),),
    )
    return Reply(prefix + body, rows, replace=replace)


def also(other: Elsewhere) -> str:
    """ "also in Plano, TX and 2 more", or "also listed 2 more times" without new places."""
    if len(other.places) > 1:
        return _n(
            "also in {place} and {n} more",
            "also in {place} and {n} more",
            len(other.places) - 1,
            place=other.places[0],
        )
    if other.places:
        return _("also in {place}", place=other.places[0])
    return _n("also listed {n} more time", "also listed {n} more times", other.listings)
