"""Engines, sessions and schema migrations."""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Select, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.durability import soft_commits

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_URL = "sqlite:///oppbot.db"
_MIGRATIONS = Path(__file__).with_name("migrations")


# An execution option for a session that only reads: ``session.connection(execution_options=
# {READ_ONLY: True})`` first. On SQLite it begins without the write lock, so a quick lookup
# (may this person open a modal?) does not queue behind the writers.
READ_ONLY = "oppbot_read_only"


# An execution option for a writer on SQLite that makes its commit durable itself, after
# letting the next writer in: ``session.connection(execution_options={SYNC_LATER: True})``
# first, ``make_durable(engine)`` after the commit. Otherwise each commit waits for the disk
# (an fsync, several ms) while it holds SQLite's one write lock; after it, the writers that
# committed meanwhile share one fsync.
SYNC_LATER = "oppbot_sync_later"


# The threads that hold a connection at once in ``oppbot run``: those of the event loop's
# default executor (the core's updates, the scheduler's jobs and the outbox senders run
# there), sized as ``concurrent.futures.ThreadPoolExecutor`` sizes it by default.
_WORKER_THREADS = min(32, (os.cpu_count() or 1) + 4)
# The most connections a process opens at once on PostgreSQL: the pool's default (5 kept and
# 10 more), so that several processes stay as far from the server's limit as they were.
_MOST_CONNECTIONS = 15


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine with the settings oppbot relies on for the given backend.

    SQLite gets WAL (readers never block the one writer), enforced foreign keys and a busy
    timeout, so the console, the scheduler and an adapter can share one file. A database error
    never quotes the statement's parameters (what people wrote) into a log.
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so that transactions really are transactions.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            if parsed.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # In WAL mode a reader waits for no writer, and no writer waits for it.
                conn.exec_driver_sql("BEGIN")
                return
            # synchronous is per connection and can only change outside a transaction; FULL
            # (SQLite's default) syncs the log at each commit, NORMAL leaves it to the caller.
            sync = "NORMAL" if conn.get_execution_options().get(SYNC_LATER) else "FULL"
            if conn.info.get(SYNC_LATER) != sync:
                conn.exec_driver_sql(f"PRAGMA synchronous={sync}")
                conn.info[SYNC_LATER] = sync
            # IMMEDIATE takes the write lock up front: two writers queue instead of deadlocking.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # Keep as many connections as the process's threads can use at once. With fewer (the
    # pool's default keeps 5), a connection returned while 5 wait idle is closed, and the next
    # busy moment opens a new one: a new server process on PostgreSQL, which plans each
    # statement afresh ten times before its plans are reused (``bench.inbound``: about 20 ms
    # of the server's CPU per new connection, against 0.8 ms for a whole /browse).
    if "pool_size" not in kwargs:
        kept = min(_WORKER_THREADS, _MOST_CONNECTIONS)
        kwargs.update(pool_size=kept, max_overflow=_MOST_CONNECTIONS - kept)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    soft_commits(engine)
    return engine


def make_durable(engine: Engine) -> None:
    """Make every transaction committed so far with ``SYNC_LATER`` durable: on a SQLite file,
    flush its write-ahead log to disk (with synchronous=NORMAL a commit has written the log,
    not synced it). No log file: nothing is waiting in one (the last connection's close
    checkpointed it, with a sync). Other databases commit durably already."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return
    try:
        fd = os.open(f"{database}-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def claimed_batches(
    factory: sessionmaker[Session],
    statement: Select[T],
    work: Callable[[Session, Sequence[T]], R],
    *,
    batch: int,
) -> Iterator[R]:
    """Hand the rows of ``statement`` to ``work``, ``batch`` at a time, and yield its results.

    Each batch is claimed with ``FOR UPDATE SKIP LOCKED`` and worked in a transaction of its
    own, committed before its result is yielded, so several workers share the rows and none
    is worked twice. ``work`` must change each row so ``statement`` no longer selects it (a
    status, a timestamp), or the loop would take it again. ``work`` runs inside the generator,
    not in the caller's loop, so an exception rolls its batch back.
    """
    while True:
        with transaction(factory) as session:
            rows = session.scalars(statement.limit(batch).with_for_update(skip_locked=True)).all()
            result = work(session, rows)
        yield result
        if len(rows) < batch:
            return


def insert_new(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, unique: str
) -> list[Any]:
    """Insert the ``rows`` whose ``unique`` column value is not taken; returns those inserted.

    A value that a concurrent transaction is inserting counts as taken (PostgreSQL waits for
    it), so two workers racing on the same rows never fail and never insert one twice.
    """
    if not rows:
        return []
    statement = (
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(table.c[unique])
    )
    return list(session.scalars(statement, list(rows)))


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's backend, which can skip rows that would conflict."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def try_job_lock(session: Session, name: str) -> bool:
    """Whether this transaction may do the periodic job ``name`` (no other worker is at it).

    PostgreSQL: a transaction-level advisory lock, freed at commit. SQLite: always, since its
    transactions already take the write lock and one process is supported there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = zlib.crc32(f"oppbot-job-{name}".encode())
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` with the Alembic migrations."""
    command.upgrade(alembic_config(engine), revision)


@functools.cache
def _script_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(_MIGRATIONS)).get_heads())


def schema_current(engine: Engine) -> bool:
    """Whether the database answers and its schema is at the migrations' newest revision."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads()) == _script_heads()
