"""Quiet hours: nothing reaches a student at night unless it is urgent."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import EVERYONE, Context, Core, Registry, Reply
from storage.db import transaction
from storage.models import Account, OutboxMessage, Person, Role
from storage.outbox import QuietHours, enqueue
from tests.conftest import FakeClock
from tests.helpers import Chat

LONDON = ZoneInfo("Europe/London")
LA = ZoneInfo("America/Los_Angeles")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "zone", "released"),
    [
        (utc(2026, 11, 24, 20, 59), LONDON, utc(2026, 11, 24, 20, 59)),
        (utc(2026, 11, 24, 21, 0), LONDON, utc(2026, 11, 25, 8, 0)),
        (utc(2026, 11, 24, 23, 59), LONDON, utc(2026, 11, 25, 8, 0)),
        (utc(2026, 11, 25, 0, 0), LONDON, utc(2026, 11, 25, 8, 0)),
        (utc(2026, 11, 25, 7, 59), LONDON, utc(2026, 11, 25, 8, 0)),
        (utc(2026, 11, 25, 8, 0), LONDON, utc(2026, 11, 25, 8, 0)),
        # 06:00 UTC is 22:00 in Los Angeles: 08:00 there (PST) is 16:00 UTC.
        (utc(2026, 11, 25, 6, 0), LA, utc(2026, 11, 25, 16, 0)),
        # The night the clocks go forward in London: 08:00 BST is 07:00 UTC.
        (utc(2027, 3, 27, 22, 0), LONDON, utc(2027, 3, 28, 7, 0)),
        # ... and back: 08:00 GMT is 08:00 UTC.
        (utc(2026, 10, 24, 21, 0), LONDON, utc(2026, 10, 25, 8, 0)),
    ],
)
def test_release_is_the_end_of_the_window(
    when: datetime, zone: ZoneInfo, released: datetime
) -> None:
    assert QuietHours().release(when, zone) == released


def test_a_window_within_one_day_and_no_window() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert lunch.release(utc(2026, 11, 24, 12, 15), LONDON) == utc(2026, 11, 24, 13, 30)
    assert lunch.release(utc(2026, 11, 24, 13, 30), LONDON) == utc(2026, 11, 24, 13, 30)
    never = QuietHours(time(0, 0), time(0, 0))
    assert never.release(utc(2026, 11, 24, 3, 0), LONDON) == utc(2026, 11, 24, 3, 0)


def _core(factory: sessionmaker[Session], clock: FakeClock) -> Core:
    """A core whose /tell command notifies everyone else, urgently if asked."""
    registry = Registry()

    @registry.command("tell", roles=EVERYONE, help="tell the others")
    def tell(ctx: Context, args: str) -> list[Reply]:
        others = ctx.session.scalars(select(Person).where(Person.id != ctx.person.id)).all()
        for n, person in enumerate(others):
            ctx.notify(person, args, kind="test", key=f"{args}:{n}", urgent=args == "urgent")
        return [Reply("told")]

    return Core(factory, registry, clock=clock)


def test_notify_waits_for_a_students_morning_unless_urgent(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    core = _core(session_factory, clock)
    for user in ("student", "employer", "teacher"):
        Chat(core, user).send("/help")
    with transaction(session_factory) as session:
        for account in session.scalars(select(Account)):
            account.person.role = Role(account.external_id)
            account.person.timezone = "Europe/London"
    clock.now = utc(2026, 11, 24, 22, 30)
    Chat(core, "teacher").send("/tell news")
    Chat(core, "teacher").send("/tell urgent")
    with session_factory() as session:
        rows = session.execute(
            select(Account.external_id, OutboxMessage.text, OutboxMessage.next_attempt_at)
            .join(Account, Account.id == OutboxMessage.account_id)
            .order_by(OutboxMessage.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("student", "news", utc(2026, 11, 25, 8, 0)),
        ("employer", "news", utc(2026, 11, 24, 22, 30)),
        ("student", "urgent", utc(2026, 11, 24, 22, 30)),
        ("employer", "urgent", utc(2026, 11, 24, 22, 30)),
    ]


def test_enqueue_not_before_a_time_and_outside_quiet_hours(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    core = _core(session_factory, clock)
    Chat(core, "student").send("/help")
    later = utc(2026, 11, 24, 18, 0)
    night = utc(2026, 11, 24, 23, 0)
    with transaction(session_factory) as session:
        person = session.scalars(select(Person)).one()
        quiet = QuietHours()
        assert enqueue(session, person, "a", kind="t", key="a", now=clock.now, not_before=later)
        assert enqueue(session, person, "b", kind="t", key="b", now=later, not_before=clock.now)
        assert enqueue(
            session, person, "c", kind="t", key="c", now=clock.now, not_before=night, quiet=quiet
        )
        assert not enqueue(session, person, "again", kind="t", key="c", now=clock.now)
    with session_factory() as session:
        times = session.scalars(select(OutboxMessage.next_attempt_at).order_by(OutboxMessage.id))
        assert list(times) == [later, later, utc(2026, 11, 25, 8, 0)]
