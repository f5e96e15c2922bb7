"""The outbox sender, with a scripted in-process transport and a fake timeline.

Pacing is checked on the fake timeline (the sender's clock and sleep are injected), never by
measuring wall-clock time.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.delivery import (
    MAX_ATTEMPTS,
    Buttons,
    Due,
    OutboxSender,
    Outcome,
    Pacing,
    Result,
    SenderLock,
)
from storage.db import transaction
from storage.models import Account, OutboxMessage, OutboxStatus, Person
from storage.outbox import MessageRef, enqueue, enqueue_edit
from tests.conftest import FakeClock
from tests.helpers import Chat


class Timeline:
    """Monotonic time that only moves when the sender sleeps; it drags the DB clock along."""

    def __init__(self, clock: FakeClock) -> None:
        self.now = 1000.0
        self.clock = clock

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let the sends already started run at the current instant before time moves on.
        await asyncio.sleep(0)
        if seconds > 0:
            self.now += seconds
            self.clock.advance(seconds=seconds)


@dataclass
class ScriptedTransport:
    """Answers each send from a per-chat script of outcomes (default: sent)."""

    timeline: Timeline
    platform: str = "telegram"
    script: dict[str, list[Result]] = field(default_factory=lambda: defaultdict(list))
    delivered: list[tuple[float, str, str]] = field(default_factory=list)
    attempts: int = 0
    # Each message sent: its text, and the text of the message whose thread it went in.
    threads: list[tuple[str, str | None]] = field(default_factory=list)
    # Each edit: the text of the message edited and its new text.
    edits: list[tuple[str, str]] = field(default_factory=list)
    texts: dict[MessageRef, str] = field(default_factory=dict)

    async def send(
        self, chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        self.attempts += 1
        if self.script[chat_id]:
            result = self.script[chat_id].pop(0)
            if isinstance(result, Exception):
                raise result
            if result.outcome is not Outcome.SENT:
                return result
        self.delivered.append((self.timeline.now, chat_id, text))
        ref = MessageRef(chat_id, str(len(self.texts) + 1))
        self.texts[ref] = text
        self.threads.append((text, self.texts[thread] if thread is not None else None))
        return Result(Outcome.SENT, ref=ref)

    async def edit(self, ref: MessageRef, text: str, buttons: Buttons | None) -> Result:
        self.edits.append((self.texts[ref], text))
        return Result(Outcome.SENT, ref=ref)


def _people(factory: sessionmaker[Session], clock: FakeClock, count: int) -> list[int]:
    with transaction(factory) as session:
        ids = []
        for n in range(count):
            person = Person(name=f"Student {n}", created_at=clock.now)
            session.add(
                Account(
                    person=person,
                    platform="telegram",
                    external_id=str(n),
                    chat_id=str(n),
                    last_seen_at=clock.now,
                    created_at=clock.now,
                )
            )
            session.flush()
            ids.append(person.id)
        return ids


def _queue(factory: sessionmaker[Session], clock: FakeClock, person_id: int, key: str) -> None:
    with transaction(factory) as session:
        person = session.get(Person, person_id)
        assert person is not None
        assert enqueue(session, person, f"hello {key}", kind="test", key=key, now=clock.now)


def _sender(
    factory: sessionmaker[Session], clock: FakeClock, pacing: Pacing | None = None
) -> tuple[OutboxSender, ScriptedTransport, Timeline]:
    timeline = Timeline(clock)
    transport = ScriptedTransport(timeline)
    sender = OutboxSender(
        factory,
        transport,
        pacing=pacing or Pacing(),
        clock=clock,
        monotonic=timeline.monotonic,
        sleep=timeline.sleep,
    )
    return sender, transport, timeline


def _statuses(factory: sessionmaker[Session]) -> list[OutboxStatus]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


@pytest.mark.slow
async def test_each_message_is_sent_once_at_the_global_pace(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    people = _people(session_factory, clock, 60)
    for n, person in enumerate(people):
        _queue(session_factory, clock, person, f"m{n}")
    sender, transport, _ = _sender(session_factory, clock, Pacing(per_second=30))
    await sender.drain()
    assert sorted(chat for _, chat, _ in transport.delivered) == sorted(str(n) for n in range(60))
    assert _statuses(session_factory) == [OutboxStatus.SENT] * 60
    times = [t for t, _, _ in transport.delivered]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / 30 - 1e-9
    # 60 messages at 30/s (less the safety margin) take two seconds of the timeline, not more.
    assert times[-1] - times[0] == pytest.approx(59 * Pacing().gap)
    assert 59 / (times[-1] - times[0]) >= 0.95 * 30
    await sender.drain()
    assert len(transport.delivered) == 60


async def test_one_message_per_second_per_chat(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    for n in range(4):
        _queue(session_factory, clock, person, f"m{n}")
    sender, transport, _ = _sender(session_factory, clock)
    await sender.drain()
    times = [t for t, _, _ in transport.delivered]
    assert [text for _, _, text in transport.delivered] == [f"hello m{n}" for n in range(4)]
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))


async def test_retry_after_waits_exactly_as_asked(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    people = _people(session_factory, clock, 2)
    for n, person in enumerate(people):
        _queue(session_factory, clock, person, f"m{n}")
    sender, transport, timeline = _sender(session_factory, clock)
    transport.script["0"] = [Result(Outcome.RETRY_AFTER, retry_after=7)]
    start = timeline.now
    await sender.drain()
    by_chat = {chat: t for t, chat, _ in transport.delivered}
    assert by_chat["0"] - start >= 7
    # Chat 1 was not written to recently, so its 429 would pause all; chat 0's does not.
    assert by_chat["1"] - start < 1
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.SENT]
        assert rows[0].attempts == 1  # being asked to wait is not a failed attempt


async def test_blocked_user_is_marked_unreachable_until_they_write_again(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada = Chat(core, "ada", platform="telegram")
    ada.send("/help")
    with session_factory() as session:
        person_id = session.scalars(select(Account.person_id)).one()
    _queue(session_factory, clock, person_id, "first")
    _queue(session_factory, clock, person_id, "second")
    sender, transport, _ = _sender(session_factory, clock)
    transport.script["chat-ada"] = [Result(Outcome.UNREACHABLE, error="Forbidden: bot was blocked")]
    await sender.drain()
    assert transport.delivered == []
    assert _statuses(session_factory) == [OutboxStatus.UNREACHABLE] * 2
    with transaction(session_factory) as session:
        person = session.get(Person, person_id)
        assert person is not None
        assert not enqueue(session, person, "third", kind="test", key="third", now=clock.now)
    # Writing to the bot again makes them reachable.
    ada.send("/help")
    _queue(session_factory, clock, person_id, "fourth")
    await sender.drain()
    assert [text for _, _, text in transport.delivered] == ["hello fourth"]


async def test_transient_errors_back_off_then_fail_after_max_attempts(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    people = _people(session_factory, clock, 2)
    _queue(session_factory, clock, people[0], "flaky")
    _queue(session_factory, clock, people[1], "broken")
    sender, transport, _ = _sender(session_factory, clock)
    transport.script["0"] = [Result(Outcome.TRANSIENT, error="500"), RuntimeError("bug")]
    transport.script["1"] = [Result(Outcome.TRANSIENT, error="500")] * MAX_ATTEMPTS
    await sender.drain()
    assert [chat for _, chat, _ in transport.delivered] == ["0"]
    with session_factory() as session:
        flaky, broken = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert (flaky.status, flaky.attempts) == (OutboxStatus.SENT, 3)
    assert (broken.status, broken.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    assert broken.last_error == "500"


async def test_messages_not_yet_due_wait(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue(session_factory, clock, person, "later")
    with transaction(session_factory) as session:
        row = session.scalars(select(OutboxMessage)).one()
        row.next_attempt_at = clock.now + timedelta(minutes=5)
    sender, transport, _ = _sender(session_factory, clock)
    assert await sender.drain_once() == 0
    assert transport.delivered == []
    clock.advance(minutes=5)
    assert await sender.drain_once() == 1
    await sender.flush()
    assert len(transport.delivered) == 1


@pytest.mark.skipif(not os.environ.get("OPPBOT_TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_only_one_process_holds_the_sender_role(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first, second = SenderLock(engine, "telegram"), SenderLock(engine, "telegram")
    other_platform = SenderLock(engine, "slack")
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert other_platform.try_acquire()
        first.release()  # as when the holding process dies and its connection closes
        assert second.try_acquire()
        assert second.held()
    finally:
        for lock in (first, second, other_platform):
            lock.release()


async def test_a_sent_message_the_database_cannot_record_is_recorded_before_any_other_send(
    session_factory: sessionmaker[Session], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = _people(session_factory, clock, 3)
    for n, person in enumerate(people):
        _queue(session_factory, clock, person, f"m{n}")
    sender, transport, _ = _sender(session_factory, clock)
    events: list[str] = []
    send, record = transport.send, sender._record
    refusals = 5  # the database is away while chat 0's accepted message is recorded

    async def logged_send(
        chat_id: str, text: str, buttons: Buttons | None, thread: MessageRef | None = None
    ) -> Result:
        events.append(f"send {chat_id}")
        return await send(chat_id, text, buttons, thread)

    def flaky_record(row: Due, result: Result) -> None:
        nonlocal refusals
        if row.chat_id == "0" and refusals > 0:
            refusals -= 1
            events.append("refused")
            raise OperationalError("UPDATE outbox", {}, Exception("server closed the connection"))
        record(row, result)
        events.append(f"recorded {row.chat_id}")

    class Unrecorded(dict[int, tuple[Due, Result]]):
        def __setitem__(self, row_id: int, outcome: tuple[Due, Result]) -> None:
            events.append("kept")  # the sender knows that the database refused
            super().__setitem__(row_id, outcome)

    monkeypatch.setattr(transport, "send", logged_send)
    monkeypatch.setattr(sender, "_record", flaky_record)
    monkeypatch.setattr(sender, "_unrecorded", Unrecorded())
    await sender.drain()
    assert sorted(chat for _, chat, _ in transport.delivered) == ["0", "1", "2"]  # each once
    assert _statuses(session_factory) == [OutboxStatus.SENT] * 3
    assert events.count("refused") == 5
    # From then on, nothing was sent until chat 0's message was recorded.
    outage = events[events.index("kept") : events.index("recorded 0")]
    assert not [event for event in outage if event.startswith("send")]


async def test_the_sender_outlives_a_database_outage(
    session_factory: sessionmaker[Session], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue(session_factory, clock, person, "m0")
    timeline = Timeline(clock)
    transport = ScriptedTransport(timeline)
    sender = OutboxSender(
        session_factory,
        transport,
        clock=clock,
        poll_interval=0.01,
        restart_delay=0.01,
        monotonic=timeline.monotonic,
        sleep=timeline.sleep,
    )
    load_due = sender._claim_due
    outages = iter([True, True])

    def flaky_claim_due() -> list[Due]:
        if next(outages, False):
            raise OperationalError("SELECT outbox", {}, Exception("server closed the connection"))
        return load_due()

    monkeypatch.setattr(sender, "_claim_due", flaky_claim_due)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    for _ in range(500):
        if transport.delivered or running.done():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running  # the outage did not end the task with an error
    assert [chat for _, chat, _ in transport.delivered] == ["0"]
    assert _statuses(session_factory) == [OutboxStatus.SENT]


def _queue_row(
    factory: sessionmaker[Session],
    clock: FakeClock,
    person_id: int,
    key: str,
    *,
    thread_of: str | None = None,
    buttons: Buttons | None = None,
) -> None:
    with transaction(factory) as session:
        person = session.get(Person, person_id)
        assert person is not None
        assert enqueue(
            session,
            person,
            key,
            kind="test",
            key=key,
            now=clock.now,
            thread_of=thread_of,
            buttons=buttons,
        )


def _edit(
    factory: sessionmaker[Session], clock: FakeClock, edits: str, text: str, **how: object
) -> bool:
    with transaction(factory) as session:
        return enqueue_edit(session, edits, text, kind="test", key=text, now=clock.now, **how)  # type: ignore[arg-type]


async def test_a_reply_waits_for_its_message_and_goes_in_its_thread(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue_row(session_factory, clock, person, "root")
    _queue_row(session_factory, clock, person, "answer", thread_of="root")
    _queue_row(session_factory, clock, person, "stray", thread_of="never-queued")
    sender, transport, _ = _sender(session_factory, clock)
    # The root fails first and waits to be tried again: the reply must not overtake it.
    transport.script["0"] = [Result(Outcome.TRANSIENT)]
    await sender.drain()
    assert transport.threads == [("stray", None), ("root", None), ("answer", "root")]
    with session_factory() as session:
        root = session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "root")
        ).one()
        assert (root.sent_chat_id, root.sent_message_id) == ("0", "2")


async def test_a_reply_to_a_message_that_failed_goes_on_its_own(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue_row(session_factory, clock, person, "root")
    _queue_row(session_factory, clock, person, "answer", thread_of="root")
    sender, transport, _ = _sender(session_factory, clock)
    transport.script["0"] = [Result(Outcome.PERMANENT, error="bad")]
    await sender.drain()
    assert transport.threads == [("answer", None)]
    assert _statuses(session_factory) == [OutboxStatus.FAILED, OutboxStatus.SENT]


async def test_edits_land_after_their_message_in_order_once_keeping_its_buttons(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue_row(session_factory, clock, person, "root", buttons=[[["Invite", "emp:1:inv"]]])
    assert _edit(session_factory, clock, "root", "first edit", keep_buttons=True)
    assert _edit(session_factory, clock, "root", "second edit", buttons=[[["Mine", "mine"]]])
    assert not _edit(session_factory, clock, "root", "second edit")  # the same key: once
    assert not _edit(session_factory, clock, "nothing-queued", "lost edit")
    sender, transport, _ = _sender(session_factory, clock)
    transport.script["0"] = [Result(Outcome.TRANSIENT)]  # the message itself goes out late
    await sender.drain()
    assert transport.edits == [("root", "first edit"), ("root", "second edit")]
    assert [text for _, _, text in transport.delivered] == ["root"]
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [r.status for r in rows] == [OutboxStatus.SENT] * 3
        assert rows[1].buttons == [[["Invite", "emp:1:inv"]]]  # kept
        assert rows[2].buttons == [[["Mine", "mine"]]]  # replaced


async def test_an_edit_of_a_message_never_sent_is_given_up(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    (person,) = _people(session_factory, clock, 1)
    _queue_row(session_factory, clock, person, "root")
    assert _edit(session_factory, clock, "root", "edit")
    sender, transport, _ = _sender(session_factory, clock)
    transport.script["0"] = [Result(Outcome.UNREACHABLE, error="blocked")]
    await sender.drain()
    assert transport.edits == []
    assert _statuses(session_factory) == [OutboxStatus.UNREACHABLE, OutboxStatus.UNREACHABLE]
