"""oppbot as a service: health checks, Prometheus metrics, JSON logs and a clean shutdown.

Everything runs the real program: ``Runner`` (what ``oppbot run`` runs) or ``oppbot run``
itself as a process, against the fake Telegram Bot API, scraped over HTTP.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.app import SWITCH_INTERVAL, Runner, build
from bot.config import Settings
from bot.core import EVERYONE, Context, Core, Reply, utcnow
from bot.service import Health, HealthServer
from bot.telegram import TelegramAdapter
from handlers import build_registry
from storage.db import make_engine
from storage.models import Account, OutboxMessage, OutboxStatus, Person, Role
from storage.outbox import enqueue
from tests.conftest import FakeClock
from tests.fakes.telegram import FakeTelegram
from tests.helpers import Chat
from tests.test_telegram import TOKEN, _free_port, _settings, _until, _webhook_settings

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def _scrape(port: int) -> Samples:
    status, body = await _get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _queue(
    factory: sessionmaker[Session],
    clock: FakeClock,
    students: int,
    *,
    platform: str = "telegram",
    first_chat: int = 1000,
) -> None:
    """One announcement to ``students`` new students on ``platform``, due now."""
    with factory.begin() as session:
        for n in range(students):
            person = Person(name=f"S{n}", role=Role.STUDENT, created_at=clock.now)
            chat = str(first_chat + n) if platform == "telegram" else f"D{first_chat + n}"
            session.add(
                Account(
                    person=person,
                    platform=platform,
                    external_id=chat,
                    chat_id=chat,
                    last_seen_at=clock.now,
                    created_at=clock.now,
                )
            )
            session.flush()
            enqueue(
                session,
                person,
                f"Fair on Friday, {n}!",
                kind="announcement",
                key=f"fair:{platform}:{n}",
                now=clock.now,
            )


# -- health -------------------------------------------------------------------------------------


async def test_readyz_needs_the_current_schema_started_adapters_and_no_shutdown(
    db_url: str, tmp_path: Path
) -> None:
    app = build(Settings(database_url=db_url))
    health = Health(app.engine)
    server = HealthServer(health, "127.0.0.1", 0)
    await server.start()
    try:
        assert (await _get(server.port, "/healthz"))[0] == 200
        status, body = await _get(server.port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"] == {
            "database": True,
            "adapters": False,
            "accepting": True,
        }
        health.started = True
        assert (await _get(server.port, "/readyz"))[0] == 200
        health.stopping = True  # a shutdown began: the load balancer must look elsewhere
        assert (await _get(server.port, "/readyz"))[0] == 503
        assert (await _get(server.port, "/healthz"))[0] == 200
    finally:
        await server.stop()
        app.engine.dispose()

    # A database whose schema is behind the code's migrations is not ready, nor is one that
    # does not answer.
    behind = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with behind.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (id INTEGER)"))
    gone = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    for engine in (behind, gone):
        health = Health(engine)
        health.started = True
        assert (await health.checks())["database"] is False
        engine.dispose()


async def test_health_has_its_own_port_when_polling(fake: FakeTelegram, db_url: str) -> None:
    port = _free_port()
    app = build(_settings(fake, database_url=db_url, health_port=port, health_listen="127.0.0.1"))
    runner = Runner(app)
    serving = asyncio.create_task(runner.run())
    try:
        await _until(lambda: runner.health.started, "the runner to start")
        assert (await _get(port, "/healthz"))[0] == 200
        assert (await _get(port, "/readyz"))[0] == 200
        assert "oppbot_updates_total" in (await _get(port, "/metrics"))[1]
    finally:
        runner.stop()
        await serving
    app.engine.dispose()


# -- metrics ------------------------------------------------------------------------------------


async def test_metrics_count_updates_sends_and_the_outbox_on_the_webhook_port(
    fake: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    settings = _webhook_settings(fake).model_copy(update={"database_url": db_url})
    app = build(settings, clock=utcnow)
    runner = Runner(app)
    serving = asyncio.create_task(runner.run())
    port = settings.telegram_webhook_port
    try:
        await _until(lambda: runner.health.started, "the runner to start")
        assert (await _get(port, "/readyz"))[0] == 200
        before = await _scrape(port)

        for update in (
            fake.message_update(501, "/help"),
            fake.message_update(501, "/help"),
            fake.message_update(502, "/nosuchthing"),
            fake.message_update(503, "hello there"),
            fake.callback_update(504, "nosuch:1", message_id=1),
        ):
            fake.push(update)
        await fake.drain()
        await _until(lambda: len(fake.sent()) >= 4, "the answers")

        clock.now = clock.now.replace(year=2020)  # due for the real clock too
        fake.fail("sendMessage", "429", chat_id=1001, retry_after=1)
        fake.fail("sendMessage", "500", chat_id=1002)
        _queue(app.session_factory, clock, 3)
        _queue(app.session_factory, clock, 2, platform="slack")  # no Slack sender runs here
        runner._wake_senders()
        await _until(
            lambda: {1000, 1001, 1002} <= {c.params.get("chat_id") for c in fake.sent()},
            "the announcement to three students, after a 429 and a 500",
        )
        # Recorded after the platform accepted it: wait for the record, not only the arrival.
        await _until(
            lambda: set(_statuses(app.session_factory, "telegram").values()) == {OutboxStatus.SENT},
            "the sends to be recorded",
        )
        after = await _scrape(port)
    finally:
        runner.stop()
        await serving
    app.engine.dispose()

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("oppbot_updates_total", platform="telegram", command="help") == 2
    assert grew("oppbot_updates_total", platform="telegram", command="other") == 1
    assert grew("oppbot_updates_total", platform="telegram", command="text") == 1
    assert grew("oppbot_updates_total", platform="telegram", command="button") == 1
    assert grew("oppbot_update_handling_seconds_count", platform="telegram") == 5
    assert grew("oppbot_messages_sent_total", platform="telegram") == 3
    assert grew("oppbot_send_throttled_total", platform="telegram") == 1
    assert grew("oppbot_send_errors_total", platform="telegram", kind="server") == 1
    # Read from the database at the scrape: two messages wait for Slack, none for Telegram.
    assert _value(after, "oppbot_outbox_pending", platform="slack") == 2
    assert _value(after, "oppbot_outbox_pending", platform="telegram") == 0
    assert _value(after, "oppbot_outbox_oldest_due_age_seconds", platform="slack") > 86400
    # Every scheduler job ran once at start, and how late it started was observed.
    assert _value(after, "oppbot_scheduler_lag_seconds_count", job="reminders.queue") >= 1
    assert ("oppbot_reminders_total", (("outcome", "missed"),)) in after


# -- logs ---------------------------------------------------------------------------------------


async def test_json_logs_carry_the_update_id_and_no_secret_or_personal_data(
    fake: FakeTelegram, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    stream = io.StringIO()
    settings = _settings(fake, log_format="json")
    logs.configure(settings, stream)
    registry = build_registry()

    @registry.command("crash", roles=EVERYONE, help="fails")
    def crash(ctx: Context, args: str) -> list[Reply]:
        # The database error quotes the statement's parameters: what the person wrote.
        ctx.session.execute(text("SELECT * FROM no_such_table WHERE a = :a"), {"a": args})
        return []

    adapter = TelegramAdapter(Core(session_factory, registry, clock=clock), settings)
    await adapter.start()
    try:
        update = fake.message_update(913572468, f"/crash 12 Quayside {TOKEN}")
        fake.push(update)
        await _until(lambda: bool(fake.sent(913572468)), "the apology")
    finally:
        await adapter.stop()

    output = stream.getvalue()
    records = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    failure = next(r for r in records if r["logger"] == "bot.core" and r["level"] == "ERROR")
    assert failure["update_id"] == str(update["update_id"])
    assert "no_such_table" in failure["exc_info"]
    assert "update_id" not in records[0]  # written at start, handling nothing
    assert "Quayside" not in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output


# -- shutdown -----------------------------------------------------------------------------------


def _sent_per_chat(fake: FakeTelegram) -> Counter[int]:
    return Counter(int(c.params["chat_id"]) for c in fake.sent())


def _statuses(
    factory: sessionmaker[Session], platform: str = "telegram"
) -> dict[int, OutboxStatus]:
    with factory() as session:
        rows = session.execute(
            select(Account.chat_id, OutboxMessage.status)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(Account.platform == platform)
        ).all()
    return {int(chat): status for chat, status in rows}


async def _oppbot_run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; raise SystemExit(main(['run']))",
        cwd=ROOT,
        env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE,
    )


async def _terminate(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stderr.decode()


async def test_sigterm_mid_broadcast_loses_nothing_and_sends_nothing_twice(
    fake: FakeTelegram, db_url: str, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    students = 60
    clock.now = clock.now.replace(year=2020)  # due for the real clock of the process
    _queue(session_factory, clock, students)
    env = {
        "OPPBOT_DATABASE_URL": db_url,
        "OPPBOT_TELEGRAM_TOKEN": TOKEN,
        "OPPBOT_TELEGRAM_API_URL": fake.base_url.removesuffix("/bot"),
        "OPPBOT_SHUTDOWN_GRACE_SECONDS": "30",
    }
    first = await _oppbot_run(env)
    await _until(lambda: len(fake.sent()) >= 15, "the first sends", timeout=60)
    log = await _terminate(first)
    assert "stopped" in log

    sent = _sent_per_chat(fake)
    statuses = _statuses(session_factory)
    assert len(sent) < students, "the broadcast was over before the signal"
    # Whatever reached Telegram was recorded as sent before the process exited, and nothing
    # recorded as sent failed to reach it.
    assert {c for c, s in statuses.items() if s is OutboxStatus.SENT} == set(sent)
    assert set(statuses.values()) <= {OutboxStatus.SENT, OutboxStatus.PENDING}

    second = await _oppbot_run(env)
    everyone = {1000 + n for n in range(students)}
    await _until(lambda: set(_sent_per_chat(fake)) == everyone, "the rest", timeout=60)
    await _terminate(second)

    assert _sent_per_chat(fake) == Counter({chat: 1 for chat in everyone})
    assert set(_statuses(session_factory).values()) == {OutboxStatus.SENT}


# -- throughput ---------------------------------------------------------------------------------


def test_a_role_lookup_on_sqlite_does_not_queue_behind_a_writer(tmp_path: Path) -> None:
    """Slack's modal check reads a role while updates are being written: on SQLite it must not
    wait for the write lock (a modal's trigger expires 3 seconds after the command)."""
    app = build(Settings(database_url=f"sqlite:///{tmp_path / 'roles.db'}"))
    Chat(app.core, "U1", platform="slack", name="Ada").send("/help")

    # Waiting for a lock fails at once instead of after the busy timeout, so that waiting shows.
    @event.listens_for(app.engine, "connect")
    def _no_waiting(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    app.engine.dispose()
    with app.session_factory.begin() as writer:
        writer.execute(text("UPDATE accounts SET display_name = 'x'"))  # holds the write lock
        assert app.core.role_of("slack", "U1") is None  # a guest, read without waiting
    app.engine.dispose()


def test_bursts_on_postgresql_reuse_the_connections_the_worker_threads_opened(
    db_url: str,
) -> None:
    """Every worker thread busy with the database at once, three times over: the connections
    opened for the first burst serve the others. (A new one is a new PostgreSQL server
    process, which loads its caches and plans each statement afresh: about 20 ms of the
    server's CPU, where a whole /browse is under 1 ms.)"""
    if not db_url.startswith("postgresql"):
        pytest.skip("a SQLite connection is a file opened in the process")
    engine = make_engine(db_url)
    opened: list[object] = []
    event.listen(engine, "connect", lambda *_: opened.append(None))
    # asyncio's default executor, where the core, the scheduler and the senders run, at most
    # as many as a process may open at once.
    threads = min(32, (os.cpu_count() or 1) + 4, 15)
    together = threading.Barrier(threads)

    def work(_: int) -> None:
        with engine.connect() as conn:
            together.wait(timeout=10)  # each thread holds a connection at the same moment
            conn.execute(text("SELECT 1"))

    try:
        for _burst in range(3):
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(work, range(threads)))
        assert len(opened) == threads
    finally:
        engine.dispose()


def test_a_built_app_hands_the_gil_on_within_a_millisecond(tmp_path: Path) -> None:
    """A lookup someone waits for (may this person open the modal?) waits up to the switch
    interval at each of its database calls while the core's threads are busy: bench.slack_burst
    opened the last modal 1.2 s after its command with Python's 5 ms, 0.7 to 0.9 s with 1 ms."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        app = build(Settings(database_url=f"sqlite:///{tmp_path / 'gil.db'}"))
        app.engine.dispose()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)
