"""Which PostgreSQL commits must wait for the disk, and which need not.

A transaction that writes only what the same person's next update writes again (that the
event was handled, where the conversation stands, when the account was last seen, the
language the platform reports) commits without waiting for its write-ahead log to reach the
disk: PostgreSQL's ``synchronous_commit = off`` for that one transaction, sent with the
COMMIT itself, so it costs no extra round trip. Browsing is such a transaction: each one
otherwise waits for an fsync, which on a shared disk takes longer than the whole update's
work in the server (``bench.inbound``: docs/PERFORMANCE.md).

What such a commit risks is documented by PostgreSQL: if the *server* crashes within a
fraction of a second after it (three times ``wal_writer_delay``, 0.6 s by default), the
transaction is lost as a whole, never in part, and the database stays consistent. Every
other transaction, anything written with these rows included, waits for the disk as
before, and its flush makes every earlier commit durable too. The outbox, interests,
consent, hours, feedback, a person's details and every other table are never "soft": a
statement this module does not recognise counts as lasting.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event

# Tables whose rows the person's next update writes again, and which of their columns
# (``None``: all of them). A crash that loses one of these writes costs at most an answer
# given again or a page shown from the start.
SOFT: Mapping[str, frozenset[str] | None] = {
    # The handled event ids: their writing transaction's other writes are soft too, so an
    # event whose id is lost changed nothing that lasts.
    "processed_events": None,
    # Where each conversation stands: the list's page and filters, a form's next question.
    "conversation_state": None,
    # Each update records where the person wrote from and that they are reachable again.
    "accounts": frozenset({"chat_id", "last_seen_at", "unreachable_at", "menu"}),
    # The language the platform reports, recorded at a person's first update (only where
    # none is known: see _ONLY_WHERE).
    "people": frozenset({"language"}),
}

# An UPDATE of these tables is soft only if its WHERE clause holds this condition too:
# filling in a language not known yet is soft, changing one a person chose is not.
_ONLY_WHERE: Mapping[str, str] = {"people": "people.language IS NULL"}

# What a transaction has written so far, in its connection's ``info``.
_WRITTEN = "oppbot_written"
_SOFT_ONLY, _LASTING = "soft", "lasting"

# Statements that write nothing: reads, and a transaction's own bookkeeping.
_NEUTRAL = frozenset({"SELECT", "SHOW", "SET", "SAVEPOINT", "RELEASE", "ROLLBACK"})
_INSERT = re.compile(r"INSERT INTO (\w+)")
_UPDATE = re.compile(r"UPDATE (\w+) SET (.*?)(?: WHERE (.*?))?(?: RETURNING .*)?$", re.DOTALL)
_DELETE = re.compile(r"DELETE FROM (\w+)")
_ASSIGNED = re.compile(r"(\w+)=")
_PLACEHOLDER = re.compile(r"%\(\w+\)s")
_WRITES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b")


@functools.lru_cache(maxsize=1024)
def writes(statement: str) -> str | None:
    """What ``statement`` writes: nothing (``None``), only soft rows, or something lasting.

    Read from the SQL that SQLAlchemy sends (the same few hundred statements again and
    again, hence the cache). Whatever is not recognised is lasting.
    """
    text = statement.lstrip()
    first = text.split(None, 1)[0].upper() if text else ""
    if first in _NEUTRAL and not (first == "SELECT" and " INTO " in text.upper()):
        return None
    if first == "WITH":  # a common table expression: a read unless it writes anywhere
        return _LASTING if _WRITES.search(text.upper().replace("FOR UPDATE", "")) else None
    if first == "INSERT":
        match = _INSERT.match(text)
        return _SOFT_ONLY if match and SOFT.get(match.group(1), ()) is None else _LASTING
    if first == "DELETE":
        match = _DELETE.match(text)
        return _SOFT_ONLY if match and SOFT.get(match.group(1), ()) is None else _LASTING
    if first == "UPDATE":
        match = _UPDATE.match(text)
        if match is None or match.group(1) not in SOFT:
            return _LASTING
        columns = SOFT[match.group(1)]
        values = _PLACEHOLDER.sub("?", match.group(2))
        assigned = set(_ASSIGNED.findall(values))
        # A subquery or function in the SET list could hide more columns after its WHERE.
        soft = assigned and "(" not in values and (columns is None or assigned <= columns)
        condition = _ONLY_WHERE.get(match.group(1))
        if condition is not None and condition not in (match.group(3) or ""):
            soft = False
        return _SOFT_ONLY if soft else _LASTING
    return _LASTING


def soft_commits(engine: Engine) -> None:
    """Commit ``engine``'s soft-only transactions without waiting for the disk (PostgreSQL
    with psycopg; a no-op elsewhere)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.info.pop(_WRITTEN, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_WRITTEN) != _LASTING:
            written = writes(statement)
            if written is not None:
                conn.info[_WRITTEN] = written

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        if conn.info.pop(_WRITTEN, None) == _SOFT_ONLY:
            commit_soon(conn.connection.dbapi_connection)


def commit_soon(dbapi_connection: Any) -> None:
    """Commit the open transaction without waiting for the disk, in one round trip.

    The setting lasts for this transaction only (``SET LOCAL``). psycopg sends the two
    statements as one simple query and sees the transaction ended, so the COMMIT that
    SQLAlchemy asks of it next has nothing left to do.
    """
    if dbapi_connection.info.transaction_status == TransactionStatus.INTRANS:
        dbapi_connection.execute("SET LOCAL synchronous_commit TO off; COMMIT")
