"""Inbound throughput: Telegram updates handled per second, end to end, by one process.

Onboarded students send /browse to the real webhook endpoint (python-telegram-bot's webhook
server with the secret token check), the core answers from the database, and the replies go to
the fake Bot API on 127.0.0.1. The figure is updates answered per second.

    .venv/bin/python -m bench.inbound [--updates 2000] [--students 500] [--database-url URL]

Also prints the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select

from bot.app import build
from bot.config import Settings
from bot.core import utcnow
from bot.telegram import TelegramAdapter
from storage.db import transaction
from storage.demo import seed
from storage.models import Account, Cohort, Person, Role
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:BENCH"
SECRET = "bench-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(url: str, updates: int, students: int) -> None:
    port = _free_port()
    async with FakeTelegram() as fake:
        settings = Settings(
            database_url=url,
            telegram_token=TOKEN,
            telegram_api_url=fake.base_url.removesuffix("/bot"),
            telegram_mode="webhook",
            telegram_webhook_url=f"http://127.0.0.1:{port}/telegram",
            telegram_webhook_listen="127.0.0.1",
            telegram_webhook_port=port,
            telegram_webhook_secret=SECRET,
        )
        app = build(settings)
        now = utcnow()
        with transaction(app.session_factory) as session:
            seed(session, now)
            cohort = session.scalars(select(Cohort)).first()
            assert cohort is not None
            session.execute(
                insert(Person),
                [
                    {
                        "name": f"Student {n}",
                        "role": Role.STUDENT,
                        "cohort_id": cohort.id,
                        "grade": 11,
                        "under_18": True,
                        "onboarded_at": now,
                        "created_at": now,
                    }
                    for n in range(students)
                ],
            )
            ids = session.scalars(
                select(Person.id).where(Person.role == Role.STUDENT).order_by(Person.id)
            ).all()
            session.execute(
                insert(Account),
                [
                    {
                        "person_id": pid,
                        "platform": "telegram",
                        "external_id": str(pid),
                        "chat_id": str(pid),
                        "display_name": "",
                        "last_seen_at": now,
                        "created_at": now,
                    }
                    for pid in ids
                ],
            )
        adapter = TelegramAdapter(app.core, settings)
        await adapter.start()
        bodies = [
            fake.message_update(ids[n % len(ids)], "/browse", chat_id=ids[n % len(ids)])
            for n in range(updates)
        ]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        webhook = f"http://127.0.0.1:{port}/telegram"
        limit = asyncio.Semaphore(40)  # Telegram's default max_connections for a webhook

        async def post(http: aiohttp.ClientSession, body: dict[str, object]) -> None:
            async with limit, http.post(webhook, json=body, headers=headers) as response:
                assert response.status == 200, response.status

        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(post(http, body) for body in bodies))
        while len(fake.sent()) < updates:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await adapter.stop()
        app.engine.dispose()
    answered = len(fake.sent())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"database:            {app.engine.dialect.name}")
    print(f"updates:             {updates} from {students} students (/browse)")
    print(f"answered:            {answered}")
    print(f"time:                {elapsed:.1f} s")
    print(f"updates per second:  {updates / elapsed:.1f}")
    print(f"peak memory (RSS):   {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(url, args.updates, args.students))


if __name__ == "__main__":
    main()
