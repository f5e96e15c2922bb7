"""Writing to the outbox: messages for other people, sent later by ``bot.delivery``."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Interval,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from storage.db import insert_new
from storage.models import Account, OutboxMessage, OutboxStatus, Person, UTCDateTime


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which nothing is sent to a student; what falls in them waits.

    The window may wrap midnight (21:00 to 08:00, the default); ``start == end`` means none.
    """

    start: time = time(21, 0)
    end: time = time(8, 0)

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def contains(self, local: time) -> bool:
        if not self.enabled:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, when: datetime, zone: ZoneInfo) -> datetime:
        """``when`` itself, or (if it falls in quiet hours in ``zone``) the end of that window."""
        local = when.astimezone(zone)
        if not self.contains(local.time()):
            return when
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)


def preferred_account(session: Session, person: Person) -> Account | None:
    """The account the person used most recently and that can still be reached."""
    return preferred_accounts(session, [person.id]).get(person.id)


def preferred_accounts(session: Session, person_ids: Iterable[int]) -> dict[int, Account]:
    """``preferred_account`` for many people at once, by person id."""
    chosen: dict[int, Account] = {}
    for account in session.scalars(
        select(Account)
        .where(Account.person_id.in_(set(person_ids)), Account.unreachable_at.is_(None))
        .order_by(Account.last_seen_at.desc(), Account.id.desc())
    ):
        chosen.setdefault(account.person_id, account)
    return chosen


@dataclass(frozen=True)
class Outgoing:
    """One message to queue: see ``enqueue`` for the meaning of each field."""

    person: Person
    text: str
    kind: str
    key: str
    buttons: list[list[list[str]]] | None = None
    about: Person | None = None
    not_before: datetime | None = None
    thread_of: str | None = None


@dataclass(frozen=True)
class MessageRef:
    """Where a platform put a sent message: Slack's channel and ts, Telegram's chat and
    message id."""

    chat: str
    message: str


# Set in ``session.info`` once the session has queued a message: whoever commits it knows
# whether the senders have anything new to look at.
QUEUED = "oppbot_queued"


def enqueue(
    session: Session,
    person: Person,
    text: str,
    *,
    kind: str,
    key: str,
    now: datetime,
    buttons: list[list[list[str]]] | None = None,
    about: Person | None = None,
    not_before: datetime | None = None,
    quiet: QuietHours | None = None,
    thread_of: str | None = None,
) -> bool:
    """Queue ``text`` for ``person`` unless a message with this ``key`` was already queued.

    It goes out at ``now``, or at ``not_before`` if later, and never in the ``quiet`` hours of
    the person's time zone (None: send whatever the hour, as for urgent announcements).
    Returns whether a row was written. A person with no reachable account gets nothing: the
    caller's own records (an interest, a reminder) still hold the truth.

    With ``thread_of`` (the key of an earlier row) it waits until that row is sent and goes in
    its thread (Slack) or as a reply to it (Telegram); if that row was never sent, or went to
    another account, it goes out on its own.
    """
    message = Outgoing(person, text, kind, key, buttons, about, not_before, thread_of)
    return bool(enqueue_many(session, [message], now=now, quiet=quiet))


def enqueue_many(
    session: Session,
    messages: Sequence[Outgoing],
    *,
    now: datetime,
    quiet: QuietHours | None = None,
) -> set[str]:
    """``enqueue`` for many messages in a few statements; returns the keys of the rows written.

    A key already in the outbox, even one a concurrent transaction is writing, is skipped.
    """
    accounts = preferred_accounts(session, [m.person.id for m in messages])
    rows = []
    for message in messages:
        account = accounts.get(message.person.id)
        if account is None:
            continue
        send_at = max(now, message.not_before) if message.not_before is not None else now
        if quiet is not None:
            send_at = quiet.release(send_at, message.person.zone)
        rows.append(
            {
                "account_id": account.id,
                "kind": message.kind,
                "text": message.text,
                "buttons": message.buttons,
                "about_person_id": message.about.id if message.about is not None else None,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "idempotency_key": message.key,
                "next_attempt_at": send_at,
                "created_at": now,
                "thread_of": message.thread_of,
            }
        )
    written = {
        str(key)
        for key in insert_new(session, OutboxMessage.__table__, rows, unique="idempotency_key")
    }
    if written:
        session.info[QUEUED] = True
    return written


