"""/alert: hear about new opportunities as they arrive, in my fields or for a saved search.

New matches are batched: one message lists what arrived since the last alert, at most one a
day (or a week, as the student chooses), never in quiet hours, and each opportunity reaches a
student in an alert only once (``AlertSent``). Every alert and the weekly digest carry Pause
(a week, a month, until I resume) and Stop. ``send_alerts`` is the scheduled job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import STUDENTS, Button, Context, Registry, Reply, Timing, UserError, stored_buttons
from bot.i18n import N_, _, _n, speaking_to
from handlers import actions
from handlers.common import (
    check_place,
    clip,
    deadline_phrase,
    fmt_date,
    headline,
    parse_id,
    searched,
)
from storage import search
from storage.db import claimed_batches, dialect_insert
from storage.models import (
    PAUSED_UNTIL_RESUMED,
    Alert,
    AlertSent,
    Opportunity,
    OpportunityTag,
    Person,
    Role,
)
from storage.outbox import Outgoing, enqueue_many
from storage.queries import BrowseFilters, browse_query, search_hits
from storage.tags import TAGS

registry = Registry()

MAX_ALERTS = 10
MAX_WORDS = 100
MAX_PLACE = 60
MAX_ITEMS = 8
# With nothing new, a student's alerts are looked at again after this long.
LOOK_AGAIN = timedelta(hours=1)
EVERY = {1: N_("once a day"), 7: N_("once a week")}
PAUSES = {"7": timedelta(days=7), "30": timedelta(days=30)}
# "near" in English, Spanish, Polish, Ukrainian and Arabic: "/alert enfermería cerca de Leeds".
_NEAR = re.compile(
    r"(?:^|\s)(?:near|cerca\s+de|w\s+pobliżu|koło|біля|поблизу|بالقرب\s+من|قرب)\s+(?P<place>.+)$",
    re.IGNORECASE,
)


def pause_buttons(stop: Button) -> list[list[Button]]:
    """The Pause and Stop buttons under every alert and digest; ``stop`` is the message's own."""
    return [
        [
            Button(_("Pause a week"), actions.PAUSE_NEWS.payload("7")),
            Button(_("Pause a month"), actions.PAUSE_NEWS.payload("30")),
        ],
        [Button(_("Pause until I resume"), actions.PAUSE_NEWS.payload("on")), stop],
    ]


def news_buttons(opportunities: Sequence[Opportunity], stop: Button) -> list[list[list[str]]]:
    """The buttons under an alert or digest, as the outbox keeps them: a numbered button per
    listed opportunity (four a row), then Pause and the message's own ``stop``."""
    numbers = [
        Button(str(n), actions.OPEN_LISTING.payload(o.id))
        for n, o in enumerate(opportunities, start=1)
    ]
    rows = [numbers[i : i + 4] for i in range(0, len(numbers), 4)]
    return stored_buttons([*rows, *pause_buttons(stop)])


def paused(person: Person, now: datetime) -> bool:
    """Whether the student paused alerts and the digest at ``now``."""
    return person.news_paused_until is not None and person.news_paused_until > now


def describe(alert: Alert, person: Person) -> str:
    if alert.words is None and alert.place is None:
        fields = ", ".join(_(TAGS[t]).split(" & ")[0] for t in person.tag_names if t in TAGS)
        if fields:
            return _("new opportunities in your fields ({fields})", fields=fields)
        return _("all new opportunities")
    if alert.words and alert.place:
        return _('"{words}" near {place}', words=searched(alert.words), place=alert.place)
    if alert.words:
        return _('"{words}"', words=searched(alert.words))
    return _("anything near {place}", place=alert.place)


def _parse(args: str) -> tuple[str | None, str | None]:
    text = " ".join(args.split())
    place = None
    if (near := _NEAR.search(text)) is not None:
        place = near.group("place").strip()
        text = text[: near.start()].strip()
    if len(text) > MAX_WORDS:
        raise UserError(
            _("That search is too long. Please use fewer than {n} characters.", n=MAX_WORDS)
        )
    if place is not None:
        check_place(place, MAX_PLACE)
    if text and not search.parse(text):
        raise UserError(_("I need a word to look for, like /alert nursing near Leeds."))
    return text or None, place


def next_alert_at(session: Session, person: Person, now: datetime) -> datetime:
    """The earliest moment the student's next alert may go: a day (or week) after the last."""
    last = session.scalar(
        select(func.max(AlertSent.sent_at)).where(AlertSent.person_id == person.id)
    )
    if last is None:
        return now
    return max(now, last + timedelta(days=person.alert_every_days))


def alerts_of(session: Session, person: Person) -> list[Alert]:
    return list(
        session.scalars(select(Alert).where(Alert.person_id == person.id).order_by(Alert.id))
    )


def _alerts(ctx: Context) -> list[Alert]:
    return alerts_of(ctx.session, ctx.person)


