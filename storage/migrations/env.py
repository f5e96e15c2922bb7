"""Alembic environment: runs against the engine handed over by ``storage.db.upgrade``.

With the ``alembic`` command line, ``OPPBOT_DATABASE_URL`` names the database instead.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from storage.db import DEFAULT_URL, make_engine
from storage.models import Base, UTCDateTime
from storage.search import include_in_schema


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations stay free of our model code: UTCDateTime is a plain aware DateTime on disk.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


config = context.config
engine = config.attributes.get("engine") or make_engine(
    os.environ.get("OPPBOT_DATABASE_URL", DEFAULT_URL)
)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by dropping it, and with foreign keys on, dropping
        # ``people`` would delete every account and orphan every interest. The pragma only
        # takes effect outside a transaction, so it goes to the driver before ours begins.
        _sqlite_foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
            render_as_batch=sqlite,
            compare_type=True,
            render_item=_render_item,
            include_name=include_in_schema,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)
