"""Inbound throughput: Telegram updates handled per second, end to end, by one process.

Onboarded students send /browse to the real webhook endpoint (the adapter's webhook server
with the secret token check), the core answers from the database, and the replies go to the
fake Bot API on 127.0.0.1. The figure is updates answered per second.

In the same run, the same updates go to a bare python-telegram-bot application (its own
webhook server, one handler that answers every update with one message, updates of
different chats concurrent): the framework's own ceiling on this machine. Both figures are
printed, and oppbot's as a share of the baseline.

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
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

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


async def _post_all(port: int, bodies: list[dict[str, object]]) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    webhook = f"http://127.0.0.1:{port}/telegram"
    limit = asyncio.Semaphore(40)  # Telegram's default max_connections for a webhook

    async def post(http: aiohttp.ClientSession, body: dict[str, object]) -> None:
        async with limit, http.post(webhook, json=body, headers=headers) as response:
            assert response.status == 200, response.status

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(post(http, body) for body in bodies))


async def _answered(fake: FakeTelegram, count: int) -> None:
    while len(fake.sent()) < count:
        await asyncio.sleep(0.01)


async def baseline(updates: int, chats: int) -> float:
    """Updates per second of a bare python-telegram-bot webhook app that answers each one."""
    port = _free_port()
    async with FakeTelegram() as fake:
        application = (
            ApplicationBuilder().token(TOKEN).base_url(fake.base_url).concurrent_updates(16).build()
        )

        async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_chat is not None
            await context.bot.send_message(update.effective_chat.id, "Here are the listings.")

        application.add_handler(TypeHandler(Update, answer))
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="telegram",
                webhook_url=f"http://127.0.0.1:{port}/telegram",
                secret_token=SECRET,
            )
            bodies = [
                fake.message_update(1000 + n % chats, "/browse", chat_id=1000 + n % chats)
                for n in range(updates)
            ]
            started = time.perf_counter()
            await _post_all(port, bodies)
            await _answered(fake, updates)
            elapsed = time.perf_counter() - started
            await application.updater.stop()
            await application.stop()
    return updates / elapsed


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
        started = time.perf_counter()
        await _post_all(port, bodies)
        await _answered(fake, updates)
        elapsed = time.perf_counter() - started
        await adapter.stop()
        app.engine.dispose()
    answered = len(fake.sent())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bare = await baseline(updates, students)
    print(f"database:            {app.engine.dialect.name}")
    print(f"updates:             {updates} from {students} students (/browse)")
    print(f"answered:            {answered}")
    print(f"time:                {elapsed:.1f} s")
    print(f"updates per second:  {updates / elapsed:.1f}")
    print(f"bare PTB baseline:   {bare:.1f} updates per second (same updates, same fake)")
    print(f"oppbot / baseline:   {updates / elapsed / bare:.0%}")
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
