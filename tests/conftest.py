"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
an injectable clock, and the core wired with every handler."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
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
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


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
