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

With ``--processes N`` (PostgreSQL only: SQLite has one writer and supports one process),
the same updates go to real ``oppbot run`` processes instead, first to one and then to N
of them on N ports, each chat's updates always to the same process (as a load balancer
hashing on the chat would send them, so one chat's updates stay in order); it prints both
figures and their ratio. The fake Bot API and the senders of the updates stay in this
process.

    .venv/bin/python -m bench.inbound --processes 2 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import sys
import tempfile
import time
from asyncio.subprocess import Process
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import build
from bot.config import Settings
from bot.core import utcnow
from bot.telegram import TelegramAdapter
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.demo import seed
from storage.models import (
    Account,
    Cohort,
    ConversationState,
    Person,
    ProcessedEvent,
    Role,
)
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:BENCH"
SECRET = "bench-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _webhook(port: int) -> str:
    return f"http://127.0.0.1:{port}/telegram"


def _request(webhook: str, body: dict[str, object]) -> tuple[tuple[str, int], bytes]:
    """The whole HTTP request that posts ``body`` to ``webhook``, and where it goes."""
    url = urlsplit(webhook)
    assert url.hostname is not None and url.port is not None
    data = json.dumps(body).encode()
    head = (
        f"POST {url.path} HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
        "\r\n"
    )
    return (url.hostname, url.port), head.encode() + data


async def _post_all(requests: list[tuple[tuple[str, int], bytes]]) -> None:
    """Each request (``_request``) in order, 40 at a time, over keep-alive connections.

    This stands in for Telegram, whose servers are other machines: it runs beside the
    processes measured and takes CPU from them, so it does as little as a client can. The
    requests are encoded beforehand, and written and answered as bytes (a client library
    costs several times the CPU per request).
    """
    pending = iter(requests)
    idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def sender() -> None:
        # Each sender takes the next request when its last one is answered, so 40 are in
        # flight: Telegram's default max_connections for a webhook.
        for address, request in pending:
            free = idle.setdefault(address, [])
            reader, writer = free.pop() if free else await asyncio.open_connection(*address)
            writer.write(request)
            status, reusable = await _response(reader)
            assert status == 200, status
            if reusable:
                free.append((reader, writer))
            else:
                writer.close()

    try:
        await asyncio.gather(*(sender() for _ in range(40)))
    finally:
        for connections in idle.values():
            for _reader, writer in connections:
                writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; its status, and whether the connection may be used again."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    # The webhook servers answer with a length (no chunks): a body of a few bytes at most.
    assert "chunked" not in headers.get("transfer-encoding", ""), headers
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(head[0].split()[1]), headers.get("connection") != "close"


async def _answered(fake: FakeTelegram, count: int) -> None:
    """Wait until the fake has accepted ``count`` sendMessage calls in all."""
    # Each look goes through the calls that finished since the last one, not through every
    # call recorded (which took up to 5% of the CPU of the process under test).
    accepted = done = 0
    while True:
        calls = fake.calls
        while done < len(calls) and calls[done].status is not None:
            call = calls[done]
            accepted += call.method == "sendMessage" and call.accepted
            done += 1
        if accepted >= count:
            return
        await asyncio.sleep(0.05)


class Rate(NamedTuple):
    per_second: float
    cpu_ms: float  # this process's CPU time per update


async def baseline(updates: int, chats: int) -> Rate:
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
            requests = [_request(_webhook(port), body) for body in bodies]
            started, cpu = time.perf_counter(), time.process_time()
            await _post_all(requests)
            await _answered(fake, updates)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            await application.updater.stop()
            await application.stop()
    return Rate(updates / elapsed, cpu * 1000 / updates)


def _students(factory: sessionmaker[Session], students: int) -> list[int]:
    """The demo data and ``students`` onboarded students on Telegram; their chat ids."""
    now = utcnow()
    with transaction(factory) as session:
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
                    # Students who have talked to the bot before: their chats have the
                    # default menu, and the account says so (a new one is reset once).
                    "menu": "",
                }
                for pid in ids
            ],
        )
    return list(ids)


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
        ids = _students(app.session_factory, students)
        adapter = TelegramAdapter(app.core, settings)
        await adapter.start()
        bodies = [
            fake.message_update(ids[n % len(ids)], "/browse", chat_id=ids[n % len(ids)])
            for n in range(updates)
        ]
        requests = [_request(_webhook(port), body) for body in bodies]
        started, cpu = time.perf_counter(), time.process_time()
        await _post_all(requests)
        await _answered(fake, updates)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
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
    print(
        f"bare PTB baseline:   {bare.per_second:.1f} updates per second (same updates, same fake)"
    )
    print(f"oppbot / baseline:   {updates / elapsed / bare.per_second:.0%}")
    # CPU time of this process (all threads, the fake included) per update: on a busy machine
    # it moves much less than the rates, which depend on the share of the cores this got.
    print(f"CPU per update:      {cpu * 1000 / updates:.1f} ms (baseline {bare.cpu_ms:.1f} ms)")
    print(f"peak memory (RSS):   {peak_mb:.0f} MB")


