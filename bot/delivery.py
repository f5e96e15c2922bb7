"""Outbox senders: deliver queued messages to one platform, as fast as it allows and no faster.

The outbox table holds the truth. A row is marked sent only after the platform accepted it, so
a crash can at worst resend the messages that were in flight, never skip one. Pacing is done
before the platform has to say no: an even global pace (Telegram: about 30 messages a second)
and a minimum gap per chat (about one a second). When the platform still answers 429, that chat
waits exactly the time asked; only a 429 for a chat that was not just written to (so it cannot
be the per-chat limit) pauses the whole stream, and only for that time.

With several processes on one PostgreSQL database, one process per platform holds the sender
role through an advisory lock; when it dies, its connection closes and another takes over.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import Account, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

Buttons = list[list[list[str]]]


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY_AFTER = "retry_after"  # the platform asked us to wait
    UNREACHABLE = "unreachable"  # the person blocked the bot or left
    TRANSIENT = "transient"  # 5xx, network trouble, timeout: try again later
    PERMANENT = "permanent"  # the platform will never accept this message


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    retry_after: float = 0.0
    error: str = ""


class Transport(Protocol):
    """Sends one rendered outbox message to one chat on one platform."""

    platform: str

    async def send(self, chat_id: str, text: str, buttons: Buttons | None) -> Result: ...


@dataclass(frozen=True)
class Pacing:
    per_second: float = 30.0
    per_chat_per_second: float = 1.0
    max_in_flight: int = 32
    # Requests reach the platform with a few milliseconds of jitter; pacing exactly at the
    # limit would let that jitter put one message too many into a one-second window.
    margin: float = 0.03

    @property
    def gap(self) -> float:
        return (1.0 + self.margin) / self.per_second

    @property
    def chat_gap(self) -> float:
        return (1.0 + 2 * self.margin) / self.per_chat_per_second

    @property
    def window_cap(self) -> int:
        """Most requests started in any rolling second: the ceiling itself."""
        return max(1, math.floor(self.per_second))


@dataclass(frozen=True)
class Due:
    id: int
    account_id: int
    chat_id: str
    text: str
    buttons: Buttons | None
    attempts: int


MAX_ATTEMPTS = 12
RECORD_RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0, 10.0)
MAX_BACKOFF = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter, so that retries after an outage do not stampede."""
    base = min(2.0**attempts, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


class SenderLock:
    """Who may send for a platform. SQLite: this process (one process is supported there).

    PostgreSQL: a session-level advisory lock held on a dedicated connection.
    """

    def __init__(self, engine: Engine, platform: str) -> None:
        self.engine = engine
        self.key = zlib.crc32(f"oppbot-outbox-{platform}".encode())
        self._conn: Connection | None = None

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        if not self.shared:
            return True
        if self._conn is None:
            self._conn = self.engine.connect()
            # Out of the pool: closing it must end the session and so free the lock.
            self._conn.detach()
        got = bool(
            self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        )
        self._conn.commit()
        return got

    def held(self) -> bool:
        """Whether our lock connection is still alive (a dead one means the lock is gone)."""
        if not self.shared:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            log.warning("lost the outbox sender lock connection", exc_info=True)
            self._conn = None
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class OutboxSender:
    """Drains the outbox rows of one platform through a ``Transport``."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        transport: Transport,
        *,
        pacing: Pacing = Pacing(),
        clock: Callable[[], datetime],
        lock: SenderLock | None = None,
        poll_interval: float = 1.0,
        restart_delay: float = 5.0,
        batch: int = 200,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session_factory = session_factory
        self.transport = transport
        self.pacing = pacing
        self.clock = clock
        self.lock = lock
        self.poll_interval = poll_interval
        self.restart_delay = restart_delay
        self.batch = batch
        # Injectable so that tests can check the pacing on a fake timeline, never by sleeping.
        self.monotonic = monotonic
        self.sleep = sleep
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._next_slot = 0.0
        self._chat_ready: dict[str, float] = {}
        self._chat_last: dict[str, float] = {}
        self._paused_until = 0.0
        self._gate = asyncio.Semaphore(pacing.max_in_flight)
        self._starts: deque[float] = deque()
        self._unrecorded: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll (new rows were just written)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; wait for the sender role first if another process has it.

        A database that is down or locked for a while must not end delivery for the rest of
        the process's life: the error is logged, the role given up, and sending starts again.
        """
        while not stop.is_set():
            try:
                await self._serve(stop)
            except Exception:
                log.exception(
                    "%s outbox sender failed; starting again in %.0fs",
                    self.transport.platform,
                    self.restart_delay,
                )
                await self._release_lock()
                await _wait(stop, self.restart_delay)
        await self._release_lock()

    async def _serve(self, stop: asyncio.Event) -> None:
        """Hold the sender role (if it can be had) and send until ``stop`` or the role is lost."""
        if self.lock is not None and not await asyncio.to_thread(self.lock.try_acquire):
            await _wait(stop, 5.0)
            return
        log.info("%s outbox sender running", self.transport.platform)
        try:
            while not stop.is_set():
                if self.lock is not None and not await asyncio.to_thread(self.lock.held):
                    return
                started = await self.drain_once()
                if not started:
                    self._wake.clear()
                    await _wait(stop, self.poll_interval, self._wake)
        finally:
            await self.flush()

    async def _release_lock(self) -> None:
        if self.lock is not None:
            await asyncio.to_thread(self.lock.release)

    async def drain_once(self) -> int:
        """Start sending every row that is due now; returns how many sends were started."""
        due = await asyncio.to_thread(self._load_due)
        started = 0
        for row in due:
            now = self.monotonic()
            if self._chat_ready.get(row.chat_id, 0.0) > now or row.id in self._in_flight:
                continue
            await self._take_slot(row.chat_id)
            await self._gate.acquire()
            self._in_flight.add(row.id)
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def flush(self) -> None:
        """Wait for the sends in flight to finish and be recorded."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Send until no message for this platform is pending (for tests and benchmarks)."""
        while True:
            started = await self.drain_once()
            await self.flush()
            if started:
                continue
            next_due = await asyncio.to_thread(self._next_due)
            if next_due is None:
                return
            # What is left waits for a retry time, a chat's gap or the platform's pause.
            await self.sleep(max((next_due - self.clock()).total_seconds(), 0.05))

    async def _take_slot(self, chat_id: str) -> None:
        now = self.monotonic()
        slot = max(now, self._next_slot, self._paused_until, self._chat_ready.get(chat_id, 0.0))
        self._next_slot = slot + self.pacing.gap
        self._chat_ready[chat_id] = slot + self.pacing.chat_gap
        if slot > now:
            await self.sleep(slot - now)
        self._chat_last[chat_id] = self.monotonic()

    def _load_due(self) -> list[Due]:
        with self.session_factory() as session:
            rows = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.account_id,
                    Account.chat_id,
                    OutboxMessage.text,
                    OutboxMessage.buttons,
                    OutboxMessage.attempts,
                )
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(
                    Account.platform == self.transport.platform,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= self.clock(),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch + len(self._in_flight) + len(self._unrecorded))
            ).all()
        skip = self._in_flight | self._unrecorded
        return [Due(*row) for row in rows if row.id not in skip][: self.batch]

    def _next_due(self) -> datetime | None:
        with self.session_factory() as session:
            return session.scalar(
                select(func.min(OutboxMessage.next_attempt_at))
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(
                    Account.platform == self.transport.platform,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.id.not_in(self._unrecorded),
                )
            )

    async def _deliver(self, row: Due) -> None:
        try:
            try:
                await self._admit()
                result = await self.transport.send(row.chat_id, row.text, row.buttons)
            except Exception as error:  # a transport bug must not lose the message
                log.exception(
                    "%s transport failed on outbox row %s", self.transport.platform, row.id
                )
                result = Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")
            if result.outcome is Outcome.RETRY_AFTER:
                self._respect_retry_after(row.chat_id, result.retry_after)
            await self._record_outcome(row, result)
        finally:
            self._in_flight.discard(row.id)
            self._gate.release()

    async def _record_outcome(self, row: Due, result: Result) -> None:
        """Record what happened, retrying when the database is briefly unavailable.

        A message the platform accepted but we could not mark sent must not go out again
        from this process, so it is remembered here; only a restart may resend it.
        """
        for delay in RECORD_RETRY_DELAYS:
            try:
                await asyncio.to_thread(self._record, row, result)
                return
            except Exception:
                log.warning("could not record outbox row %s; retrying", row.id, exc_info=True)
                await self.sleep(delay)
        log.error("gave up recording outbox row %s (%s)", row.id, result.outcome.value)
        self._unrecorded.add(row.id)

    async def _admit(self) -> None:
        """Hold a request back while the last second already saw ``window_cap`` of them.

        Even spacing alone is not enough: after the event loop stalls, a late send and the next
        one go out back to back, and a one-second window could briefly hold one too many (seen
        in the broadcast benchmark as two 429s in 10,000 messages).
        """
        while True:
            now = self.monotonic()
            while self._starts and self._starts[0] <= now - 1.0:
                self._starts.popleft()
            if len(self._starts) < self.pacing.window_cap:
                self._starts.append(now)
                return
            await self.sleep(self._starts[0] + 1.0 - now)

    def _respect_retry_after(self, chat_id: str, seconds: float) -> None:
        now = self.monotonic()
        until = now + seconds
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), until)
        if now - self._chat_last.get(chat_id, 0.0) > self.pacing.chat_gap:
            self._paused_until = max(self._paused_until, until)
        log.warning("%s asked us to wait %.1fs", self.transport.platform, seconds)
        log.debug("waiting on chat %s", chat_id)

    def _record(self, row: Due, result: Result) -> None:
        now = self.clock()
        with transaction(self.session_factory) as session:
            message = session.get(OutboxMessage, row.id)
            if message is None or message.status != OutboxStatus.PENDING:
                return
            message.last_error = result.error or None
            # Being asked to wait is not the message's fault, so it does not use up an attempt.
            if result.outcome is not Outcome.RETRY_AFTER:
                message.attempts += 1
            match result.outcome:
                case Outcome.SENT:
                    message.status = OutboxStatus.SENT
                    message.sent_at = now
                case Outcome.RETRY_AFTER:
                    message.next_attempt_at = now + timedelta(seconds=result.retry_after)
                case Outcome.UNREACHABLE:
                    self._unreachable(session, row.account_id, now)
                case Outcome.PERMANENT:
                    message.status = OutboxStatus.FAILED
                case Outcome.TRANSIENT if message.attempts >= MAX_ATTEMPTS:
                    message.status = OutboxStatus.FAILED
                case Outcome.TRANSIENT:
                    message.next_attempt_at = now + backoff(message.attempts)

    @staticmethod
    def _unreachable(session: Session, account_id: int, now: datetime) -> None:
        """The person blocked the bot: stop writing to them until they write to us again."""
        account = session.get(Account, account_id)
        if account is not None:
            account.unreachable_at = now
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.account_id == account_id,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .values(status=OutboxStatus.UNREACHABLE, last_error="blocked by the user")
        )


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    waiters = [asyncio.create_task(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.create_task(wake.wait()))
    _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in (*pending, *waiters):
        task.cancel()