def alerts_summary(session: Session, person: Person, now: datetime) -> str:
    """A student's alerts in a line, for what we store about them."""
    mine = alerts_of(session, person)
    if not mine:
        return _("none")
    said = "; ".join(describe(a, person) for a in mine)
    how_often = _(EVERY.get(person.alert_every_days, EVERY[1]))
    if paused(person, now):
        return _("{alerts} ({how_often} at most, paused)", alerts=said, how_often=how_often)
    return _("{alerts} ({how_often} at most)", alerts=said, how_often=how_often)


@registry.command(
    "alert",
    roles=STUDENTS,
    help=N_("hear about new opportunities, e.g. /alert nursing near Leeds"),
)
def alert(ctx: Context, args: str) -> list[Reply]:
    words, place = _parse(args)
    mine = _alerts(ctx)
    if any(
        (a.words or "").lower() == (words or "").lower()
        and (a.place or "").lower() == (place or "").lower()
        for a in mine
    ):
        return [Reply(_("You already have that alert. /alerts shows them all."))]
    if len(mine) >= MAX_ALERTS:
        raise UserError(
            _n(
                "You have {n} alert already. Remove one first: /alerts",
                "You have {n} alerts already. Remove one first: /alerts",
                MAX_ALERTS,
            )
        )
    made = Alert(person_id=ctx.person.id, words=words, place=place, created_at=ctx.now)
    ctx.session.add(made)
    ctx.person.alert_next_at = next_alert_at(ctx.session, ctx.person, ctx.now)
    how_often = _(EVERY.get(ctx.person.alert_every_days, EVERY[1]))
    return [
        Reply(
            _(
                "Done: I'll tell you about {what} as they come in, {how_often} at most and never "
                "at night. /alerts to see or remove your alerts.",
                what=describe(made, ctx.person),
                how_often=how_often,
            )
        )
    ]


@registry.command("alerts", roles=STUDENTS, help=N_("my alerts for new opportunities"))
def alerts(ctx: Context, args: str) -> list[Reply]:
    return [_list(ctx, replace=False)]


def _list(ctx: Context, *, replace: bool, note: str = "") -> Reply:
    person = ctx.person
    prefix = f"{note}\n" if note else ""
    mine = _alerts(ctx)
    if not mine:
        return Reply(
            prefix
            + _(
                "You have no alerts. Send /alert to hear about new opportunities in your "
                "fields, or /alert nursing near Leeds for a search."
            ),
            replace=replace,
        )
    how_often = _(EVERY.get(person.alert_every_days, EVERY[1]))
    lines = [prefix + _("Your alerts ({how_often} at most):", how_often=how_often)]
    lines += [f"{n}. {describe(a, person)}" for n, a in enumerate(mine, start=1)]
    if paused(person, ctx.now):
        assert person.news_paused_until is not None
        if person.news_paused_until == PAUSED_UNTIL_RESUMED:
            lines.append(_("Alerts and the digest are paused until you resume."))
        else:
            day = fmt_date(person.news_paused_until.astimezone(person.zone).date())
            lines.append(_("Alerts and the digest are paused until {date}.", date=day))
    removes = [
        Button(_("Remove {number}", number=n), actions.ALERT.payload("rm", a.id))
        for n, a in enumerate(mine, start=1)
    ]
    rows: list[tuple[Button, ...]] = [tuple(removes[i : i + 3]) for i in range(0, len(removes), 3)]
    rows.append(
        tuple(
            Button(
                ("✓ " if days == person.alert_every_days else "") + label,
                actions.ALERT.payload("every", days),
            )
            for days, label in ((1, _("Daily")), (7, _("Weekly")))
        )
    )
    if paused(person, ctx.now):
        rows.append((Button(_("Resume"), actions.PAUSE_NEWS.payload("off")),))
    return Reply("\n".join(lines), tuple(rows), replace=replace)


@registry.action(actions.ALERT, roles=STUDENTS)
def alert_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    person = ctx.person
    if args == ["stop"]:  # under an alert, which stays readable
        for mine in _alerts(ctx):
            ctx.session.delete(mine)
        return [Reply(_("Alerts stopped. Send /alert to start again."))]
    if len(args) == 2 and args[0] == "rm":
        found = ctx.session.get(Alert, parse_id(args[1]))
        if found is None or found.person_id != person.id:
            return [_list(ctx, replace=True, note=_("That alert was already removed."))]
        ctx.session.delete(found)
        ctx.session.flush()
        return [_list(ctx, replace=True, note=_("Alert removed."))]
    if len(args) == 2 and args[0] == "every" and args[1] in ("1", "7"):
        person.alert_every_days = int(args[1])
        person.alert_next_at = next_alert_at(ctx.session, person, ctx.now)
        return [_list(ctx, replace=True)]
    raise UserError(_("That button doesn't work any more. Send /alerts to start again."))


@registry.action(actions.PAUSE_NEWS, roles=STUDENTS)
def pause_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    person = ctx.person
    if args == ["off"]:
        person.news_paused_until = None
        person.alert_next_at = next_alert_at(ctx.session, person, ctx.now)
        return [Reply(_("Welcome back: alerts and the digest are on again."))]
    if args == ["on"]:
        person.news_paused_until = PAUSED_UNTIL_RESUMED
        text = _("Paused: no alerts or digest until you resume.")
    elif len(args) == 1 and args[0] in PAUSES:
        person.news_paused_until = ctx.now + PAUSES[args[0]]
        day = fmt_date(person.news_paused_until.astimezone(person.zone).date())
        text = _("Paused: no alerts or digest until {date}.", date=day)
    else:
        raise UserError(_("That button doesn't work any more. Send /alerts to start again."))
    return [Reply(text, ((Button(_("Resume now"), actions.PAUSE_NEWS.payload("off")),),))]


def _matching(session: Session, person: Person, alert: Alert, now: datetime) -> Select[Any]:
    """Ids of opportunities new to ``alert`` that ``person`` may apply to and has not heard of."""
    today = now.astimezone(person.zone).date()
    if alert.words is None and alert.place is None:
        query = browse_query(person, BrowseFilters(), today)
        if person.tag_names:
            query = query.where(
                exists().where(
                    OpportunityTag.opportunity_id == Opportunity.id,
                    OpportunityTag.tag.in_(person.tag_names),
                )
            )
    else:
        filters = BrowseFilters(text=alert.words, where=alert.place)
        query = browse_query(person, filters, today, search_hits(session, alert.words))
    return query.where(
        or_(Opportunity.published_at > alert.created_at, Opportunity.created_at > alert.created_at),
        ~exists().where(
            AlertSent.person_id == person.id, AlertSent.opportunity_id == Opportunity.id
        ),
    )


def alert_items(
    session: Session, person: Person, alerts: list[Alert], now: datetime
) -> tuple[list[tuple[Opportunity, Alert]], list[int]]:
    """What to list in ``person``'s next alert, each with the alert it matched, and the ids
    of every new match (a role listed several times is listed once, and heard of once)."""
    matched: dict[int, Alert] = {}
    for each in alerts:
        for oid in session.scalars(_matching(session, person, each, now)):
            matched.setdefault(oid, each)
    if not matched:
        return [], []
    found = session.scalars(
        select(Opportunity)
        .where(Opportunity.id.in_(matched))
        .options(selectinload(Opportunity.organisation))
        .order_by(Opportunity.deadline.is_(None), Opportunity.deadline, Opportunity.id)
    )
    roles: set[tuple[int, str]] = set()
    items = []
    for opportunity in found:
        role = (opportunity.organisation_id, opportunity.title.strip().lower())
        if role not in roles:
            roles.add(role)
            items.append((opportunity, matched[opportunity.id]))
    return items, sorted(matched)


def alert_message(
    person: Person, items: list[tuple[Opportunity, Alert]], now: datetime
) -> tuple[str, list[list[list[str]]]]:
    today = now.astimezone(person.zone).date()
    heading = _n(
        "New for you: {n} opportunity matching your alerts.",
        "New for you: {n} opportunities matching your alerts.",
        len(items),
    )
    lines = [heading, ""]
    shown = items[:MAX_ITEMS]
    for n, (opportunity, matched) in enumerate(shown, start=1):
        lines.append(f"{n}. {clip(headline(opportunity), 80)}")
        lines.append(f"   {deadline_phrase(opportunity, today)} · {describe(matched, person)}")
    if len(items) > len(shown):
        more = len(items) - len(shown)
        lines.append(_n("…and {n} more: /browse", "…and {n} more: /browse", more))
    stop = Button(_("Stop alerts"), actions.ALERT.payload("stop"))
    return "\n".join(lines), news_buttons([o for o, _alert in shown], stop)


def send_alerts(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 200
) -> int:
    """Queue the alerts due by ``now``; returns how many were queued."""
    due = (
        select(Person)
        .where(
            Person.role == Role.STUDENT,
            Person.alert_next_at <= now,
            exists().where(Alert.person_id == Person.id),
        )
        .order_by(Person.alert_next_at, Person.id)
    )

    def queue(session: Session, people: Sequence[Person]) -> int:
        messages = []
        for person in people:
            if paused(person, now):
                person.alert_next_at = person.news_paused_until
                continue
            if timing.quiet.contains(now.astimezone(person.zone).time()):
                # Composed when the quiet hours end, so it lists what came in overnight.
                person.alert_next_at = timing.quiet.release(now, person.zone)
                continue
            mine = list(session.scalars(select(Alert).where(Alert.person_id == person.id)))
            items, heard = alert_items(session, person, mine, now)
            if not items:
                person.alert_next_at = now + LOOK_AGAIN
                continue
            with speaking_to(person):
                text, buttons = alert_message(person, items, now)
            # Each opportunity is in one alert per student, so the first one names it.
            key = f"alert:{person.id}:{heard[0]}"
            messages.append(Outgoing(person, text, "alert", key, buttons))
            session.execute(
                dialect_insert(session, AlertSent.__table__)
                .values(
                    [{"person_id": person.id, "opportunity_id": i, "sent_at": now} for i in heard]
                )
                .on_conflict_do_nothing(index_elements=["person_id", "opportunity_id"])
            )
            person.alert_next_at = now + timedelta(days=person.alert_every_days)
        return len(enqueue_many(session, messages, now=now, quiet=timing.quiet))

    return sum(claimed_batches(session_factory, due, queue, batch=batch))
