"""Reminder benchmark: 10,000 reminders due in the same minute, moved to the outbox by workers.

    .venv/bin/python -m bench.reminders [--reminders 10000] [--database-url URL] [--workers N]

With a PostgreSQL URL, two worker processes (by default) race over the same due reminders,
as two `oppbot run` processes would; on SQLite (the default, a new file) one worker does it,
since SQLite supports one process. Prints the seconds until every reminder is in the outbox,
rows per second, and how many were duplicated (must be 0).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.core import Timing, utcnow
from handlers.messaging import Queued, queue_due_reminders
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import (
    Account,
    OutboxMessage,
    Person,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
)


def _populate(url: str, count: int, run: str, due: datetime) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        ids = session.scalars(
            insert(Person).returning(Person.id),
            [
                {"name": f"Student {n}", "role": Role.STUDENT, "created_at": due}
                for n in range(count)
            ],
        ).all()
        session.execute(
            insert(Account),
            [
                {
                    "person_id": pid,
                    "platform": "telegram",
                    "external_id": f"{run}-{n}",
                    "chat_id": f"{run}-{n}",
                    "display_name": "",
                    "last_seen_at": due,
                    "created_at": due,
                }
                for n, pid in enumerate(ids)
            ],
        )
        session.execute(
            insert(Reminder),
            [
                {
                    "person_id": pid,
                    "kind": ReminderKind.CUSTOM,
                    "text": f"Hand in the application form ({n})",
                    # Every second of the same minute.
                    "due_at": due + timedelta(seconds=n % 60),
                    "status": ReminderStatus.PENDING,
                    "key": f"bench-{run}:{n}",
                    "created_at": due - timedelta(days=1),
                }
                for n, pid in enumerate(ids)
            ],
        )
    engine.dispose()


def _worker(url: str, now: datetime, batch: int, start: Barrier, results: Queue[Queued]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with engine.connect():
        pass  # connect before the start line, so the timing is the queueing alone
    start.wait()
    try:
        results.put(queue_due_reminders(factory, now, Timing(), batch=batch))
    finally:
        engine.dispose()


def _count(url: str, run: str) -> tuple[int, int, int]:
    """Outbox rows of this run, distinct reminder keys among them, reminders still pending."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        mine = OutboxMessage.idempotency_key.like(f"bench-{run}:%")
        rows = session.scalar(select(func.count()).where(mine)) or 0
        keys = session.scalar(
            select(func.count(OutboxMessage.idempotency_key.distinct())).where(mine)
        )
        pending = session.scalar(
            select(func.count()).where(
                Reminder.key.like(f"bench-{run}:%"), Reminder.status == ReminderStatus.PENDING
            )
        )
    engine.dispose()
    return rows, keys or 0, pending or 0


def _run(url: str, count: int, workers: int, batch: int) -> None:
    run = uuid.uuid4().hex[:8]
    due = utcnow().replace(second=0, microsecond=0)
    _populate(url, count, run, due)
    now = due + timedelta(minutes=1)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers + 1, timeout=120)
    queue: Queue[Queued] = context.Queue()
    processes = [
        context.Process(target=_worker, args=(url, now, batch, start, queue))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    results = [queue.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    rows, keys, left = _count(url, run)
    queued = sum(r.queued for r in results)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"reminders due in one minute: {count}")
    print(f"workers:                     {workers} ({backend}, batches of {batch})")
    print(f"queued per worker:           {', '.join(str(r.queued) for r in results)}")
    print(f"seconds until all queued:    {elapsed:.2f}")
    print(f"rows per second:             {rows / elapsed:,.0f}")
    print(f"in the outbox:               {rows}")
    # Counted twice by the workers, or in the outbox twice: both must be zero.
    print(f"duplicated:                  {(queued - keys) + (rows - keys)}")
    print(f"missed or still pending:     {sum(r.missed for r in results) + left}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--database-url", help="a database to use (default: a new SQLite file)")
    parser.add_argument("--workers", type=int, help="default: 2 on PostgreSQL, 1 on SQLite")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        workers = args.workers or (2 if url.startswith("postgresql") else 1)
        _run(url, args.reminders, workers, args.batch)


if __name__ == "__main__":
    main()
