"""Each outbox message is sent once, also with several senders, a lost lock, a database outage
and a killed process: senders claim rows (a lease), and renew the claim before each send.

Several senders on one database need PostgreSQL (SQLite supports one process), so these tests
run there only. The senders are real (python-telegram-bot against the fake Bot API), and
duplicates are counted where they would show: at the fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot

from bot.core import utcnow
from bot.delivery import Buttons, OutboxSender, Pacing, Result, SenderLock
from bot.telegram import TelegramTransport
from storage.db import make_engine, make_session_factory
from storage.models import Account, OutboxMessage, OutboxStatus, Person, Role
from storage.outbox import MessageRef
from tests.fakes.telegram import FakeTelegram

MESSAGES = 1000
# Enough for the scenarios below to happen mid-broadcast, and quick on a busy machine.
SHORT = 400
FIRST_CHAT = 5000
TOKEN_A, TOKEN_B = "111:SENDER-A", "222:SENDER-B"
# No pacing worth the name: the fake enforces no limit here, and the tests stay quick.
FAST = Pacing(per_second=2000, per_chat_per_second=100)
LOCK_CHECK = 0.3

# A thousand messages through several senders and processes.
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _postgresql_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several senders need PostgreSQL; SQLite supports one process")


def _queue(factory: sessionmaker[Session], count: int = MESSAGES) -> None:
    """One message for each of ``count`` students, due long ago (for any process's clock)."""
    due = datetime(2020, 1, 1, tzinfo=UTC)
    with factory.begin() as session:
        accounts = []
        for n in range(count):
            chat = str(FIRST_CHAT + n)
            person = Person(name=f"S{n}", role=Role.STUDENT, created_at=due)
            accounts.append(
                Account(
                    person=person,
                    platform="telegram",
                    external_id=chat,
                    chat_id=chat,
                    last_seen_at=due,
                    created_at=due,
                )
            )
        session.add_all(accounts)
        session.flush()
        session.add_all(
            OutboxMessage(
                account_id=account.id,
                kind="announcement",
                text=f"Fair on Friday, {n}!",
                status=OutboxStatus.PENDING,
                attempts=0,
                idempotency_key=f"fair:{n}",
                next_attempt_at=due,
                created_at=due,
            )
            for n, account in enumerate(accounts)
        )


def _pending(factory: sessionmaker[Session], *, not_held_by: str | None = None) -> int:
    query = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
    if not_held_by is not None:
        query = query.where(
            OutboxMessage.claimed_by.is_(None) | (OutboxMessage.claimed_by != not_held_by)
        )
    with factory() as session:
        return int(session.scalar(query) or 0)


def _sent_once_each(
    fake: FakeTelegram, factory: sessionmaker[Session], count: int = MESSAGES
) -> Counter[int]:
    """Sends per chat beyond the first; asserts that nobody missed out."""
    per_chat = Counter(int(c.params["chat_id"]) for c in fake.sent())
    assert set(per_chat) == {FIRST_CHAT + n for n in range(count)}  # none lost
    with factory() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}
    return Counter({chat: count - 1 for chat, count in per_chat.items() if count > 1})


def _sent_by(fake: FakeTelegram, token: str) -> int:
    return sum(1 for c in fake.sent() if c.token == token)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for ``condition``; the timeout only bounds a broken test, nothing is timed."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _sender(
    engine: Engine, bot: Bot, *, locked: bool = True, poll_interval: float = 0.05
) -> OutboxSender:
    return OutboxSender(
        make_session_factory(engine),
        TelegramTransport(bot),
        clock=utcnow,
        lock=SenderLock(engine, "telegram") if locked else None,
        poll_interval=poll_interval,
        lock_check=LOCK_CHECK,
        pacing=FAST,
    )