def enqueue_edit(
    session: Session,
    edits: str,
    text: str,
    *,
    kind: str,
    key: str,
    now: datetime,
    buttons: list[list[list[str]]] | None = None,
    keep_buttons: bool = False,
    about: Person | None = None,
) -> bool:
    """Queue a rewrite of the message of the row keyed ``edits``, unless ``key`` was queued.

    The message gets ``text`` and ``buttons`` (None: none), or with ``keep_buttons`` the ones
    it shows now. The edit goes where that message went, as soon as that row and every
    earlier edit of it are no longer pending (edits land in order), whatever the hour: an
    edit makes no sound. If the message was never sent the edit is given up (failed), and a
    repeated edit changes nothing. Returns whether a row was written: none when there is no
    row ``edits`` or it already failed.
    """
    target = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == edits))
    if target is None or target.status not in (OutboxStatus.PENDING, OutboxStatus.SENT):
        return False
    if target.status == OutboxStatus.SENT and target.sent_message_id is None:
        return False  # shown, but where is not known (see ``record_reply``)
    if keep_buttons:
        # What the message shows once the edits before this one have landed.
        latest = session.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.edits == edits,
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENT)),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        buttons = (latest or target).buttons
    row = {
        "account_id": target.account_id,
        "kind": kind,
        "text": text,
        "buttons": buttons or None,
        "about_person_id": about.id if about is not None else None,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "idempotency_key": key,
        "next_attempt_at": now,
        "created_at": now,
        "edits": edits,
    }
    return bool(insert_new(session, OutboxMessage.__table__, [row], unique="idempotency_key"))


def record_reply(
    session: Session,
    account_id: int,
    key: str,
    text: str,
    buttons: list[list[list[str]]] | None,
    now: datetime,
) -> None:
    """Keep a reply the person is being shown as a sent row keyed ``key``, so that a later
    row can edit it once the adapter says where it went (``place_reply``)."""
    row = {
        "account_id": account_id,
        "kind": "reply",
        "text": text,
        "buttons": buttons or None,
        "status": OutboxStatus.SENT,
        "attempts": 1,
        "idempotency_key": key,
        "next_attempt_at": now,
        "created_at": now,
        "sent_at": now,
    }
    insert_new(session, OutboxMessage.__table__, [row], unique="idempotency_key")


