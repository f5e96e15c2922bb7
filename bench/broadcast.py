"""Broadcast benchmark: one announcement to N Telegram students, queued by the announcement
code and sent by the real sender.

The fake Bot API server on 127.0.0.1 enforces Telegram's limits (429 when more than 30
messages arrive in a second, or more than 1 per chat per second), so the figures say how close
the sender gets to the ceiling without being told off.

    .venv/bin/python -m bench.broadcast [--students 10000] [--database-url URL]

Prints messages per second, the ratio to Telegram's 30/s ceiling, the 429s received and
whether every student got the message exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import func, insert, select
from telegram import Bot

from bot.core import utcnow
from bot.delivery import OutboxSender, Pacing
from bot.telegram import TelegramTransport
from handlers.messaging import send
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import (
    Account,
    Announcement,
    Cohort,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    School,
)
from tests.fakes.telegram import FakeTelegram

TELEGRAM_CEILING = 30.0
TOKEN = "123456:BENCH"


def _populate(url: str, students: int) -> float:
    """A school of ``students`` on Telegram and one announcement to all of them, queued by the
    announcement code itself; returns how long queueing took."""
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with transaction(make_session_factory(engine)) as session:
        school = School(name="Bench High", created_at=now)
        cohort = Cohort(school=school, name="Year 11", join_code="BENCH-11", created_at=now)
        session.add(cohort)
        session.flush()
        session.execute(
            insert(Person),
            [
                {
                    "name": f"Student {n}",
                    "role": Role.STUDENT,
                    "cohort_id": cohort.id,
                    "created_at": now,
                }
                for n in range(students)
            ],
        )
        ids = session.scalars(select(Person.id).order_by(Person.id)).all()
        session.execute(
            insert(Account),
            [
                {
                    "person_id": pid,
                    "platform": "telegram",
                    "external_id": str(10_000 + n),
                    "chat_id": str(10_000 + n),
                    "display_name": "",
                    "last_seen_at": now,
                    "created_at": now,
                }
                for n, pid in enumerate(ids)
            ],
        )
        announcement = Announcement(
            school_id=school.id,
            text="Careers fair on Friday in the main hall: bring a CV! <3 & see you",
            audience={"type": "school"},
            created_at=now,
        )
        session.add(announcement)
        session.flush()
        started = time.perf_counter()
        # No quiet hours: the figure should not depend on the hour the benchmark runs at.
        send(session, announcement, now, None)
    queued = time.perf_counter() - started
    engine.dispose()
    return queued


def _serve_fake(conn: Connection) -> None:
    """The fake Bot API in its own process, as the real Telegram is: its clock and event loop
    are not disturbed by the sender's, so what it counts is what a remote server would see."""

    async def serve() -> None:
        async with FakeTelegram() as fake:
            fake.enforce_limits(per_second=TELEGRAM_CEILING, per_chat_per_second=1)
            conn.send(fake.base_url)
            await asyncio.to_thread(conn.recv)  # the benchmark says it is done
            per_chat = Counter(int(call.params["chat_id"]) for call in fake.sent())
            conn.send((dict(per_chat), fake.rate_limited))

    asyncio.run(serve())


async def _send_all(url: str, base_url: str) -> float:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    async with Bot(TOKEN, base_url=base_url) as bot:
        sender = OutboxSender(factory, TelegramTransport(bot), pacing=Pacing(), clock=utcnow)
        started = time.perf_counter()
        await sender.drain()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _broadcast(url: str, students: int, queued: float) -> None:
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve_fake, args=(theirs,), daemon=True)
    server.start()
    base_url = ours.recv()
    elapsed = asyncio.run(_send_all(url, base_url))
    ours.send("done")
    per_chat, rate_limited = ours.recv()
    server.join()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        sent = session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT))
    engine.dispose()
    delivered = sum(per_chat.values())
    rate = delivered / elapsed
    exactly_once = len(per_chat) == students and set(per_chat.values()) == {1}
    print(f"students:              {students}")
    print(f"queued (announcement): {queued:.2f} s")
    print(f"time:                  {elapsed:.1f} s")
    print(f"messages per second:   {rate:.2f}")
    print(f"ratio to 30/s ceiling: {rate / TELEGRAM_CEILING:.1%}")
    print(f"429s received:         {rate_limited}")
    print(f"marked sent:           {sent}")
    print(f"exactly once:          {'yes' if exactly_once else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        queued = _populate(url, args.students)
        _broadcast(url, args.students, queued)


if __name__ == "__main__":
    main()
