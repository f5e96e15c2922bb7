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
figures and their ratio. The Bot API (``bench.botapi``, a stub that takes less CPU than the
tests' fake) and the senders of the updates stay in this process. Each process is warmed up
first (``--warm-up`` updates each, from other students, not timed): a service's throughput
is that of a process that has been running, not of one whose connections, caches and plans
are still new. The two runs alternate ``--rounds`` times, on a machine left to settle before
each, and the ratio printed is the median of the rounds' ratios (on a virtual machine, the
share of the cores a run gets moves from one minute to the next).

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
import statistics
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

from bench.botapi import BotApiStub
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
    driver_cpu_ms: float  # of this process: the Bot API stub and the webhook's client
    idle: float  # the machine's share of its cores' time left idle in the window
    stolen: float  # and the share the hypervisor gave to other machines


async def _served(
    fake: FakeTelegram,
    api: BotApiStub,
    engine: Engine,
    chats: list[int],
    warm: list[int],
    warm_up: int,
    count: int,
) -> Served:
    """Updates per second answered by ``count`` ``oppbot run`` processes, each on its own
    port, every chat's updates to one of them, after ``warm_up`` updates each from the
    students ``warm``."""
    ports = [_free_port() for _ in range(count)]
    processes = []
    for port in ports:
        env = {
            **os.environ,
            "OPPBOT_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "OPPBOT_TELEGRAM_TOKEN": TOKEN,
            "OPPBOT_TELEGRAM_API_URL": api.base_url.removesuffix("/bot"),
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

    def posts(students: list[int], updates: int) -> list[tuple[tuple[str, int], bytes]]:
        posted = []
        for n in range(updates):
            chat = students[n % len(students)]
            body = fake.message_update(chat, "/browse", chat_id=chat)
            posted.append(_request(_webhook(ports[chat % count]), body))
        return posted

    try:
        async with aiohttp.ClientSession() as http:
            for port, process in zip(ports, processes, strict=True):
                await _ready(http, port, process)
        # Counted before posting: the first answers come before the last update is posted.
        started_with = api.sent + warm_up * count
        await _post_all(posts(warm, warm_up * count))
        await api.until_sent(started_with)
        timed = posts(chats, len(chats))
        backends_before = _backends_cpu(engine)
        machine = _machine()
        started, cpu = time.perf_counter(), time.process_time()
        their_cpu = sum(_cpu_seconds(p.pid) for p in processes)
        their_wait = sum(_waiting_seconds(p.pid) for p in processes)
        await _post_all(timed)
        await api.until_sent(started_with + len(timed))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        their_cpu = sum(_cpu_seconds(p.pid) for p in processes) - their_cpu
        their_wait = sum(_waiting_seconds(p.pid) for p in processes) - their_wait
        machine = _machine() - machine
        backends = _backends_cpu(engine)
        database_cpu = sum(t - backends_before.get(pid, 0.0) for pid, t in backends.items())
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
    updates = len(timed)
    return Served(
        updates / elapsed,
        their_cpu * 1000 / updates,
        their_wait * 1000 / updates,
        database_cpu * 1000 / updates,
        cpu * 1000 / updates,
        machine.idle / machine.total,
        machine.stolen / machine.total,
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


class Machine(NamedTuple):
    """The CPU time of all the machine's cores so far, in clock ticks (``/proc/stat``)."""

    busy: int
    idle: int  # waiting for I/O included
    stolen: int  # taken by the hypervisor for other virtual machines

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.stolen

    def __sub__(self, earlier: tuple[int, ...]) -> Machine:
        return Machine(*(now - then for now, then in zip(self, earlier, strict=True)))


def _machine() -> Machine:
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, line.split()[1:9])
    return Machine(user + nice + system + irq + softirq, idle + iowait, steal)


async def _settled(most: float = 20.0) -> None:
    """Wait (at most ``most`` seconds) until the machine has been nine tenths idle for a
    second: what the last run left behind (processes ending, the server's writes) is over."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        before = _machine()
        await asyncio.sleep(1.0)
        spent = _machine() - before
        if spent.idle >= 0.9 * spent.total:
            return


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


def _reset(engine: Engine, factory: sessionmaker[Session]) -> None:
    """Every run starts from the same state: no browse state, no handled event ids, and
    students whose language is not known yet (each one's first update records it); the
    tables vacuumed and analysed, so that no autovacuum starts within a timed window."""
    with transaction(factory) as session:
        session.execute(delete(ConversationState))
        session.execute(delete(ProcessedEvent))
        session.execute(update(Person).values(language=None))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))


async def several(
    url: str, updates: int, students: int, count: int, rounds: int, warm_up: int
) -> None:
    """One ``oppbot run`` process against ``count`` of them, on the same data, ``rounds``
    times."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        raise SystemExit("several processes need PostgreSQL: SQLite supports one process")
    upgrade(engine)
    factory = make_session_factory(engine)
    # The warm-up's students are others than the timed ones, who all start new in each run.
    everyone = _students(factory, students + warm_up * count)
    chats, warm = everyone[:students], everyone[students:]
    timed = [chats[n % len(chats)] for n in range(updates)]
    runs: list[tuple[Served, Served]] = []
    # The fake makes the updates; the processes send their answers to the stub.
    fake = FakeTelegram()
    async with BotApiStub() as api:
        for _round in range(rounds):
            pair = []
            for processes in (1, count):
                _reset(engine, factory)
                await _settled()
                pair.append(await _served(fake, api, engine, timed, warm, warm_up, processes))
            runs.append((pair[0], pair[1]))
    engine.dispose()
    print(f"database:            {engine.dialect.name}")
    print(
        f"updates:             {updates} from {students} students (/browse), each run, after "
        f"{warm_up} from others to each process (not timed)"
    )
    ratios = []
    for number, (one, many) in enumerate(runs, 1):
        ratios.append(many.per_second / one.per_second)
        print(f"round {number}: {many.per_second / one.per_second:.2f}x")
        for label, served in (("one process", one), (f"{count} processes", many)):
            print(
                f"  {label + ':':<19}{served.per_second:.1f} updates per second; CPU per "
                f"update: oppbot {served.oppbot_cpu_ms:.1f} ms, PostgreSQL "
                f"{served.database_cpu_ms:.1f} ms, Bot API and client {served.driver_cpu_ms:.1f} "
                f"ms; oppbot waiting for a core {served.oppbot_wait_ms:.1f} ms; the machine's "
                f"cores {served.idle:.0%} idle, {served.stolen:.0%} stolen"
            )
    print(f"{count} processes / one:   {statistics.median(ratios):.2f}x (median of {rounds})")


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
    parser.add_argument(
        "--rounds", type=int, default=5, help="with --processes: how many times to compare"
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=200,
        help="with --processes: updates to each process before the timed ones",
    )
    args = parser.parse_args()
    if args.processes is not None:
        if args.database_url is None:
            parser.error("--processes needs --database-url (an empty PostgreSQL database)")
        asyncio.run(
            several(
                args.database_url,
                args.updates,
                args.students,
                args.processes,
                args.rounds,
                args.warm_up,
            )
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(url, args.updates, args.students))


if __name__ == "__main__":
    main()
