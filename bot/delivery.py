"""Outbox senders: deliver queued messages to one platform, as fast as it allows and no faster.

The outbox table holds the truth. A row is marked sent only after the platform accepted it, so
a crash can at worst resend the messages that were in flight, never skip one. Pacing is done
before the platform has to say no: an even global pace (Telegram: about 30 messages a second)
and a minimum gap per chat (about one a second). When the platform still answers 429, that chat
waits exactly the time asked; only a 429 for a chat that was not just written to (so it cannot
be the per-chat limit) pauses the whole stream, and only for that time.

Each send is guarded twice. A sender claims the rows it is about to send (a lease with its name
and an expiry, see ``storage.outbox.claim_due``) and renews the claim just before each send, so
no two senders ever hold one row. And with several processes on one PostgreSQL database, one
process per platform holds the sender role through an advisory lock, so that the platform sees
one pace, not one per process: the holder re-checks the lock at least every ``lock_check``
seconds before sending, and stops within that time once it is gone; a new holder waits that
long before its first send. When the platform accepted a message but the database could not
record it (an outage), the outcome is kept in memory and recorded before anything else is sent.

A row may also answer in the thread of an earlier row's message, or edit it (see
``storage.outbox.enqueue`` and ``enqueue_edit``): it is claimed only once that row is no
longer pending, and where the platform put each message it accepted is recorded with it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import os
import random
import secrets
import socket
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from storage.db import transaction
from storage.models import Account, OutboxMessage, OutboxStatus
from storage.outbox import DueRow, MessageRef, claim_due, release_claims, renew_claim

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
    # Where the platform put a message it accepted (its first part, if it took several), for
    # the rows that answer in its thread or edit it.
    ref: MessageRef | None = None


class Transport(Protocol):
    """Sends one rendered outbox message to one chat on one platform, or edits one."""

    platform: str

    async def send(
        self, chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        """A new message; with ``thread``, in that message's thread (Slack) or as a reply
        quoting it (Telegram)."""

    async def edit(self, ref: MessageRef, text: str, buttons: Buttons | None) -> Result:
        """The message at ``ref`` now reads ``text`` with ``buttons`` (None: none). An edit
        that changes nothing counts as done."""


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


# A claimed row, as ``storage.outbox.claim_due`` returns it.
Due = DueRow
# The outcome of an edit whose message was never sent (it failed or went nowhere).
NOTHING_TO_EDIT = Result(Outcome.PERMANENT, error="the message to edit was never sent")

MAX_ATTEMPTS = 12
# How often outcomes the database could not take are tried again while it is away.
RECORD_RETRY_DELAY = 0.5
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
            self.release()
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # The server frees a closed session's locks a moment after the close returns:
            # unlocking first lets the next holder in at once.
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        except Exception:  # a dead connection holds nothing any more
            log.debug("unlocking the outbox sender lock failed", exc_info=True)
        try:
            conn.close()
        except Exception:
            log.debug("closing the outbox sender lock connection failed", exc_info=True)


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
        batch: int = 50,
        lease: float = 60.0,
        lock_check: float = 1.0,
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
        # A claim must outlast a send: the transport gets half of it before a send counts as
        # failed, so the lease never runs out while the platform may still be answering.
        self.lease = lease
        self.lock_check = lock_check
        # Injectable so that tests can check the pacing on a fake timeline, never by sleeping.
        self.monotonic = monotonic
        self.sleep = sleep
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._in_flight: dict[int, str] = {}  # row id -> chat id
        self._next_slot = 0.0
        self._chat_ready: dict[str, float] = {}
        self._chat_last: dict[str, float] = {}
        self._paused_until = 0.0
        self._gate = asyncio.Semaphore(pacing.max_in_flight)
        self._starts: deque[float] = deque()
        # Outcomes the database could not take yet: row id -> (row, result).
        self._unrecorded: dict[int, tuple[Due, Result]] = {}
        self._recording = asyncio.Lock()
        self._lock_valid_until = 0.0
        self._lock_checking = asyncio.Lock()
        self._lost = False
        self._holds_claims = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop: asyncio.Event | None = None

    @property
    def lost(self) -> bool:
        """Whether the sender role was lost (the lock's connection died) since last taken."""
        return self._lost

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll (new rows were just written)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; wait for the sender role first if another process has it.

        A database that is down or locked for a while must not end delivery for the rest of
        the process's life: the error is logged, the role given up, and sending starts again.
        Once ``stop`` is set no new send starts; those in flight finish and are recorded.
        """
        self._stop = stop
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
        if self._unrecorded:
            log.error(
                "%s outbox sender stopped with %d sent messages not recorded (rows %s)",
                self.transport.platform,
                len(self._unrecorded),
                sorted(self._unrecorded),
            )

    async def _serve(self, stop: asyncio.Event) -> None:
        """Hold the sender role (if it can be had) and send until ``stop`` or the role is lost."""
        # What the platform already accepted is recorded before anything else happens, so that
        # whoever sends next does not send it again.
        while not await self._record_pending():
            await _wait(stop, RECORD_RETRY_DELAY)
            if stop.is_set():
                return
        if self.lock is not None:
            if not await asyncio.to_thread(self.lock.try_acquire):
                await self._release_claims()
                await _wait(stop, self.poll_interval)
                return
            self._lost = False
            self._lock_valid_until = 0.0
            if self.lock.shared:
                # The previous holder may go on sending for up to ``lock_check`` after losing
                # the lock: starting later keeps the two from pacing over each other.
                await _wait(stop, self.lock_check)
        log.info("%s outbox sender running", self.transport.platform)
        try:
            while not stop.is_set() and await self._still_sender():
                started = await self.drain_once()
                if not started:
                    self._wake.clear()
                    await _wait(stop, self.poll_interval, self._wake)
        finally:
            await self.flush()
            await self._release_claims()
        if self._lost:
            # Another process is probably taking over: let it, rather than race it.
            await _wait(stop, self.poll_interval)

    async def _release_lock(self) -> None:
        if self.lock is not None:
            await asyncio.to_thread(self.lock.release)

    async def _release_claims(self) -> None:
        """Give back the rows claimed but not sent, so another sender need not wait for them."""
        if not self._holds_claims:
            return
        try:
            await asyncio.to_thread(self._release)
        except Exception:  # the leases run out by themselves
            log.warning("could not release the outbox claims", exc_info=True)
            return
        self._holds_claims = False

    def _release(self) -> None:
        with transaction(self.session_factory) as session:
            # A sent but unrecorded row stays ours: given back, another sender would resend it.
            release_claims(session, owner=self.owner, keep=self._unrecorded)

    async def drain_once(self) -> int:
        """Start sending every row that is due now; returns how many sends were started."""
        if not await self._record_pending():
            return 0
        due = await asyncio.to_thread(self._claim_due)
        started = 0
        for row in due:
            if self._lost:
                break
            now = self.monotonic()
            if self._chat_ready.get(row.chat_id, 0.0) > now or row.id in self._in_flight:
                continue  # still claimed: sent on a later round, or given back at the end
            await self._take_slot(row.chat_id)
            await self._gate.acquire()
            if self._stop is not None and self._stop.is_set():
                # Stopping: what is not yet sent is given back for the next process.
                self._gate.release()
                break
            # Checked here rather than in the task: the database's answer takes a variable
            # time, which must delay the pacing loop, not bunch up the sends after it.
            if not await self._may_send(row):
                self._gate.release()
                if self._lost or self._unrecorded:
                    break
                continue
            self._in_flight[row.id] = row.chat_id
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
            if next_due is None and not self._unrecorded:
                return
            # What is left waits for a retry time, a chat's gap, the platform's pause, another
            # sender's lease or the database.
            wait = (next_due - self.clock()).total_seconds() if next_due is not None else 0.0
            await self.sleep(max(wait, 0.05))

    async def _take_slot(self, chat_id: str) -> None:
        now = self.monotonic()
        slot = max(now, self._next_slot, self._paused_until, self._chat_ready.get(chat_id, 0.0))
        self._next_slot = slot + self.pacing.gap
        self._chat_ready[chat_id] = slot + self.pacing.chat_gap
        if slot > now:
            await self.sleep(slot - now)
        self._chat_last[chat_id] = self.monotonic()

    def _claim_due(self) -> list[Due]:
        now = self.monotonic()
        # Computed before the claim: a row finished after this point is no longer pending.
        skip_ids = set(self._in_flight) | set(self._unrecorded)
        busy = {chat for chat, ready in self._chat_ready.items() if ready > now}
        busy.update(self._in_flight.values())
        with transaction(self.session_factory) as session:
            rows = claim_due(
                session,
                platform=self.transport.platform,
                owner=self.owner,
                now=self.clock(),
                lease=self.lease,
                limit=self.batch,
                skip_ids=skip_ids,
                skip_chats=busy,
            )
        if rows:
            self._holds_claims = True
        return rows

    def _next_due(self) -> datetime | None:
        with self.session_factory() as session:
            return session.scalar(
                select(func.min(OutboxMessage.next_attempt_at))
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(
                    Account.platform == self.transport.platform,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.id.not_in(list(self._unrecorded)),
                )
            )

    async def _deliver(self, row: Due) -> None:
        try:
            await self._admit()
            # Waiting for the window may have outlasted the last look at the lock; and an
            # outcome the database refused meanwhile is recorded before anything is sent.
            if not await self._still_sender() or self._unrecorded:
                return  # still claimed by us: sent on a later round, or given back
            try:
                async with asyncio.timeout(self.lease / 2):
                    result = await self._send(row)
            except Exception as error:  # a transport bug must not lose the message
                log.exception(
                    "%s transport failed on outbox row %s", self.transport.platform, row.id
                )
                result = Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")
            if result.outcome is Outcome.RETRY_AFTER:
                self._respect_retry_after(row.chat_id, result.retry_after)
            _count(self.transport.platform, result.outcome)
            await self._record_outcome(row, result)
        finally:
            self._in_flight.pop(row.id, None)
            self._gate.release()

    async def _send(self, row: Due) -> Result:
        if row.edits is None:
            return await self.transport.send(row.chat_id, row.text, row.buttons, row.thread)
        if row.edited is None:
            return NOTHING_TO_EDIT
        return await self.transport.edit(row.edited, row.text, row.buttons)

    async def _may_send(self, row: Due) -> bool:
        """Whether ``row`` may go out now: earlier outcomes recorded, still the sender, and
        the row still ours (its lease renewed for the send)."""
        if self._unrecorded and not await self._record_pending():
            return False
        if not await self._still_sender():
            return False
        try:
            ours = await asyncio.to_thread(self._renew, row.id)
        except Exception:
            log.warning("could not renew the claim on outbox row %s", row.id, exc_info=True)
            return False
        if not ours:
            log.info("outbox row %s is no longer ours; not sending it", row.id)
        return ours

    def _renew(self, row_id: int) -> bool:
        with transaction(self.session_factory) as session:
            return renew_claim(session, row_id, owner=self.owner, lease=self.lease)

    async def _still_sender(self) -> bool:
        """Whether this sender still holds the lock, looked at no more than ``lock_check`` ago.

        A look counts from when it started, so no send goes out more than ``lock_check``
        after the lock was last known to be held.
        """
        if self.lock is None:
            return True
        async with self._lock_checking:
            if self._lost:
                return False
            if self.monotonic() < self._lock_valid_until:
                return True
            started = self.monotonic()
            if await asyncio.to_thread(self.lock.held):
                self._lock_valid_until = started + self.lock_check
                return True
            self._lost = True
            log.warning("%s outbox sender lost its lock; stopping", self.transport.platform)
            return False

    async def _record_outcome(self, row: Due, result: Result) -> None:
        """Record what happened; if the database cannot take it now, keep it for later.

        A message the platform accepted but we could not mark sent must not go out again:
        it stays claimed by us and in memory, and ``_record_pending`` records it before this
        sender sends anything else.
        """
        try:
            await asyncio.to_thread(self._record, row, result)
        except Exception:
            log.warning(
                "could not record outbox row %s (%s); will retry",
                row.id,
                result.outcome.value,
                exc_info=True,
            )
            self._unrecorded[row.id] = (row, result)

    async def _record_pending(self) -> bool:
        """Record the outcomes waiting for the database; returns whether none is left."""
        async with self._recording:
            for row_id, (row, result) in list(self._unrecorded.items()):
                try:
                    await asyncio.to_thread(self._record, row, result)
                except Exception:
                    log.warning("could not record outbox row %s yet", row_id, exc_info=True)
                    return False
                del self._unrecorded[row_id]
            return True

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
            # What the platform accepted is the truth whoever holds the row; any other outcome
            # belongs to the row's holder, if that is no longer us.
            if result.outcome is not Outcome.SENT and message.claimed_by != self.owner:
                return
            message.claimed_by = message.claim_expires_at = None
            message.last_error = result.error or None
            # Being asked to wait is not the message's fault, so it does not use up an attempt.
            if result.outcome is not Outcome.RETRY_AFTER:
                message.attempts += 1
            match result.outcome:
                case Outcome.SENT:
                    message.status = OutboxStatus.SENT
                    message.sent_at = now
                    if result.ref is not None:
                        message.sent_chat_id = result.ref.chat
                        message.sent_message_id = result.ref.message
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


_SEND_ERRORS = {
    Outcome.TRANSIENT: "server",
    Outcome.UNREACHABLE: "unreachable",
    Outcome.PERMANENT: "permanent",
}


def _count(platform: str, outcome: Outcome) -> None:
    if outcome is Outcome.SENT:
        metrics.SENT.labels(platform).inc()
    elif outcome is Outcome.RETRY_AFTER:
        metrics.THROTTLED.labels(platform).inc()
    else:
        metrics.SEND_ERRORS.labels(platform, _SEND_ERRORS[outcome]).inc()


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    waiters = [asyncio.create_task(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.create_task(wake.wait()))
    _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in (*pending, *waiters):
        task.cancel()
