"""Drive the core as a person would, and build the records that tests need."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Attachment, Button, Core, Incoming, Reply
from handlers.people.invites import create_invite
from storage.models import (
    Account,
    Base,
    Cohort,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    OutboxMessage,
    Person,
    Role,
    School,
)

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."

_events = itertools.count(1)


class Chat:
    """One person's chat with the core: send text, press buttons by their label."""

    def __init__(
        self,
        core: Core,
        user: str,
        *,
        platform: str = "console",
        name: str = "",
        language: str | None = None,
    ) -> None:
        self.core = core
        self.user = user
        self.platform = platform
        self.name = name or user.title()
        # The platform's language code (Telegram's language_code, Slack's locale).
        self.language = language
        self.replies: list[Reply] = []

    def _incoming(self, **kwargs: str | Attachment | None) -> Incoming:
        return Incoming(
            platform=self.platform,
            user_id=self.user,
            chat_id=f"chat-{self.user}",
            display_name=self.name,
            language=self.language,
            event_id=f"evt-{next(_events)}",
            **kwargs,  # type: ignore[arg-type]
        )

    def send(self, text: str) -> list[Reply]:
        self.replies = self.core.handle(self._incoming(text=text))
        return self.replies

    def send_file(self, filename: str, content: bytes, mime: str = "text/csv") -> list[Reply]:
        self.replies = self.core.handle(self._incoming(file=Attachment(filename, content, mime)))
        return self.replies

    def press_payload(self, payload: str) -> list[Reply]:
        self.replies = self.core.handle(self._incoming(payload=payload))
        return self.replies

    @property
    def buttons(self) -> list[Button]:
        return [b for reply in self.replies for row in reply.buttons for b in row]

    def button(self, label: str) -> Button:
        matches = [b for b in self.buttons if label in b.label]
        assert matches, f"no button like {label!r} in {[b.label for b in self.buttons]}"
        return matches[0]

    def press(self, label: str) -> list[Reply]:
        return self.press_payload(self.button(label).payload)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)


def add_school(
    session_factory: sessionmaker[Session],
    now: datetime,
    *,
    school: str = "Riverside High",
    cohort: str = "Year 11",
    code: str = "RIVER-11",
) -> int:
    with session_factory.begin() as session:
        row = Cohort(
            name=cohort,
            join_code=code,
            created_at=now,
            school=School(name=school, created_at=now),
        )
        session.add(row)
        session.flush()
        return row.id


def add_opportunity(
    session_factory: sessionmaker[Session],
    now: datetime,
    *,
    title: str = "Software intern",
    organisation: str = "Acme Ltd",
    kind: OpportunityKind = OpportunityKind.INTERNSHIP,
    status: OpportunityStatus = OpportunityStatus.OPEN,
    deadline: date | None = None,
    tags: tuple[str, ...] = (),
    **fields: object,
) -> int:
    with session_factory.begin() as session:
        org = session.query(Organisation).filter_by(name=organisation).one_or_none()
        if org is None:
            org = Organisation(name=organisation, created_at=now)
        row = Opportunity(
            organisation=org,
            kind=kind,
            title=title,
            status=status,
            deadline=deadline,
            published_at=now,
            created_at=now,
            updated_at=now,
            tags=[OpportunityTag(tag=t) for t in tags],
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


def onboard(
    chat: Chat,
    *,
    code: str = "RIVER-11",
    grade: str = "11",
    under_18: bool = True,
    under_16: bool = False,
    tags: tuple[str, ...] = ("Technology & IT",),
    zone: str = "London",
    family: str | None = None,
    place: str | None = None,
) -> None:
    """Take ``chat`` through /start with the given answers.

    The first name is the first word of the chat's name, the family name the rest of it (or
    the initial of the user id, for a one-word name) unless ``family`` says otherwise. The
    place question is skipped unless ``place`` is given.
    """
    first, _, rest = chat.name.partition(" ")
    chat.send("/start")
    chat.send(first)
    chat.send(family or rest or chat.user[0])
    chat.send(code)
    chat.send(grade)
    chat.press("No" if not under_18 else "under 16" if under_16 else "16 or 17")
    for tag in tags:
        chat.press(tag)
    chat.press("Done" if tags else "Skip")
    chat.press(zone)
    if place is None:
        chat.press("Skip")
    else:
        chat.send(place)
    assert "Welcome" in chat.text, chat.text


def make_employer(
    session_factory: sessionmaker[Session], now: datetime, chat: Chat, organisation: str
) -> None:
    """Turn ``chat``'s person into a member of ``organisation`` (as an invite code would)."""
    chat.send("/help")
    with session_factory.begin() as session:
        account = session.query(Account).filter_by(external_id=chat.user).one()
        org = session.query(Organisation).filter_by(name=organisation).one()
        person: Person = account.person
        person.role = Role.EMPLOYER
        person.organisation_id = org.id
        person.name = chat.name
        person.onboarded_at = now


def join_with_invite(
    session_factory: sessionmaker[Session],
    now: datetime,
    chat: Chat,
    role: Role,
    organisation: str | None = None,
) -> str:
    """Create an invite code for ``role`` (as the CLI would) and have ``chat`` /join with it."""
    with session_factory.begin() as session:
        org = None
        if organisation is not None:
            org = session.scalar(select(Organisation).where(Organisation.name == organisation))
            if org is None:
                org = Organisation(name=organisation, created_at=now)
        code = create_invite(session, role, now=now, organisation=org).code
    chat.send(f"/join {code}")
    assert "You're now set up as" in chat.text, chat.text
    return code


def person_id(session_factory: sessionmaker[Session], chat: Chat) -> int | None:
    """The id of the person behind ``chat``'s account, or None if there is none."""
    with session_factory() as session:
        return session.scalar(
            select(Account.person_id).where(
                Account.platform == chat.platform, Account.external_id == chat.user
            )
        )


def row_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per table: compare before and after to show that nothing changed."""
    with session_factory() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def inbox(
    session_factory: sessionmaker[Session], chat: Chat, kind: str | None = None
) -> list[tuple[str, list[Button]]]:
    """(text, buttons) of the messages queued for ``chat``'s account, oldest first."""
    with session_factory() as session:
        query = (
            select(OutboxMessage.text, OutboxMessage.buttons)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(Account.platform == chat.platform, Account.external_id == chat.user)
            .order_by(OutboxMessage.id)
        )
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return [
            (text, [Button(label, payload) for row in rows or [] for label, payload in row])
            for text, rows in session.execute(query)
        ]


def last_message(
    session_factory: sessionmaker[Session], chat: Chat, kind: str | None = None
) -> tuple[str, list[Button]]:
    messages = inbox(session_factory, chat, kind)
    assert messages, f"nothing queued for {chat.user}"
    return messages[-1]
