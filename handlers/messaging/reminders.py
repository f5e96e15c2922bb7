"""Reminders: before application deadlines, before events, and whenever a student asks.

The reminders table holds the truth. Scheduled jobs (``bot.scheduler``) only trigger the plain
functions here, with the time passed in:

- ``reconcile_deadline_reminders`` keeps a pending reminder for each offset (7 and 1 days
  before, by default, at 09:00 local time) of every open opportunity with a deadline that a
  student follows: saved it, or registered interest that was not withdrawn, declined or placed.
  It runs right after a student saves, unsaves, registers or withdraws, and periodically for
  deadlines that an import or an employer moved. Obsolete pending reminders are deleted (they
  never went out); one the student cancelled stays cancelled.
- ``queue_due_reminders`` moves due reminders to the outbox. A reminder's key is also its
  outbox idempotency key, and its status changes in the same transaction, so it is queued at
  most once; several workers claim rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
  SQLite, one process). A reminder found more than the grace period late (the bot was down)
  is marked missed instead: an "apply by tomorrow" two days late helps nobody.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict, TypeVar

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import QueryableAttribute, Session, selectinload, sessionmaker

from bot.core import (
    DIALOG,
    STUDENTS,
    Button,
    Context,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from bot.i18n import N_, _, _n, current, fmt_day, speaking_to
from handlers import actions
from handlers.common import (
    WhenError,
    clip,
    deadline_phrase,
    examples,
    fmt_date,
    headline,
    is_number,
    local_today,
    open_opportunity,
    parse_id,
    parse_when,
    shown_at,
    stamp,
    starts_with_a_moment,
)
from storage.db import claimed_batches, insert_new, transaction, try_job_lock
from storage.models import (
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityStatus,
    Person,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SavedOpportunity,
)
from storage.outbox import Outgoing, enqueue_many

registry = Registry()

FOLLOWING = (InterestStatus.INTERESTED, InterestStatus.INVITED)
# An invitation's event still stands while the student is invited or placed.
ATTENDING = (InterestStatus.INVITED, InterestStatus.PLACED)
# An answered or abandoned application needs no more deadline reminders, even if saved.
SETTLED = (InterestStatus.WITHDRAWN, InterestStatus.DECLINED, InterestStatus.PLACED)
# What an employer's invitation is called in its event reminders: pass it as
# ``schedule_event_reminders(what=INVITATION)``, so that ``_(what)`` finds it in the catalogues.
INVITATION = N_("Invitation")
MAX_NOTE = 200
MAX_PENDING_CUSTOM = 50
HORIZON = timedelta(days=366)
LIST_LIMIT = 20
# Keeps every IN (...) list well under the backends' limits on bound parameters.
CHUNK = 1000


def reminder_key(
    kind: ReminderKind, person_id: int, opportunity_id: int | None, due: datetime, note: str = ""
) -> str:
    """The same reminder (person, opportunity or note, kind, due time) is never made twice."""
    about = f"{opportunity_id or 0}" + (f"-{zlib.crc32(note.encode()):08x}" if note else "")
    return f"reminder:{kind.value}:{person_id}:{about}:{due:%Y%m%dT%H%MZ}"


def fmt_moment(value: datetime, person: Person, now: datetime) -> str:
    """Like "Mon 1 Dec at 17:00", in the person's time zone (with the year if not this one)."""
    zone = person.zone
    local = value.astimezone(zone)
    day = fmt_day(local.date())
    if local.year != now.astimezone(zone).year:
        day = f"{day} {local.year}"
    return _("{day} at {time}", day=day, time=local.strftime("%H:%M"))