def place_reply(session: Session, key: str, ref: MessageRef) -> None:
    """Where the reply kept as ``key`` was shown (its first place, if shown twice)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.idempotency_key == key, OutboxMessage.sent_message_id.is_(None))
        .values(sent_chat_id=ref.chat, sent_message_id=ref.message)
        .execution_options(synchronize_session=False)
    )


# Leases: a sender claims the rows it is about to send, for ``lease`` seconds, and sends a row
# only after renewing its claim. A claim is taken only when the row is free or its lease has
# run out, so no two senders (processes, or one that lost its lock and one that took over)
# hold one row at the same time.


def _lease_times(
    session: Session, lease: float
) -> tuple[ColumnElement[datetime], ColumnElement[datetime]]:
    """Now and now + ``lease`` on the lease clock.

    PostgreSQL's own clock, so that processes on machines whose clocks differ agree on when a
    lease runs out; SQLite serves one process, whose clock is the only one.
    """
    if session.get_bind().dialect.name == "postgresql":
        now: ColumnElement[datetime] = func.clock_timestamp(type_=UTCDateTime)
        return now, now + literal(timedelta(seconds=lease), Interval())
    local = datetime.now(UTC)
    return (
        literal(local, UTCDateTime),
        literal(local + timedelta(seconds=lease), UTCDateTime),
    )


class DueRow(NamedTuple):
    """A claimed row: who it goes to and what, and how (a new message, perhaps in a thread,
    or an edit)."""

    id: int
    account_id: int
    chat_id: str
    text: str
    buttons: list[list[list[str]]] | None
    attempts: int
    # The sent message whose thread this one goes in; None: a message of its own.
    thread: MessageRef | None = None
    # The key of the row whose message this one rewrites (None: a new message), and where
    # that message is (None: it was never sent, so there is nothing to edit).
    edits: str | None = None
    edited: MessageRef | None = None


def waiting_for_earlier() -> ColumnElement[bool]:
    """Whether a row must wait: the row whose thread it goes in or whose message it edits, or
    an earlier edit of that message, is still pending."""
    earlier = aliased(OutboxMessage)
    return exists().where(
        earlier.status == OutboxStatus.PENDING,
        or_(
            earlier.idempotency_key == OutboxMessage.thread_of,
            earlier.idempotency_key == OutboxMessage.edits,
            and_(earlier.edits == OutboxMessage.edits, earlier.id < OutboxMessage.id),
        ),
    )


def _ref(chat: str | None, message: str | None) -> MessageRef | None:
    return MessageRef(chat, message) if chat is not None and message is not None else None


# Long because the claim is one locking query whose conditions belong together.
def claim_due(
    session: Session,
    *,
    platform: str,
    owner: str,
    now: datetime,
    lease: float,
    limit: int,
    skip_ids: Collection[int] = (),
    skip_chats: Collection[str] = (),
) -> list[DueRow]:
    """Claim up to ``limit`` rows for ``platform`` that are due at ``now``, for ``owner``.

    A row is taken when nobody holds it, its lease ran out, or ``owner`` holds it already (a
    row claimed earlier but not sent yet; ``skip_ids`` are those being sent right now).
    A row that goes in another's thread or edits another's message waits until that one is
    no longer pending (see ``waiting_for_earlier``).
    Returns ``DueRow`` values in sending order.
    On PostgreSQL rows another transaction is claiming are skipped, not waited for.
    """
    lease_now, until = _lease_times(session, lease)
    candidates = (
        select(OutboxMessage.id)
        .join(Account, Account.id == OutboxMessage.account_id)
        .where(
            Account.platform == platform,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(
                OutboxMessage.claimed_by.is_(None),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.claim_expires_at <= lease_now,
            ),
            OutboxMessage.id.not_in(list(skip_ids)),
            Account.chat_id.not_in(list(skip_chats)),
            ~waiting_for_earlier(),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxMessage)
    )
    ids = list(
        session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(candidates))
            .values(claimed_by=owner, claim_expires_at=until)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not ids:
        return []
    parent, edited = aliased(OutboxMessage), aliased(OutboxMessage)
    sent = OutboxStatus.SENT
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.account_id,
            Account.chat_id,
            OutboxMessage.text,
            OutboxMessage.buttons,
            OutboxMessage.attempts,
            parent.sent_chat_id,
            parent.sent_message_id,
            OutboxMessage.edits,
            edited.sent_chat_id,
            edited.sent_message_id,
        )
        .join(Account, Account.id == OutboxMessage.account_id)
        # A thread only in the same chat: the person may have moved to another platform since.
        .outerjoin(
            parent,
            and_(
                parent.idempotency_key == OutboxMessage.thread_of,
                parent.account_id == OutboxMessage.account_id,
                parent.status == sent,
            ),
        )
        .outerjoin(
            edited, and_(edited.idempotency_key == OutboxMessage.edits, edited.status == sent)
        )
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    ).all()
    return [DueRow(*row[:6], _ref(row[6], row[7]), row[8], _ref(row[9], row[10])) for row in rows]


def renew_claim(session: Session, row_id: int, *, owner: str, lease: float) -> bool:
    """Whether ``owner`` still holds the pending row ``row_id``; if so its lease starts again."""
    lease_now, until = _lease_times(session, lease)
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.claimed_by == owner,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.claim_expires_at > lease_now,
        )
        .values(claim_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def release_claims(session: Session, *, owner: str, keep: Collection[int] = ()) -> int:
    """Give back the pending rows ``owner`` holds, except ``keep``; returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.claimed_by == owner,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.id.not_in(list(keep)),
        )
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount
