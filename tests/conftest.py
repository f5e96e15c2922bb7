"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
an injectable clock, the core wired with every handler, and snapshots of prepared worlds."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.core import Core
from handlers import build_registry
from storage.db import make_engine, make_session_factory, upgrade
from storage.models import Base

PG_URL = os.environ.get("OPPBOT_TEST_DATABASE_URL")
# As `oppbot` does: python-telegram-bot's retry_after as a timedelta, without deprecation noise.
os.environ.setdefault("PTB_TIMEDELTA", "1")
T = TypeVar("T")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


class FakeClock:
    """The time as the core sees it; tests move it instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Logging as ``oppbot`` sets it up (tests call the CLI in-process) ends with the test."""
    root = logging.getLogger()
    level = root.level
    levels = {name: logging.getLogger(name).level for name in (*logs.QUIETED, "alembic")}
    yield
    for handler in [h for h in root.handlers if isinstance(h, logs.Handler)]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    # Closing the last connection checkpoints the WAL into the file, so a copy is complete.
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database, so that parallel test runs never collide."""
    assert PG_URL is not None
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"oppbot_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "oppbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    return url


def _truncate(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))


@pytest.fixture
def core(session_factory: sessionmaker[Session], clock: FakeClock) -> Core:
    return Core(session_factory, build_registry(), clock=clock)


@dataclass
class _Saved:
    """A world as a build left it: its database, the clock's time and what the build returned."""

    sqlite_file: Path | None
    pg_rows: list[tuple[str, list[dict[str, object]]]]
    pg_sequences: list[tuple[str, int]]
    now: datetime
    value: object
    # The build's own objects, which copies of ``value`` swap for the test's.
    originals: tuple[object, ...]


@pytest.fixture(scope="session")
def _saved_worlds(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[tuple[str, ...], _Saved]]:
    return tmp_path_factory.mktemp("worlds"), {}


def _is_pristine(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not any(
            conn.scalar(select(text("1")).select_from(table).limit(1))
            for table in Base.metadata.sorted_tables
        )


class Snapshot:
    """Builds a world (people onboarded by chatting, listings, ...) once per worker and backend,
    then copies it into each test's database: the same rows, ids, codes and clock time as if
    the build had run in the test, in a fraction of the time.

    ``snapshot(build)`` runs ``build(core, session_factory, clock)`` the first time and returns
    its result; later it restores the database the build left and returns a copy of the result
    whose chats talk to this test's core. It must be the first thing written to the database
    (it replaces the whole database), and may be called again in the same test for a fresh
    copy, e.g. once per property-test example. ``snapshot(None)`` restores the empty database.
    """

    def __init__(
        self,
        request: pytest.FixtureRequest,
        engine: Engine,
        session_factory: sessionmaker[Session],
        clock: FakeClock,
        core: Core,
    ) -> None:
        self.request = request
        self.engine = engine
        self.session_factory = session_factory
        self.clock = clock
        self.core = core
        self.start = clock.now
        self.written = False
        self.folder, self.saved = request.getfixturevalue("_saved_worlds")

    def __call__(self, build: Callable[[Core, sessionmaker[Session], FakeClock], T] | None) -> T:
        # The test's database is fresh the first time: no need to empty it again.
        fresh = not self.written
        if fresh:
            assert _is_pristine(self.engine), "take the snapshot before writing to the database"
            self.written = True
        key = (
            self.engine.url.get_backend_name(),
            self.start.isoformat(),
            *((build.__module__, build.__qualname__) if build else ()),
        )
        self.clock.now = self.start
        if build is None:
            if not fresh:
                self._empty()
            return None  # type: ignore[return-value]
        saved = self.saved.get(key)
        if saved is None:
            if not fresh:
                self._empty()
            value = build(self.core, self.session_factory, self.clock)
            self.saved[key] = self._save(len(self.saved), value)
            return value
        self._restore(saved, fresh)
        self.clock.now = saved.now
        memo = {id(old): new for old, new in zip(saved.originals, self._objects(), strict=True)}
        return copy.deepcopy(saved.value, memo)  # type: ignore[return-value]

    def _objects(self) -> tuple[object, ...]:
        return (self.core, self.session_factory, self.clock, self.engine)

    def _sqlite_path(self) -> Path:
        database = self.engine.url.database
        assert database
        return Path(database)

    def _save(self, number: int, value: object) -> _Saved:
        file, rows, sequences = None, [], []
        if self.engine.url.get_backend_name() == "sqlite":
            # With no connection open, SQLite has checkpointed the WAL: the file is complete.
            self.engine.dispose()
            file = self.folder / f"world-{number}.db"
            shutil.copy(self._sqlite_path(), file)
        else:
            with self.engine.connect() as conn:
                rows = [
                    (table.name, [dict(r) for r in conn.execute(select(table)).mappings()])
                    for table in Base.metadata.sorted_tables
                ]
                sequences = [
                    (name, last)
                    for name, last in conn.execute(
                        text(
                            "SELECT sequencename, last_value FROM pg_sequences"
                            " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                        )
                    )
                ]
        return _Saved(file, rows, sequences, self.clock.now, value, self._objects())

    def _empty(self) -> None:
        if self.engine.url.get_backend_name() == "sqlite":
            self._copy_file(self.request.getfixturevalue("sqlite_template"))
        else:
            _truncate(self.engine)

    def _copy_file(self, source: Path) -> None:
        self.engine.dispose()
        path = self._sqlite_path()
        for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy(source, path)

    def _restore(self, saved: _Saved, fresh: bool) -> None:
        if saved.sqlite_file is not None:
            self._copy_file(saved.sqlite_file)
            return
        if not fresh:
            _truncate(self.engine)
        tables = Base.metadata.tables
        # Inserted with the triggers on, in dependency order: the search index fills as usual.
        with self.engine.begin() as conn:
            for name, rows in saved.pg_rows:
                if rows:
                    conn.execute(tables[name].insert(), rows)
            for sequence, last in saved.pg_sequences:
                conn.execute(
                    text("SELECT setval(quote_ident(:name), :last)"),
                    {"name": sequence, "last": last},
                )


@pytest.fixture
def snapshot(
    request: pytest.FixtureRequest,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    core: Core,
) -> Snapshot:
    return Snapshot(request, engine, session_factory, clock, core)