@pytest.mark.parametrize("locked", [True, False], ids=["with-lock", "leases-alone"])
async def test_two_senders_send_each_of_a_thousand_messages_once(
    db_url: str, session_factory: sessionmaker[Session], locked: bool
) -> None:
    _queue(session_factory)
    engines = [make_engine(db_url) for _ in range(2)]
    stop = asyncio.Event()
    try:
        async with (
            FakeTelegram() as fake,
            Bot(TOKEN_A, base_url=fake.base_url) as bot_a,
            Bot(TOKEN_B, base_url=fake.base_url) as bot_b,
        ):
            senders = [
                _sender(engine, bot, locked=locked)
                for engine, bot in zip(engines, (bot_a, bot_b), strict=True)
            ]
            tasks = [asyncio.create_task(s.run(stop)) for s in senders]
            await _until(lambda: _pending(session_factory) == 0, "every message recorded sent")
            stop.set()
            await asyncio.gather(*tasks)
            assert _sent_once_each(fake, session_factory) == Counter()
    finally:
        for engine in engines:
            engine.dispose()


def _lock_holder(engine: Engine) -> int:
    """The server process id of the connection holding the Telegram sender's advisory lock.

    Only in this database: another run (a benchmark, a second checkout) may hold the same key in
    its own database.
    """
    key = SenderLock(engine, "telegram").key
    with engine.connect() as conn:
        pid = conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = 0 AND objid = :key AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": key},
        ).scalar_one()
    return int(pid)


