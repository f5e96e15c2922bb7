"""The weekly digest: opt in, a chosen day, only what is new and matching, once a week."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Timing
from handlers.messaging.digest import send_digests
from storage.db import make_engine, make_session_factory, transaction
from storage.models import (
    Account,
    OpportunityStatus,
    OutboxMessage,
    Person,
    PersonTag,
    Role,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import Chat, add_opportunity, add_school, onboard, person_id, row_counts

TIMING = Timing()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def digests(factory: sessionmaker[Session]) -> list[tuple[str, list[list[list[str]]] | None]]:
    with factory() as session:
        return [
            (m.text, m.buttons)
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "digest")
                .order_by(OutboxMessage.id)
            )
        ]


def person(factory: sessionmaker[Session], chat: Chat) -> Person:
    with factory() as session:
        found = session.get(Person, person_id(factory, chat))
        assert found is not None
        return found


def _ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    add_school(session_factory, clock.now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat, tags=("Technology & IT",))  # London
    return chat


@pytest.fixture
def ada(snapshot: Snapshot) -> Chat:
    return snapshot(_ada)


def send(factory: sessionmaker[Session], clock: FakeClock) -> int:
    return send_digests(factory, clock.now, TIMING)


def test_the_digest_is_off_until_a_day_is_chosen(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    ada.send("/digest")
    assert ada.text.startswith("The weekly digest is off. It lists new opportunities in your")
    assert [b.label for b in ada.buttons] == [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "✓ Off"
    ]  # fmt: skip
    clock.now = utc(2026, 11, 27, 16, 0)
    assert send(session_factory, clock) == 0


def test_a_weekly_digest_of_new_matching_opportunities(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(
        session_factory, clock.now - timedelta(days=1), title="Old news", tags=("technology",)
    )
    ada.send("/digest")
    ada.press("Fri")
    assert ada.replies[0].replace is True
    assert ada.text == (
        "Done: every Friday at 16:00 I'll send you what's new in your fields, if anything is. "
        "Send /digest to change the day or turn it off."
    )
    assert person(session_factory, ada).digest_next_at == utc(2026, 11, 27, 16, 0)
    clock.advance(hours=1)
    robot = add_opportunity(
        session_factory,
        clock.now,
        title="Robot builder",
        tags=("technology", "engineering"),
        deadline=date(2026, 12, 10),
    )
    add_opportunity(session_factory, clock.now, title="Care assistant", tags=("health",))
    add_opportunity(
        session_factory,
        clock.now,
        title="Closed already",
        tags=("technology",),
        status=OpportunityStatus.CLOSED,
    )
    add_opportunity(
        session_factory, clock.now, title="Adults only", tags=("technology",), min_age=18
    )

    clock.now = utc(2026, 11, 27, 15, 59)
    assert send(session_factory, clock) == 0
    clock.advance(minutes=1)
    assert send(session_factory, clock) == 1
    assert send(session_factory, clock) == 0
    assert digests(session_factory) == [
        (
            "Your weekly digest: 1 new opportunity in your fields since last time.\n\n"
            "1. Robot builder — Acme Ltd\n"
            "   Apply by 10 Dec 2026 (in 13 days)",
            [
                [["1", f"opp:{robot}"]],
                [["Pause a week", "ps:7"], ["Pause a month", "ps:30"]],
                [["Pause until I resume", "ps:on"], ["Stop the digest", "dg:stop"]],
            ],
        )
    ]

    # A week with nothing new: nothing is sent, and the next week is still on.
    clock.now = utc(2026, 12, 4, 16, 0)
    assert send(session_factory, clock) == 0
    assert person(session_factory, ada).digest_next_at == utc(2026, 12, 11, 16, 0)
    clock.now = utc(2026, 12, 5, 10, 0)
    add_opportunity(session_factory, clock.now, title="Data intern", tags=("technology",))
    clock.now = utc(2026, 12, 11, 16, 5)
    assert send(session_factory, clock) == 1
    assert "1. Data intern — Acme Ltd\n   No deadline" in digests(session_factory)[-1][0]


def test_stopping_the_digest(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/digest friday")
    assert ada.text.startswith("Done: every Friday at 16:00")
    ada.press_payload("dg:stop")
    assert ada.replies[0].replace is False
    assert ada.text == "The weekly digest is off. Send /digest to turn it on again."
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    clock.now = utc(2026, 11, 27, 16, 0)
    assert send(session_factory, clock) == 0
    ada.send("/digest off")
    assert "The weekly digest is off." in ada.text


def test_a_digest_missed_by_more_than_a_day_waits_for_the_next_week(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/digest fri")
    clock.advance(hours=1)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    clock.now = utc(2026, 11, 28, 16, 1)  # the bot was down from Friday to Saturday evening
    assert send(session_factory, clock) == 0
    assert person(session_factory, ada).digest_next_at == utc(2026, 12, 4, 16, 0)
    clock.now = utc(2026, 12, 4, 16, 0)
    assert send(session_factory, clock) == 1
    assert "Robot builder" in digests(session_factory)[0][0]


def test_the_digest_comes_at_four_in_the_afternoon_local_time(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    chat = Chat(core, "lee", name="Lee")
    onboard(chat, tags=(), zone="Los Angeles")
    chat.send("/digest tuesday")
    # 16:00 on Tuesday in Los Angeles (PST) is 00:00 UTC on Wednesday.
    assert person(session_factory, chat).digest_next_at == utc(2026, 11, 25, 0, 0)
    clock.advance(hours=1)
    add_opportunity(session_factory, clock.now, title="Care assistant", tags=("health",))
    clock.now = utc(2026, 11, 25, 0, 0)
    assert send(session_factory, clock) == 1
    # No fields chosen: everything new counts.
    assert digests(session_factory)[0][0].startswith(
        "Your weekly digest: 1 new opportunity since last time."
    )


def test_bad_digest_days_are_refused(ada: Chat, session_factory: sessionmaker[Session]) -> None:
    before = row_counts(session_factory)
    for text in ("/digest someday", "/digest fr"):
        ada.send(text)
        assert ada.text == "Which day? Send /digest friday, say, or /digest off."
    ada.press_payload("dg:9")
    assert "doesn't work any more" in ada.text
    assert row_counts(session_factory) == before


def test_two_workers_send_each_digest_once(
    db_url: str, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; SQLite supports one process")
    slot = utc(2026, 11, 27, 16, 0)
    with transaction(session_factory) as session:
        ids = session.scalars(
            insert(Person).returning(Person.id),
            [
                {
                    "name": f"Student {n}",
                    "role": Role.STUDENT,
                    "digest_day": 4,
                    "digest_next_at": slot,
                    "digest_since": clock.now,
                    "created_at": clock.now,
                }
                for n in range(60)
            ],
        ).all()
        session.execute(insert(PersonTag), [{"person_id": i, "tag": "technology"} for i in ids])
        session.execute(
            insert(Account),
            [
                {
                    "person_id": i,
                    "platform": "telegram",
                    "external_id": str(i),
                    "chat_id": str(i),
                    "last_seen_at": clock.now,
                    "created_at": clock.now,
                }
                for i in ids
            ],
        )
    add_opportunity(session_factory, clock.now + timedelta(hours=1), tags=("technology",))
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            sent.append(send_digests(make_session_factory(engine), slot, TIMING, batch=7))
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 60
    assert len(digests(session_factory)) == 60


def test_a_paused_digest_skips_its_weeks_and_resumes(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/digest friday")
    clock.advance(hours=1)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    ada.press_payload("ps:on")
    assert ada.text.startswith("Paused: no alerts or digest until you resume.")
    clock.now = utc(2026, 11, 27, 16, 0)
    assert send(session_factory, clock) == 0
    clock.now = utc(2026, 12, 1, 12, 0)
    ada.press_payload("ps:off")
    assert ada.text == "Welcome back: alerts and the digest are on again."
    # What came while paused is still new at the next digest.
    clock.now = utc(2026, 12, 4, 16, 0)
    assert send(session_factory, clock) == 1
    assert "1. Robot builder" in digests(session_factory)[-1][0]