def _chunks(values: Collection[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# --- deadline reminders ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which (person, opportunity) pairs a reconciliation looks at; None means all."""

    person_ids: frozenset[int] | None = None
    opportunity_ids: frozenset[int] | None = None

    def where(
        self, person_column: QueryableAttribute[Any], opportunity_column: QueryableAttribute[Any]
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.person_ids is not None:
            conditions.append(person_column.in_(self.person_ids))
        if self.opportunity_ids is not None:
            conditions.append(opportunity_column.in_(self.opportunity_ids))
        return conditions


@dataclass(frozen=True)
class Wanted:
    key: str
    person_id: int
    opportunity_id: int
    due_at: datetime
    text: str


def followed(session: Session, scope: Scope = Scope()) -> set[tuple[int, int]]:
    """(person, opportunity) pairs where a student saved or registered interest, still open."""
    pairs: set[tuple[int, int]] = set()
    settled: set[tuple[int, int]] = set()
    saved = select(SavedOpportunity.person_id, SavedOpportunity.opportunity_id).where(
        *scope.where(SavedOpportunity.person_id, SavedOpportunity.opportunity_id)
    )
    pairs.update((p, o) for p, o in session.execute(saved))
    interests = select(Interest.person_id, Interest.opportunity_id, Interest.status).where(
        Interest.person_id.is_not(None), *scope.where(Interest.person_id, Interest.opportunity_id)
    )
    for person_id, opportunity_id, status in session.execute(interests):
        assert person_id is not None  # the query leaves out interests of forgotten people
        if status in FOLLOWING:
            pairs.add((person_id, opportunity_id))
        elif status in SETTLED:
            settled.add((person_id, opportunity_id))
    return pairs - settled


Row = TypeVar("Row", Person, Opportunity)


def _by_id(
    session: Session, model: type[Row], ids: Collection[int] | None, *conditions: Any
) -> dict[int, Row]:
    """Rows of ``model`` meeting ``conditions``, by id: those in ``ids``, or all if None."""
    query = select(model).where(*conditions)
    if model is Opportunity:
        query = query.options(selectinload(Opportunity.organisation))
    if ids is None:
        return {row.id: row for row in session.scalars(query)}
    found: dict[int, Row] = {}
    for chunk in _chunks(ids):
        found.update((row.id, row) for row in session.scalars(query.where(model.id.in_(chunk))))
    return found


def deadline_wanted(session: Session, timing: Timing, scope: Scope = Scope()) -> dict[str, Wanted]:
    """Every deadline reminder that should exist in ``scope``, past or future, by key."""
    pairs = followed(session, scope)
    if not pairs:
        return {}
    everyone = scope == Scope()
    opportunities = _by_id(
        session,
        Opportunity,
        None if everyone else {o for _, o in pairs},
        Opportunity.status == OpportunityStatus.OPEN,
        Opportunity.deadline.is_not(None),
    )
    people = _by_id(session, Person, None if everyone else {p for p, _ in pairs})
    wanted: dict[str, Wanted] = {}
    for person_id, opportunity_id in pairs:
        opportunity, person = opportunities.get(opportunity_id), people.get(person_id)
        if opportunity is None or person is None:
            continue
        deadline = opportunity.deadline
        assert deadline is not None  # only opportunities with a deadline were loaded
        with speaking_to(person):
            text = _(
                "Apply for {title} by {date}", title=headline(opportunity), date=fmt_date(deadline)
            )
        for days in timing.reminder_offsets_days:
            day = deadline - timedelta(days=days)
            due = datetime.combine(day, timing.reminder_at, tzinfo=person.zone).astimezone(UTC)
            key = reminder_key(ReminderKind.DEADLINE, person_id, opportunity_id, due)
            wanted[key] = Wanted(key, person_id, opportunity_id, due, text)
    return wanted


@dataclass(frozen=True)
class Reconciled:
    created: int = 0
    removed: int = 0

    def __bool__(self) -> bool:
        return bool(self.created or self.removed)


def reconcile_deadline_reminders(
    session: Session, now: datetime, timing: Timing, scope: Scope = Scope()
) -> Reconciled:
    """Create the missing deadline reminders in ``scope`` and delete the obsolete pending ones.

    A reminder whose time has passed is not created. Rows are never changed in place: a moved
    deadline gives new keys, so the old reminders go and new ones come.
    """
    wanted = deadline_wanted(session, timing, scope)
    existing = session.execute(
        select(Reminder.id, Reminder.key, Reminder.status).where(
            Reminder.kind == ReminderKind.DEADLINE,
            or_(Reminder.status == ReminderStatus.PENDING, Reminder.due_at > now),
            *scope.where(Reminder.person_id, Reminder.opportunity_id),
        )
    ).all()
    known = {key for _, key, _ in existing}
    obsolete = [
        rid
        for rid, key, status in existing
        if status == ReminderStatus.PENDING and key not in wanted
    ]
    for chunk in _chunks(obsolete):
        session.execute(delete(Reminder).where(Reminder.id.in_(chunk)))
    rows = [
        {
            "person_id": w.person_id,
            "opportunity_id": w.opportunity_id,
            "kind": ReminderKind.DEADLINE,
            "text": w.text,
            "due_at": w.due_at,
            "status": ReminderStatus.PENDING,
            "key": w.key,
            "created_at": now,
        }
        for w in wanted.values()
        if w.key not in known and w.due_at > now
    ]
    created = 0
    for start in range(0, len(rows), CHUNK):
        created += len(
            insert_new(session, Reminder.__table__, rows[start : start + CHUNK], unique="key")
        )
    return Reconciled(created, len(obsolete))


def sync_deadline_reminders(ctx: Context, opportunity_id: int) -> None:
    """After this student saved, unsaved, registered or withdrew: their reminders for it."""
    ctx.session.flush()
    scope = Scope(frozenset({ctx.person.id}), frozenset({opportunity_id}))
    reconcile_deadline_reminders(ctx.session, ctx.now, ctx.timing, scope)


def reconcile_all(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing
) -> Reconciled:
    """The periodic job: every student's deadline reminders (one worker at a time)."""
    with transaction(session_factory) as session:
        if not try_job_lock(session, "reconcile-deadline-reminders"):
            return Reconciled()
        return reconcile_deadline_reminders(session, now, timing)


# --- event reminders ------------------------------------------------------------------------


def schedule_event_reminders(
    session: Session,
    person: Person,
    opportunity: Opportunity,
    event_at: datetime,
    *,
    now: datetime,
    timing: Timing,
    what: str = N_("Event"),
) -> list[Reminder]:
    """Remind ``person`` the day before ``event_at`` (same time) and an hour before.

    For an employer's invitation with a date (an interview, a shadowing day). Calling it again
    with a new time moves the reminders; ones that would fall in quiet hours come at the end of
    them, and are dropped if that is no longer before the event. Returns the new reminders.
    """
    zone = person.zone
    session.execute(
        delete(Reminder).where(
            Reminder.person_id == person.id,
            Reminder.opportunity_id == opportunity.id,
            Reminder.kind == ReminderKind.EVENT,
            Reminder.status == ReminderStatus.PENDING,
            or_(Reminder.event_at.is_(None), Reminder.event_at != event_at),
        )
    )
    local = event_at.astimezone(zone)
    day_before = datetime.combine(local.date() - timedelta(days=1), local.timetz()).astimezone(UTC)
    with speaking_to(person):
        text = _("{what}: {title}", what=_(what), title=headline(opportunity))
    rows: dict[str, dict[str, Any]] = {}
    for moment in (day_before, event_at - timedelta(hours=1)):
        due = timing.quiet.release(moment, zone)
        if not now < due < event_at:
            continue
        key = reminder_key(ReminderKind.EVENT, person.id, opportunity.id, due)
        rows[key] = {
            "person_id": person.id,
            "opportunity_id": opportunity.id,
            "kind": ReminderKind.EVENT,
            "text": text,
            "due_at": due,
            "event_at": event_at,
            "status": ReminderStatus.PENDING,
            "key": key,
            "created_at": now,
        }
    keys = insert_new(session, Reminder.__table__, list(rows.values()), unique="key")
    return list(
        session.scalars(select(Reminder).where(Reminder.key.in_(keys)).order_by(Reminder.due_at))
    )


# --- queueing due reminders -----------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    queued: int = 0
    missed: int = 0
    cancelled: int = 0

    def __bool__(self) -> bool:
        return bool(self.queued or self.missed or self.cancelled)

    def __add__(self, other: Queued) -> Queued:
        return Queued(
            self.queued + other.queued,
            self.missed + other.missed,
            self.cancelled + other.cancelled,
        )


def queue_due_reminders(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 500
) -> Queued:
    """Move every reminder due by ``now`` to the outbox (or mark it missed), each once."""
    due = (
        select(Reminder)
        .where(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
    )
    batches = claimed_batches(
        session_factory, due, lambda s, rows: _queue(s, rows, now, timing), batch=batch
    )
    return sum(batches, Queued())


def _queue(session: Session, claimed: Sequence[Reminder], now: datetime, timing: Timing) -> Queued:
    if not claimed:
        return Queued()
    people = _by_id(session, Person, {r.person_id for r in claimed})
    opportunity_ids = {r.opportunity_id for r in claimed if r.opportunity_id is not None}
    opportunities = _by_id(session, Opportunity, opportunity_ids)
    deadlines = [r for r in claimed if r.kind == ReminderKind.DEADLINE]
    # A deadline moved, or the student withdrew, since the last reconciliation.
    still_wanted = (
        deadline_wanted(
            session,
            timing,
            Scope(
                frozenset(r.person_id for r in deadlines),
                frozenset(r.opportunity_id for r in deadlines if r.opportunity_id is not None),
            ),
        )
        if deadlines
        else {}
    )
    events = [r for r in claimed if r.kind == ReminderKind.EVENT]
    attending = attending_pairs(session, {(r.person_id, r.opportunity_id) for r in events})
    result = Queued()
    sending: list[Reminder] = []
    messages: list[Outgoing] = []
    for reminder in claimed:
        if reminder.kind == ReminderKind.DEADLINE and reminder.key not in still_wanted:
            reminder.status = ReminderStatus.CANCELLED
            result += Queued(cancelled=1)
        elif (
            reminder.kind == ReminderKind.EVENT
            and (reminder.person_id, reminder.opportunity_id) not in attending
        ):
            # The student withdrew or was declined since the invitation.
            reminder.status = ReminderStatus.CANCELLED
            result += Queued(cancelled=1)
        elif now - reminder.due_at > timing.grace:
            reminder.status = ReminderStatus.MISSED
            result += Queued(missed=1)
        else:
            person = people[reminder.person_id]
            opportunity = opportunities.get(reminder.opportunity_id or 0)
            send_at = timing.quiet.release(now, person.zone)
            with speaking_to(person):
                text, buttons = render(reminder, person, opportunity, send_at)
            messages.append(Outgoing(person, text, "reminder", reminder.key, buttons))
            sending.append(reminder)
    written = enqueue_many(session, messages, now=now, quiet=timing.quiet)
    for reminder in sending:
        # Not written means no reachable account: a reminder's key reaches the outbox only here,
        # in the same transaction that marks it queued, so it cannot be there already.
        if reminder.key in written:
            reminder.status = ReminderStatus.QUEUED
            result += Queued(queued=1)
        else:
            reminder.status = ReminderStatus.MISSED
            result += Queued(missed=1)
    return result


def attending_pairs(
    session: Session, pairs: Collection[tuple[int, int | None]]
) -> set[tuple[int, int | None]]:
    """The (person, opportunity) ``pairs`` whose invitation still stands."""
    found: set[tuple[int, int | None]] = set()
    for chunk in _chunks({p for p, o in pairs if o is not None}):
        rows = session.execute(
            select(Interest.person_id, Interest.opportunity_id).where(
                Interest.person_id.in_(chunk), Interest.status.in_(ATTENDING)
            )
        )
        found.update((person, opportunity) for person, opportunity in rows if person is not None)
    return found & set(pairs)


def render(
    reminder: Reminder, person: Person, opportunity: Opportunity | None, send_at: datetime
) -> tuple[str, list[list[list[str]]] | None]:
    """The reminder's message as it will read when it arrives at ``send_at``."""
    today = send_at.astimezone(person.zone).date()
    is_open = opportunity is not None and opportunity.status == OpportunityStatus.OPEN
    buttons = (
        stored_buttons([[Button(_("View it"), actions.OPEN_LISTING.payload(opportunity.id))]])
        if is_open and opportunity
        else None
    )
    if reminder.kind == ReminderKind.DEADLINE and opportunity and opportunity.deadline:
        return _deadline_reminder(opportunity, opportunity.deadline, today), buttons
    if reminder.kind == ReminderKind.EVENT and reminder.event_at is not None:
        return _event_reminder(reminder.text, reminder.event_at, person, send_at), buttons
    if opportunity is not None:
        reminder_text = _("Reminder: {text}", text=reminder.text)
        return f"{reminder_text}\n{deadline_phrase(opportunity, today)}", buttons
    return _("Reminder: {text}", text=reminder.text), None


def _deadline_reminder(opportunity: Opportunity, deadline: date, today: date) -> str:
    title, day, days = headline(opportunity), fmt_date(deadline), (deadline - today).days
    if days == 0:
        return _("Reminder: applications for {title} close today ({date}).", title=title, date=day)
    if days == 1:
        return _(
            "Reminder: applications for {title} close tomorrow ({date}).", title=title, date=day
        )
    return _n(
        "Reminder: applications for {title} close in {n} day ({date}).",
        "Reminder: applications for {title} close in {n} days ({date}).",
        days,
        title=title,
        date=day,
    )


def _event_reminder(text: str, event_at: datetime, person: Person, send_at: datetime) -> str:
    local = event_at.astimezone(person.zone)
    days = (local.date() - send_at.astimezone(person.zone).date()).days
    if days == 0:
        return _("Reminder: {text}, today at {time}.", text=text, time=local.strftime("%H:%M"))
    if days == 1:
        return _("Reminder: {text}, tomorrow at {time}.", text=text, time=local.strftime("%H:%M"))
    return _(
        "Reminder: {text}, on {moment}.", text=text, moment=fmt_moment(event_at, person, send_at)
    )


# --- /remind and /reminders -----------------------------------------------------------------

USAGE = N_(
    "Tell me when, and what about. For example:\n"
    "/remind tomorrow 5pm to email Acme\n"
    "/remind friday 8:30 to bring my CV\n"
    "Or tap Remind me on an opportunity."
)


@registry.command("remind", roles=STUDENTS, help=N_("remind me of something at a time I choose"))
def remind(ctx: Context, args: str) -> list[Reply]:
    text = args.strip()
    if text.lower().startswith("me "):
        text = text[3:].strip()
    if not text:
        return [Reply(_(USAGE))]
    first, _space, rest = text.partition(" ")
    # "/remind 3 dec to call Acme" starts with a number too: the day's, not an opportunity's.
    if is_number(first) and not starts_with_a_moment(text):
        opportunity = open_opportunity(ctx, first, for_action=False)
        if not rest.strip():
            return [_ask_when(ctx, opportunity)]
        return [add_custom(ctx, _parse(ctx, rest), opportunity=opportunity)]
    when, separator, note = _split_note(text)
    if not separator or not note.strip():
        raise UserError(
            _(
                "What should I remind you about? Put it after the time, like:\n"
                "/remind tomorrow 5pm to email Acme"
            )
        )
    return [add_custom(ctx, _parse(ctx, when), note=note.strip())]


# The word between the time and the note besides English "to", in the person's language:
# "/remind mañana a las 17:00 para escribir a Acme".
_NOTE_AFTER = {
    "es": (" para ",),
    "pl": (" żeby ", " aby ", " by "),
    "uk": (" щоб ", " про "),
    "ar": (" أن ", " ان "),
}


def _split_note(text: str) -> tuple[str, str, str]:
    """The time, the word after it, and the note, at the first of the words found."""
    found = [(text.find(w), w) for w in (" to ", *_NOTE_AFTER.get(current(), ())) if w in text]
    if not found:
        return text, "", ""
    at, word = min(found)
    return text[:at], word, text[at + len(word) :]


@registry.action(actions.REMIND, roles=STUDENTS)
def remind_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity = open_opportunity(ctx, args[0] if args else None, for_action=False)
    return [_ask_when(ctx, opportunity)]


def _ask_when(ctx: Context, opportunity: Opportunity) -> Reply:
    ctx.start_dialog("remind_when", WhenDialog(opportunity=opportunity.id))
    return Reply(
        _(
            "When should I remind you about {title}? For example: {examples}.",
            title=headline(opportunity),
            examples=examples(local_today(ctx)),
        ),
        ((Button(_("Cancel"), actions.REMIND_CANCEL.payload(opportunity.id, stamp(ctx.now))),),),
    )


class WhenDialog(TypedDict):
    """The time typed for a custom reminder: about which opportunity."""

    opportunity: int


@registry.dialog("remind_when")
def when_typed(ctx: Context, text: str, dialog: WhenDialog) -> list[Reply]:
    opportunity = open_opportunity(ctx, str(dialog.get("opportunity")), for_action=False)
    reply = add_custom(ctx, _parse(ctx, text), opportunity=opportunity)
    ctx.clear_state(DIALOG)
    return [reply]


@registry.action(actions.REMIND_CANCEL, roles=STUDENTS)
def remind_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    # The question stays in the chat after the time typed set the reminder: its Cancel must
    # not then say there is none.
    since = shown_at(args[1]) if len(args) == 2 else None
    if since is not None:
        made = ctx.session.scalar(
            select(Reminder)
            .where(
                Reminder.person_id == ctx.person.id,
                Reminder.opportunity_id == parse_id(args[0]),
                Reminder.kind == ReminderKind.CUSTOM,
                Reminder.status == ReminderStatus.PENDING,
                Reminder.created_at >= since,
            )
            .order_by(Reminder.id.desc())
            .limit(1)
        )
        if made is not None:
            return [
                Reply(
                    _(
                        "That reminder is already set for {moment}. To cancel it, send /reminders.",
                        moment=fmt_moment(made.due_at, ctx.person, ctx.now),
                    ),
                    ((Button(_("My reminders"), actions.MY_REMINDERS.payload()),),),
                    replace=True,
                )
            ]
    return [Reply(_("OK, no reminder."), replace=True)]


def _parse(ctx: Context, text: str) -> datetime:
    try:
        due = parse_when(text, ctx.now, ctx.person.zone)
    except WhenError as error:
        raise UserError(str(error)) from None
    if due <= ctx.now:
        raise UserError(
            _(
                "{moment} has already passed. Please pick a time ahead, like tomorrow 5pm or "
                "in 3 days.",
                moment=fmt_moment(due, ctx.person, ctx.now),
            )
        )
    if due > ctx.now + HORIZON:
        raise UserError(_("I can remind you up to a year ahead. Please pick an earlier time."))
    return due


# Long because its refusals and its answer are each one whole sentence to translate.
def add_custom(
    ctx: Context, due: datetime, *, opportunity: Opportunity | None = None, note: str = ""
) -> Reply:
    """A reminder the student asked for; one in quiet hours moves to when they end."""
    if len(note) > MAX_NOTE:
        raise UserError(_("Please keep the reminder under {n} characters.", n=MAX_NOTE))
    person = ctx.person
    pending = ctx.session.scalars(
        select(Reminder.id).where(
            Reminder.person_id == person.id,
            Reminder.kind == ReminderKind.CUSTOM,
            Reminder.status == ReminderStatus.PENDING,
        )
    ).all()
    if len(pending) >= MAX_PENDING_CUSTOM:
        raise UserError(
            _n(
                "You have {n} reminder waiting already. Cancel some with /reminders first.",
                "You have {n} reminders waiting already. Cancel some with /reminders first.",
                len(pending),
            )
        )
    asked = due
    due = ctx.timing.quiet.release(due, person.zone)
    key = reminder_key(
        ReminderKind.CUSTOM, person.id, opportunity.id if opportunity else None, due, note
    )
    text = headline(opportunity) if opportunity is not None else note
    existing = ctx.session.scalar(select(Reminder).where(Reminder.key == key))
    if existing is not None and existing.status == ReminderStatus.PENDING:
        raise UserError(
            _(
                "You already have that reminder for {moment}. See them all with /reminders.",
                moment=fmt_moment(due, person, ctx.now),
            )
        )
    if existing is not None:
        existing.status = ReminderStatus.PENDING
        existing.text = text
    else:
        ctx.session.add(
            Reminder(
                person_id=person.id,
                opportunity_id=opportunity.id if opportunity else None,
                kind=ReminderKind.CUSTOM,
                text=text,
                due_at=due,
                status=ReminderStatus.PENDING,
                key=key,
                created_at=ctx.now,
            )
        )
    ctx.session.flush()
    when = fmt_moment(due, person, ctx.now)
    if due != asked:
        quiet = ctx.timing.quiet
        message = _(
            "{asked} is in quiet hours ({start}–{end}), when I send nothing, "
            "so I'll remind you on {moment}.",
            asked=fmt_moment(asked, person, ctx.now),
            start=quiet.start.strftime("%H:%M"),
            end=quiet.end.strftime("%H:%M"),
            moment=when,
        )
    else:
        message = _("I'll remind you on {moment}.", moment=when)
    return Reply(message, ((Button(_("My reminders"), actions.MY_REMINDERS.payload()),),))


@registry.command("reminders", roles=STUDENTS, help=N_("my reminders; cancel one"))
def reminders(ctx: Context, args: str) -> list[Reply]:
    return [reminder_list(ctx, replace=False)]


@registry.action(actions.MY_REMINDERS, roles=STUDENTS)
def reminders_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [reminder_list(ctx, replace=False)]


@registry.action(actions.REMINDER_CANCEL, roles=STUDENTS)
def cancel_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    reminder = ctx.session.get(Reminder, parse_id(args[0] if args else None))
    if reminder is None or reminder.person_id != ctx.person.id:
        raise UserError(_("I can't find that reminder. Send /reminders to see yours."))
    if reminder.status != ReminderStatus.PENDING:
        raise UserError(_("That reminder has already gone out or was cancelled. See /reminders."))
    reminder.status = ReminderStatus.CANCELLED
    ctx.session.flush()
    note = _(
        "Cancelled the reminder for {moment}.",
        moment=fmt_moment(reminder.due_at, ctx.person, ctx.now),
    )
    return [reminder_list(ctx, replace=True, note=note)]


def waiting_reminders(ctx: Context) -> list[Reminder]:
    """The person's reminders still to go out, soonest first."""
    return list(
        ctx.session.scalars(
            select(Reminder)
            .where(Reminder.person_id == ctx.person.id, Reminder.status == ReminderStatus.PENDING)
            .order_by(Reminder.due_at, Reminder.id)
        )
    )


def reminder_list(ctx: Context, *, replace: bool, note: str = "") -> Reply:
    rows = waiting_reminders(ctx)
    prefix = f"{note}\n\n" if note else ""
    if not rows:
        return Reply(
            prefix
            + _(
                "You have no reminders waiting. Save an opportunity and I'll remind you "
                "before its deadline, or ask me with /remind."
            ),
            replace=replace,
        )
    lines = [prefix + _("Your reminders:")]
    buttons = []
    for n, reminder in enumerate(rows[:LIST_LIMIT], start=1):
        when = fmt_moment(reminder.due_at, ctx.person, ctx.now)
        lines.append(f"{n}. {when}: {clip(reminder.text, 90)}")
        label = _("Cancel {number}", number=n)
        buttons.append(Button(label, actions.REMINDER_CANCEL.payload(reminder.id)))
    if len(rows) > LIST_LIMIT:
        more = len(rows) - LIST_LIMIT
        lines.append(_n("…and {n} more later.", "…and {n} more later.", more))
    rows_of_buttons = tuple(tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4))
    return Reply("\n".join(lines), rows_of_buttons, replace=replace)
