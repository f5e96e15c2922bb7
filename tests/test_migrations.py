"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from storage.db import alembic_config, upgrade
from storage.models import Base
from storage.search import include_in_schema


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_in_schema})
        return list(compare_metadata(context, Base.metadata))


def test_migrated_schema_matches_models(engine: Engine) -> None:
    assert _differences(engine) == []


@pytest.mark.slow
def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert _differences(engine) == []
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())


def test_interests_from_before_0003_count_as_shared_unless_consent_was_missing(
    engine: Engine,
) -> None:
    """Consent given after the upgrade re-sends only what an employer never saw; nothing is lost."""
    command.downgrade(alembic_config(engine), "0002")
    at = "2026-11-20 10:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', :at)"),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO opportunities (id, organisation_id, kind, title, description,"
                " location, remote, status, created_at, updated_at) VALUES"
                " (1, 1, 'internship', 'Intern', '', '', false, 'open', :at, :at)"
            ),
            {"at": at},
        )
        for pid, under_18, consent in ((1, False, None), (2, True, None), (3, True, at)):
            conn.execute(
                text(
                    "INSERT INTO people (id, name, timezone, under_18, guardian_consent_at,"
                    " created_at) VALUES (:id, 'P', 'UTC', :u, :c, :at)"
                ),
                {"id": pid, "u": under_18, "c": consent, "at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO accounts (person_id, platform, external_id, chat_id,"
                    " display_name, last_seen_at, created_at)"
                    " VALUES (:id, 'console', :id, :id, '', :at, :at)"
                ),
                {"id": pid, "at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO interests (person_id, opportunity_id, status, created_at,"
                    " updated_at) VALUES (:id, 1, 'interested', :at, :at)"
                ),
                {"id": pid, "at": at},
            )
    upgrade(engine)
    with engine.connect() as conn:
        shared = dict(
            conn.execute(
                text(
                    "SELECT person_id, details_shared_at IS NOT NULL FROM interests"
                    " ORDER BY person_id"
                )
            ).all()
        )
    # Rebuilding ``people`` on SQLite must not cascade to what points at it.
    assert shared == {1: True, 2: False, 3: True}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM accounts")) == 3


def test_existing_interests_take_their_student_s_school(engine: Engine) -> None:
    """Interests from before 0004 count for their student's school in the report."""
    command.downgrade(alembic_config(engine), "0003")
    at = "2026-11-20 10:00:00+00:00"
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO schools (id, name, created_at) VALUES (1, 'Riverside', :at)",
            "INSERT INTO cohorts (id, school_id, name, join_code, created_at)"
            " VALUES (1, 1, 'Year 11', 'RIVER-11', :at)",
            "INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', :at)",
            "INSERT INTO opportunities (id, organisation_id, kind, title, description,"
            " location, remote, status, created_at, updated_at) VALUES"
            " (1, 1, 'internship', 'Intern', '', '', false, 'open', :at, :at)",
            # A student of a class, one without a class yet.
            "INSERT INTO people (id, name, timezone, cohort_id, created_at)"
            " VALUES (1, 'In a class', 'UTC', 1, :at)",
            "INSERT INTO people (id, name, timezone, created_at)"
            " VALUES (2, 'No class', 'UTC', :at)",
        ):
            conn.execute(text(statement), {"at": at})
        # The third interest's student already deleted their data.
        for iid, pid in ((1, 1), (2, 2), (3, None)):
            conn.execute(
                text(
                    "INSERT INTO interests (id, person_id, opportunity_id, status, created_at,"
                    " updated_at) VALUES (:iid, :pid, 1, 'interested', :at, :at)"
                ),
                {"iid": iid, "pid": pid, "at": at},
            )
    upgrade(engine)
    with engine.connect() as conn:
        schools = dict(conn.execute(text("SELECT id, school_id FROM interests")).all())
    assert schools == {1: 1, 2: None, 3: None}
