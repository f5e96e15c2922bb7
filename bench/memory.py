"""Memory: peak resident set size of a real ``oppbot run`` process with the full data set.

The database gets the 6,000 real listings and 10,000 students (as in ``bench.latency``); then
``oppbot run`` starts in webhook mode against the fake Bot API, 2,000 students send /browse,
and the process's peak RSS (VmHWM) is read from /proc before it is stopped with SIGTERM.

    .venv/bin/python -m bench.memory --listings FILE [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bench.inbound import SECRET, TOKEN, _free_port
from bench.latency import add_listings_argument, listings_file, populate
from storage.db import make_engine, make_session_factory, upgrade
from storage.models import Account
from tests.fakes.telegram import FakeTelegram

UPDATES = 2000


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


async def run(url: str, listings: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    populate(factory, listings, 10_000, platform="telegram")
    with factory() as session:
        users = session.scalars(select(Account.external_id).limit(UPDATES)).all()
    engine.dispose()
    port = _free_port()
    async with FakeTelegram() as fake:
        env = {
            **os.environ,
            "OPPBOT_DATABASE_URL": url,
            "OPPBOT_TELEGRAM_TOKEN": TOKEN,
            "OPPBOT_TELEGRAM_API_URL": fake.base_url.removesuffix("/bot"),
            "OPPBOT_TELEGRAM_MODE": "webhook",
            "OPPBOT_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "OPPBOT_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "OPPBOT_TELEGRAM_WEBHOOK_PORT": str(port),
            "OPPBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "OPPBOT_LOG_LEVEL": "WARNING",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env
        )
        while fake.webhook_url is None:
            await asyncio.sleep(0.05)
        idle_mb = _peak_rss_mb(process.pid)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        limit = asyncio.Semaphore(40)

        async def post(http: aiohttp.ClientSession, user: str) -> None:
            body = fake.message_update(int(user), "/browse", chat_id=int(user))
            async with limit, http.post(fake.webhook_url or "", json=body, headers=headers):
                pass

        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(post(http, user) for user in users))
        while len(fake.sent()) < len(users):
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        peak_mb = _peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        code = await process.wait()
    print(f"database:               {make_engine(url).dialect.name}")
    print("data:                   5998 listings, 10000 students")
    print(f"oppbot run, started:    {idle_mb:.0f} MB peak RSS")
    print(f"after {len(users)} /browse:   {peak_mb:.0f} MB peak RSS ({elapsed:.1f} s)")
    print(f"stopped on SIGTERM:     exit code {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    add_listings_argument(parser)
    args = parser.parse_args()
    listings = listings_file(args.listings, "bench.memory")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(url, listings))


if __name__ == "__main__":
    main()
