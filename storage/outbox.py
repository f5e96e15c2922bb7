"""Writing to the outbox: messages for other people, sent later by ``bot.delivery``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Account, OutboxMessage, Person


def preferred_account(session: Session, person: Person) -> Account | None:
    """The account the person used most recently and that can still be reached."""
    return session.scalars(
        select(Account)
        .where(Account.person_id == person.id, Account.unreachable_at.is_(None))
        .order_by(Account.last_seen_at.desc(), Account.id.desc())
        .limit(1)
    ).first()


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
) -> bool:
    """Queue ``text`` for ``person`` unless a message with this ``key`` was already queued.

    Returns whether a row was written. A person with no reachable account gets nothing: the
    caller's own records (an interest, a reminder) still hold the truth.
    """
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
        return False
    account = preferred_account(session, person)
    if account is None:
        return False
    try:
        with session.begin_nested():
            session.add(
                OutboxMessage(
                    account_id=account.id,
                    kind=kind,
                    text=text,
                    buttons=buttons,
                    about_person_id=about.id if about is not None else None,
                    idempotency_key=key,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        # Another transaction queued the same key between our check and our insert.
        return False
    return True
