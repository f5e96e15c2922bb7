"""/digest: one message a week with the new opportunities in a student's fields.

Off by default. A student picks a day; the digest comes that day at the configured local time
(16:00 by default: after school) and lists what opened since the last one, or since they
subscribed. When nothing new matches, nothing is sent. ``send_digests`` is the scheduled job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from babel.dates import get_day_names
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import STUDENTS, Button, Context, Registry, Reply, Timing, UserError
from bot.i18n import LANGUAGES, N_, _, _n, current, speaking_to
from handlers import actions
from handlers.common import STOP, clip, deadline_phrase, headline, means
from handlers.messaging.alerts import news_buttons, paused
from storage.db import claimed_batches
from storage.models import Opportunity, OpportunityTag, Person, Role
from storage.outbox import Outgoing, enqueue_many
from storage.queries import BrowseFilters, browse_query
from storage.tags import TAGS

registry = Registry()

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_ITEMS = 8
# A digest more than this late (the bot was down on the day) waits for the next week.
LATENESS = timedelta(days=1)


def next_digest_at(day: int, now: datetime, person: Person, timing: Timing) -> datetime:
    """The first moment after ``now`` that is weekday ``day`` at the digest time, locally."""
    zone = person.zone
    today = now.astimezone(zone).date()
    for ahead in range(8):
        date = today + timedelta(days=ahead)
        moment = datetime.combine(date, timing.digest_at, tzinfo=zone).astimezone(UTC)
        if date.weekday() == day and moment > now:
            return moment
    raise AssertionError("a weekday recurs within 8 days")


def day_name(day: int, width: Literal["abbreviated", "wide"] = "wide") -> str:
    """Weekday ``day`` (0 is Monday) in the current language: "Friday", "viernes", "piątek"."""
    lang = current()
    return str(
        get_day_names(width, locale=lang if lang in LANGUAGES and lang != "en" else "en_GB")[day]
    )


def _day_buttons(chosen: int | None) -> tuple[tuple[Button, ...], ...]:
    days = [
        Button(
            ("✓ " if n == chosen else "") + day_name(n, "abbreviated"),
            actions.DIGEST_DAY.payload(n),
        )
        for n in range(len(DAYS))
    ]
    off = Button(_("✓ Off") if chosen is None else _("Off"), actions.DIGEST_DAY.payload("off"))
    return (tuple(days[:4]), (*days[4:], off))


@registry.command(
    "digest", "weekly", roles=STUDENTS, help=N_("a weekly message of new opportunities")
)
def digest(ctx: Context, args: str) -> list[Reply]:
    word = args.strip().lower()
    if word:
        if means(word, STOP):
            return [_choose(ctx, None, replace=False)]
        # The day in English or in the person's language: "/digest friday", "/digest viernes".
        names = [(n, name.lower()) for n, name in enumerate(DAYS)]
        names += [(n, day_name(n).lower()) for n in range(len(DAYS))]
        day = next((n for n, name in names if name.startswith(word[:3])), None)
        if day is None or len(word) < 3:
            raise UserError(_("Which day? Send /digest friday, say, or /digest off."))
        return [_choose(ctx, day, replace=False)]
    person = ctx.person
    fields = ", ".join(_(TAGS[t]) if t in TAGS else t for t in person.tag_names) or _(
        "all fields (pick yours: /start)"
    )
    if person.digest_day is None:
        status = _("The weekly digest is off.")
    else:
        status = _(
            "You get the digest every {day} at {time}.",
            day=day_name(person.digest_day),
            time=_time(ctx),
        )
    about = _(
        "It lists new opportunities in your fields ({fields}), and only comes when there is "
        "something new. Which day suits you?",
        fields=fields,
    )
    return [Reply(f"{status} {about}", _day_buttons(person.digest_day))]


@registry.action(actions.DIGEST_DAY, roles=STUDENTS)
def day_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if args == ["off"]:
        return [_choose(ctx, None, replace=True)]
    if args == ["stop"]:  # under a digest, which stays readable
        return [_choose(ctx, None, replace=False)]
    if len(args) != 1 or args[0] not in {str(n) for n in range(7)}:
        raise UserError(_("That button doesn't work any more. Send /digest to choose again."))
    return [_choose(ctx, int(args[0]), replace=True)]


def _time(ctx: Context) -> str:
    return ctx.timing.digest_at.strftime("%H:%M")


def _choose(ctx: Context, day: int | None, *, replace: bool) -> Reply:
    person = ctx.person
    if day is None:
        person.digest_day = person.digest_next_at = person.digest_since = None
        return Reply(
            _("The weekly digest is off. Send /digest to turn it on again."), replace=replace
        )
    if person.digest_day is None:
        person.digest_since = ctx.now
    person.digest_day = day
    person.digest_next_at = next_digest_at(day, ctx.now, person, ctx.timing)
    return Reply(
        _(
            "Done: every {day} at {time} I'll send you what's new in your fields, if anything "
            "is. Send /digest to change the day or turn it off.",
            day=day_name(day),
            time=_time(ctx),
        ),
        replace=replace,
    )


def digest_items(
    session: Session, person: Person, since: datetime, now: datetime
) -> tuple[list[Opportunity], int]:
    """Open opportunities new since ``since`` that ``person`` may apply to, in their fields."""
    today = now.astimezone(person.zone).date()
    query = browse_query(person, BrowseFilters(), today).where(
        or_(Opportunity.created_at > since, Opportunity.published_at > since)
    )
    if person.tag_names:
        query = query.where(
            exists().where(
                OpportunityTag.opportunity_id == Opportunity.id,
                OpportunityTag.tag.in_(person.tag_names),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ids = session.scalars(
        query.order_by(Opportunity.deadline.is_(None), Opportunity.deadline, Opportunity.id).limit(
            MAX_ITEMS
        )
    ).all()
    loaded = {
        o.id: o
        for o in session.scalars(
            select(Opportunity)
            .where(Opportunity.id.in_(ids))
            .options(selectinload(Opportunity.organisation))
        )
    }
    return [loaded[i] for i in ids], total


def digest_message(
    person: Person, items: list[Opportunity], total: int, now: datetime
) -> tuple[str, list[list[list[str]]]]:
    today = now.astimezone(person.zone).date()
    if person.tag_names:
        heading = _n(
            "Your weekly digest: {n} new opportunity in your fields since last time.",
            "Your weekly digest: {n} new opportunities in your fields since last time.",
            total,
        )
    else:
        heading = _n(
            "Your weekly digest: {n} new opportunity since last time.",
            "Your weekly digest: {n} new opportunities since last time.",
            total,
        )
    lines = [heading, ""]
    for n, opportunity in enumerate(items, start=1):
        lines.append(f"{n}. {clip(headline(opportunity), 80)}")
        lines.append(f"   {deadline_phrase(opportunity, today)}")
    if total > len(items):
        more = total - len(items)
        lines.append(_n("…and {n} more: /browse", "…and {n} more: /browse", more))
    stop = Button(_("Stop the digest"), actions.DIGEST_DAY.payload("stop"))
    return "\n".join(lines), news_buttons(items, stop)


def send_digests(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 200
) -> int:
    """Queue the digests due by ``now``, each once; returns how many were queued."""
    due = (
        select(Person)
        .where(Person.role == Role.STUDENT, Person.digest_next_at <= now)
        .order_by(Person.digest_next_at, Person.id)
    )

    def queue(session: Session, people: Sequence[Person]) -> int:
        messages = []
        for person in people:
            assert person.digest_next_at is not None and person.digest_day is not None
            slot = person.digest_next_at
            person.digest_next_at = next_digest_at(person.digest_day, now, person, timing)
            if now - slot > LATENESS or paused(person, now):
                continue
            since = person.digest_since or now - timedelta(days=7)
            items, total = digest_items(session, person, since, now)
            if not items:
                continue
            with speaking_to(person):
                text, buttons = digest_message(person, items, total, now)
            key = f"digest:{person.id}:{slot:%Y%m%d}"
            messages.append(Outgoing(person, text, "digest", key, buttons))
            person.digest_since = now
        return len(enqueue_many(session, messages, now=now, quiet=timing.quiet))

    return sum(claimed_batches(session_factory, due, queue, batch=batch))