async def _ready(http: aiohttp.ClientSession, port: int, process: Process) -> None:
    """Wait until the process's /readyz says yes (the adapter has started)."""
    while True:
        if process.returncode is not None:
            raise SystemExit(f"oppbot run exited with {process.returncode}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)


class Served(NamedTuple):
    per_second: float
    oppbot_cpu_ms: float  # CPU per update of the oppbot processes together
    oppbot_wait_ms: float  # their time per update runnable but waiting for a core
    database_cpu_ms: float  # of the PostgreSQL server processes serving them
    driver_cpu_ms: float  # of this process: the fake Bot API and the webhook's client


async def _served(
    fake: FakeTelegram, engine: Engine, chats: list[int], updates: int, count: int
) -> Served:
    """Updates per second answered by ``count`` ``oppbot run`` processes, each on its own
    port, every chat's updates to one of them."""
    ports = [_free_port() for _ in range(count)]
    started_with = len(fake.sent())
    processes = []
    for port in ports:
        env = {
            **os.environ,
            "OPPBOT_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "OPPBOT_TELEGRAM_TOKEN": TOKEN,
            "OPPBOT_TELEGRAM_API_URL": fake.base_url.removesuffix("/bot"),
            "OPPBOT_TELEGRAM_MODE": "webhook",
            "OPPBOT_TELEGRAM_WEBHOOK_URL": _webhook(port),
            "OPPBOT_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "OPPBOT_TELEGRAM_WEBHOOK_PORT": str(port),
            "OPPBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "OPPBOT_LOG_LEVEL": "WARNING",
        }
        processes.append(
            await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", env=env)
        )
    try:
        async with aiohttp.ClientSession() as http:
            for port, process in zip(ports, processes, strict=True):
                await _ready(http, port, process)
        posts = []
        for n in range(updates):
            chat = chats[n % len(chats)]
            body = fake.message_update(chat, "/browse", chat_id=chat)
            posts.append(_request(_webhook(ports[chat % count]), body))
        backends_before = _backends_cpu(engine)
        started, cpu = time.perf_counter(), time.process_time()
        their_cpu = sum(_cpu_seconds(p.pid) for p in processes)
        their_wait = sum(_waiting_seconds(p.pid) for p in processes)
        await _post_all(posts)
        await _answered(fake, started_with + updates)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        their_cpu = sum(_cpu_seconds(p.pid) for p in processes) - their_cpu
        their_wait = sum(_waiting_seconds(p.pid) for p in processes) - their_wait
        backends = _backends_cpu(engine)
        database_cpu = sum(t - backends_before.get(pid, 0.0) for pid, t in backends.items())
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
    return Served(
        updates / elapsed,
        their_cpu * 1000 / updates,
        their_wait * 1000 / updates,
        database_cpu * 1000 / updates,
        cpu * 1000 / updates,
    )


def _backends_cpu(engine: Engine) -> dict[int, float]:
    """CPU time so far of each PostgreSQL server process serving this database (on this
    machine: the benchmark's database is on 127.0.0.1). One that ends within the measured
    window (a connection the pool closed) is gone at its end, and is not counted."""
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            found[pid] = _cpu_seconds(pid)
    return found


def _waiting_seconds(pid: int) -> float:
    """How long the threads of a process have been runnable but waiting for a core (the
    scheduler's run-queue time): on a machine shared with other work, the time it lost."""
    waited = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError):  # a thread gone meanwhile
            waited += int(stat.read_text().split()[1])
    return waited / 1e9


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def several(url: str, updates: int, students: int, count: int) -> None:
    """One ``oppbot run`` process against ``count`` of them, on the same data."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        raise SystemExit("several processes need PostgreSQL: SQLite supports one process")
    upgrade(engine)
    factory = make_session_factory(engine)
    chats = _students(factory, students)
    async with FakeTelegram() as fake:
        one = await _served(fake, engine, chats, updates, 1)
        # Both runs start from the same state: no browse state, no handled event ids, and
        # students whose language is not known yet (each one's first update records it).
        with transaction(factory) as session:
            session.execute(delete(ConversationState))
            session.execute(delete(ProcessedEvent))
            session.execute(update(Person).values(language=None))
        many = await _served(fake, engine, chats, updates, count)
    engine.dispose()
    print(f"database:            {engine.dialect.name}")
    print(f"updates:             {updates} from {students} students (/browse), each run")
    for label, served in (("one process", one), (f"{count} processes", many)):
        print(
            f"{label + ':':<21}{served.per_second:.1f} updates per second; CPU per update: "
            f"oppbot {served.oppbot_cpu_ms:.1f} ms, PostgreSQL {served.database_cpu_ms:.1f} ms, "
            f"fake and client {served.driver_cpu_ms:.1f} ms; oppbot waiting for a core "
            f"{served.oppbot_wait_ms:.1f} ms"
        )
    print(f"{count} processes / one:   {many.per_second / one.per_second:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--processes",
        type=int,
        help="compare one oppbot run process with this many (PostgreSQL only)",
    )
    args = parser.parse_args()
    if args.processes is not None:
        if args.database_url is None:
            parser.error("--processes needs --database-url (an empty PostgreSQL database)")
        asyncio.run(several(args.database_url, args.updates, args.students, args.processes))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(url, args.updates, args.students))


if __name__ == "__main__":
    main()