async def test_a_sender_whose_lock_is_taken_away_stops_and_the_next_sends_the_rest(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    _queue(session_factory, SHORT)
    engine_a, engine_b = make_engine(db_url), make_engine(db_url)
    stop = asyncio.Event()
    try:
        async with (
            FakeTelegram() as fake,
            Bot(TOKEN_A, base_url=fake.base_url) as bot_a,
            Bot(TOKEN_B, base_url=fake.base_url) as bot_b,
        ):
            # A, once its lock is gone, leaves B the time to take over instead of racing it.
            first = _sender(engine_a, bot_a, poll_interval=30)
            running = [asyncio.create_task(first.run(stop))]
            await _until(lambda: _sent_by(fake, TOKEN_A) >= 150, "A's first sends")
            second = _sender(engine_b, bot_b)
            running.append(asyncio.create_task(second.run(stop)))
            holder = _lock_holder(engine)
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
            await _until(lambda: first.lost and not first._in_flight, "A to notice and stop")
            sent_by_a = _sent_by(fake, TOKEN_A)
            await _until(lambda: _pending(session_factory) == 0, "every message recorded sent")
            stop.set()
            await asyncio.gather(*running)
            assert _sent_once_each(fake, session_factory, SHORT) == Counter()
            assert _sent_by(fake, TOKEN_A) == sent_by_a < SHORT  # A sent nothing more
            assert _sent_by(fake, TOKEN_B) == SHORT - sent_by_a
            # A stopped within LOCK_CHECK of losing the lock, and B waited that long before
            # its first send: the platform never saw both at once.
            last_of_a = max(c.at for c in fake.sent() if c.token == TOKEN_A)
            assert last_of_a < min(c.at for c in fake.sent() if c.token == TOKEN_B)
    finally:
        engine_a.dispose()
        engine_b.dispose()


class Outage:
    """A TCP relay to PostgreSQL on 127.0.0.1 that can be cut, as a network outage would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._guard = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(self._target)
            except OSError:
                return
            with self._guard:
                if self._down:
                    _close(client, upstream)
                    continue
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    def cut(self) -> None:
        """Drop every connection (the server ends their sessions) and refuse new ones."""
        with self._guard:
            self._down = True
            sockets, self._sockets = self._sockets, set()
        _close(*sockets)

    def restore(self) -> None:
        self._down = False

    def close(self) -> None:
        self.cut()
        self._server.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    _close(source, target)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class CutAfter:
    """A transport that cuts the database just after the platform accepted the ``n``th send,
    so that this message, and any other in flight, cannot be recorded."""

    platform = "telegram"

    def __init__(self, transport: TelegramTransport, outage: Outage, n: int) -> None:
        self.transport = transport
        self.outage = outage
        self.left = n
        self.sender: OutboxSender | None = None
        self.in_flight_at_cut = -1

    async def send(
        self, chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        result = await self.transport.send(chat_id, text, buttons, thread)
        self.left -= 1
        if self.left == 0:
            self.outage.cut()
            assert self.sender is not None
            self.in_flight_at_cut = len(self.sender._in_flight)
        return result


async def test_a_database_outage_mid_send_resends_nothing_the_platform_accepted(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    _queue(session_factory, SHORT)
    url = make_url(db_url)
    outage = Outage(url.host or "127.0.0.1", url.port or 5432)
    engine_a = make_engine(url.set(port=outage.port).render_as_string(hide_password=False))
    engine_b = make_engine(db_url)
    stop = asyncio.Event()
    try:
        async with (
            FakeTelegram() as fake,
            Bot(TOKEN_A, base_url=fake.base_url) as bot_a,
            Bot(TOKEN_B, base_url=fake.base_url) as bot_b,
        ):
            transport = CutAfter(TelegramTransport(bot_a), outage, 150)
            first = OutboxSender(
                make_session_factory(engine_a),
                transport,
                clock=utcnow,
                lock=SenderLock(engine_a, "telegram"),
                poll_interval=0.05,
                lock_check=LOCK_CHECK,
                pacing=FAST,
            )
            transport.sender = first
            running = [asyncio.create_task(first.run(stop))]
            await _until(lambda: _sent_by(fake, TOKEN_A) > 0, "A's first sends")
            second = _sender(engine_b, bot_b)
            running.append(asyncio.create_task(second.run(stop)))
            await _until(lambda: transport.in_flight_at_cut >= 0, "the outage")
            # While A cannot reach the database, B takes over all that A does not hold.
            await _until(
                lambda: _pending(session_factory, not_held_by=first.owner) == 0,
                "B to send what A does not hold",
            )
            assert first._unrecorded  # A has accepted sends it could not record
            outage.restore()
            await _until(lambda: _pending(session_factory) == 0, "every message recorded sent")
            stop.set()
            await asyncio.gather(*running)
            duplicates = _sent_once_each(fake, session_factory, SHORT)
            # At most the messages in flight at the outage; none here, because A's claims on
            # them outlast the outage, and A records them before anything else when it is over.
            assert sum(duplicates.values()) <= transport.in_flight_at_cut
            assert duplicates == Counter()
            assert _sent_by(fake, TOKEN_B) > 0
    finally:
        engine_a.dispose()
        engine_b.dispose()
        outage.close()


SENDER_PROCESS = """
import asyncio, sys
from telegram import Bot
from bot.core import utcnow
from bot.delivery import OutboxSender, Pacing, SenderLock
from bot.telegram import TelegramTransport
from storage.db import make_engine, make_session_factory

async def main() -> None:
    engine = make_engine(sys.argv[1])
    async with Bot(sys.argv[3], base_url=sys.argv[2]) as bot:
        sender = OutboxSender(
            make_session_factory(engine),
            TelegramTransport(bot),
            clock=utcnow,
            lock=SenderLock(engine, "telegram"),
            poll_interval=0.05,
            lock_check=0.3,
            lease=2.0,  # what it held when killed is free again soon
            pacing=Pacing(per_second=2000, per_chat_per_second=100),
        )
        await sender.run(asyncio.Event())

asyncio.run(main())
"""


async def test_a_killed_sender_process_duplicates_at_most_its_sends_in_flight(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    _queue(session_factory, SHORT)
    engine_b = make_engine(db_url)
    stop = asyncio.Event()
    try:
        async with FakeTelegram() as fake, Bot(TOKEN_B, base_url=fake.base_url) as bot_b:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                SENDER_PROCESS,
                db_url,
                fake.base_url,
                TOKEN_A,
                cwd=Path(__file__).resolve().parent.parent,
            )
            try:
                await _until(lambda: _sent_by(fake, TOKEN_A) >= 150, "the process's first sends")
                second = _sender(engine_b, bot_b)
                running = asyncio.create_task(second.run(stop))
            finally:
                process.kill()  # no chance to record what was in flight, or to give anything back
                await process.wait()
            await _until(lambda: _pending(session_factory) == 0, "every message recorded sent")
            stop.set()
            await running
            duplicates = _sent_once_each(fake, session_factory, SHORT)
            assert sum(duplicates.values()) <= Pacing().max_in_flight
            assert _sent_by(fake, TOKEN_B) > 0
    finally:
        engine_b.dispose()
