"""Which PostgreSQL commits wait for the disk: everything but what the next update rewrites."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from storage import durability
from storage.db import make_engine, transaction
from storage.durability import writes
from storage.models import Account, Alert, ConversationState, OutboxMessage, Person, ProcessedEvent
from tests.conftest import FakeClock
from tests.helpers import Chat, add_school, onboard


def _sql(statement: Any) -> str:
    """The SQL SQLAlchemy sends PostgreSQL for ``statement`` (psycopg's placeholders)."""
    return str(statement.compile(dialect=postgresql.dialect(paramstyle="pyformat")))


NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statement", "written"),
    [
        (select(Person.id).where(Person.id == 1), None),
        (select(Person.id).with_for_update(skip_locked=True), None),
        (
            insert(ProcessedEvent).values(platform="telegram", event_id="1", processed_at=NOW),
            "soft",
        ),
        (insert(ConversationState).values(person_id=1, key="browse", data={}), "soft"),
        (update(ConversationState).values(data={}).where(ConversationState.person_id == 1), "soft"),
        (update(Account).values(chat_id="5", last_seen_at=NOW, unreachable_at=None), "soft"),
        (
            update(Person).values(language="pl").where(Person.id == 1, Person.language.is_(None)),
            "soft",
        ),
        (update(Person).values(language="pl").where(Person.id == 1), "lasting"),  # a choice
        # What else the same tables hold lasts: a name, a grade, a new account.
        (update(Account).values(display_name="Ana"), "lasting"),
        (update(Person).values(language="pl", grade=12), "lasting"),
        (update(Person).values(language=select(Person.language).scalar_subquery()), "lasting"),
        (insert(Account).values(person_id=1, platform="telegram", external_id="1"), "lasting"),
        (insert(Person).values(name="Ana"), "lasting"),
        # Every other table lasts.
        (insert(OutboxMessage).values(account_id=1, kind="reply", text="hi"), "lasting"),
        (insert(Alert).values(person_id=1, words="python"), "lasting"),
    ],
)
def test_what_sqlalchemy_sends_is_read_as_soft_or_lasting(statement: Any, written: str) -> None:
    assert writes(_sql(statement)) == written


@pytest.mark.parametrize(
    ("sql", "written"),
    [
        ("SELECT 1", None),
        ("  select * from people", None),
        ("SAVEPOINT sa_savepoint_1", None),
        ("RELEASE SAVEPOINT sa_savepoint_1", None),
        ("WITH x AS (SELECT id FROM people) SELECT * FROM x FOR UPDATE", None),
        ("WITH x AS (UPDATE people SET grade=12 RETURNING id) SELECT * FROM x", "lasting"),
        ("SELECT * INTO copy FROM people", "lasting"),
        ("DELETE FROM conversation_state WHERE person_id = 1", "soft"),
        ("DELETE FROM interests WHERE id = 1", "lasting"),
        ("DELETE FROM accounts WHERE id = 1", "lasting"),
        ("TRUNCATE processed_events", "lasting"),
        ("CREATE TABLE t (id int)", "lasting"),
        ("VACUUM", "lasting"),
        ("", "lasting"),
    ],
)
def test_any_statement_not_recognised_lasts(sql: str, written: str | None) -> None:
    assert writes(sql) == written


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per commit sent without waiting for the disk."""
    sent: list[None] = []
    real = durability.commit_soon

    def counted(dbapi_connection: Any) -> None:
        sent.append(None)
        real(dbapi_connection)

    monkeypatch.setattr(durability, "commit_soon", counted)
    return sent


def _postgresql(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's commits are made durable by the core itself (SYNC_LATER)")


def test_only_a_soft_transaction_commits_without_waiting(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session], commits: list[None]
) -> None:
    _postgresql(db_url)
    with transaction(session_factory) as session:
        session.execute(select(Person.id))
    assert commits == []  # nothing written: nothing to wait for anyway
    with transaction(session_factory) as session:
        session.add(ProcessedEvent(platform="telegram", event_id="1", processed_at=NOW))
    assert len(commits) == 1
    with transaction(session_factory) as session:
        session.add(ProcessedEvent(platform="telegram", event_id="2", processed_at=NOW))
        session.add(Person(name="Ana", created_at=NOW))
    assert len(commits) == 1  # with something lasting, the whole transaction waits

    # Committed all the same, seen from another connection, and the pool's connection serves
    # the next transaction.
    other = make_engine(db_url)
    try:
        with other.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(ProcessedEvent)) == 2
    finally:
        other.dispose()
    with transaction(session_factory) as session:
        assert session.scalar(text("SHOW synchronous_commit")) == "on"


def test_one_connection_commits_softly_again_and_again(db_url: str, commits: list[None]) -> None:
    """The same two statements on one connection, more often than psycopg takes to prepare a
    statement it sees again (five times): two commands in one are never prepared."""
    _postgresql(db_url)
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    try:
        for n in range(12):
            with engine.begin() as conn:
                conn.execute(
                    insert(ProcessedEvent).values(
                        platform="telegram", event_id=str(n), processed_at=NOW
                    )
                )
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(ProcessedEvent)) == 12
    finally:
        engine.dispose()
    assert len(commits) == 12


def test_a_rolled_back_soft_transaction_leaves_nothing_for_the_next(
    db_url: str, session_factory: sessionmaker[Session], commits: list[None]
) -> None:
    _postgresql(db_url)
    with pytest.raises(RuntimeError), transaction(session_factory) as session:
        session.add(ProcessedEvent(platform="telegram", event_id="1", processed_at=NOW))
        session.flush()
        raise RuntimeError
    with transaction(session_factory) as session:
        session.add(Person(name="Ana", created_at=NOW))
    assert commits == []


def test_browsing_commits_without_waiting_and_an_alert_waits(
    db_url: str,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    commits: list[None],
) -> None:
    _postgresql(db_url)
    add_school(session_factory, clock.now)
    chat = Chat(core, "ana", platform="telegram")
    onboard(chat)
    commits.clear()
    chat.send("/browse")
    assert len(commits) == 1
    chat.send("/alert python")
    assert len(commits) == 1
    # A language the person chose lasts; one the platform reports only fills in the unknown.
    chat.send("/language pl")
    assert len(commits) == 1
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
