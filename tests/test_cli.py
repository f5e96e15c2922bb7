"""The ``oppbot`` command line: schema, demo data and invite codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from bot.app import build
from bot.cli import main
from bot.config import Settings
from handlers.listings import importer as imports
from handlers.listings.importer import BATCH_SIZE
from storage.db import make_engine
from storage.models import AuditEntry, Opportunity, Person, Role
from tests.helpers import Chat


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPPBOT_DATABASE_URL", url)
    return url


def test_db_upgrade_creates_the_schema(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    tables = set(inspect(make_engine(database)).get_table_names())
    assert {"people", "accounts", "opportunities", "outbox", "alembic_version"} <= tables


def test_demo_is_added_once(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Demo data added." in out and "already there" in out
    with build(Settings(database_url=database)).session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Opportunity)) == 12


def test_invite_code_grants_the_role(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--role", "employer", "--organisation", "Acme Ltd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Invite code for an employer: ")
    code = re.search(r"/join (\S+)", out)
    assert code is not None
    app = build(Settings(database_url=database))
    chat = Chat(app.core, "maya", name="Maya Okafor")
    chat.send(f"/join {code.group(1)}")
    assert "set up as an employer for Acme Ltd" in chat.text
    chat.send(f"/join {code.group(1)}")
    assert "already set up as an employer" in chat.text
    other = Chat(app.core, "eve", name="Eve")
    other.send(f"/join {code.group(1)}")
    assert "already been used" in other.text
    with app.session_factory() as session:
        maya = session.scalars(select(Person).where(Person.name == "Maya Okafor")).one()
        assert maya.role == Role.EMPLOYER
        assert maya.organisation is not None and maya.organisation.name == "Acme Ltd"
        audit = session.scalars(select(AuditEntry)).one()
        assert (audit.action, audit.subject_id, audit.detail["role"]) == (
            "role_granted",
            maya.id,
            "employer",
        )


def test_employer_invite_needs_an_organisation(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "--role", "employer"]) == 2
    assert "--organisation" in capsys.readouterr().err


def test_a_teacher_invite_for_a_school(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--role", "teacher", "--school", "Riverside  High"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Invite code for a teacher: ")
    code = re.search(r"/join (\S+)", out)
    assert code is not None
    app = build(Settings(database_url=database))
    chat = Chat(app.core, "tina", name="Tina")
    chat.send(f"/join {code.group(1)}")
    assert "You're now set up as a teacher" in chat.text
    chat.send("/cohort Year 11")
    assert chat.text.startswith("Created Year 11 at Riverside High.")
    with app.session_factory() as session:
        tina = session.scalars(select(Person).where(Person.name == "Tina")).one()
        assert tina.school is not None and tina.school.name == "Riverside High"


def test_invalid_settings_are_named_one_line_each(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPPBOT_TELEGRAM_MODE", "foo")
    monkeypatch.setenv("OPPBOT_QUIET_START", "late")
    assert main(["db", "upgrade"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    mode, quiet = captured.err.splitlines()  # no traceback, one line each
    assert mode == "Invalid setting OPPBOT_TELEGRAM_MODE: Input should be 'polling' or 'webhook'."
    assert quiet.startswith("Invalid setting OPPBOT_QUIET_START: Input should be in a valid time")
    assert not Path(database.removeprefix("sqlite:///")).exists()  # nothing was started


def test_webhook_mode_without_its_address_and_secret(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPPBOT_TELEGRAM_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.setenv("OPPBOT_TELEGRAM_MODE", "webhook")
    assert main(["run"]) == 2
    assert capsys.readouterr().err == (
        "Invalid settings: webhook mode needs OPPBOT_TELEGRAM_WEBHOOK_URL, "
        "OPPBOT_TELEGRAM_WEBHOOK_SECRET.\n"
    )


def test_run_says_what_it_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    # argparse wraps the help to the terminal's width.
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "run serve Telegram and/or Slack (whichever has a token) with the scheduler and the "
        "outbox senders, until stopped"
    ) in help_text


def test_an_import_nested_too_deeply_is_refused_in_one_line(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "deep.json"
    hostile.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert main(["import", str(hostile)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "Import failed: deep.json: it is nested too deeply to be a listings file "
        "(an array of objects)\n"
    )
    with build(Settings(database_url=database)).session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Opportunity)) == 0


def test_import_says_how_far_it_got_then_the_summary(
    database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 500)
    rows = BATCH_SIZE * 4 + 1
    listings = tmp_path / "many.csv"
    listings.write_text(
        "external_id,title,organisation\n"
        + "".join(f"M{n},Role {n},Org {n % 5}\n" for n in range(rows))
    )
    assert main(["import", str(listings)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"500 of {rows:,} listings done so far…",
        f"1,000 of {rows:,} listings done so far…",
    ]
    assert captured.out == (
        f"{rows} opportunities: {rows} created, 0 updated, 0 unchanged; 0 rows skipped\n"
    )
    with build(Settings(database_url=database)).session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Opportunity)) == rows


@pytest.mark.slow
def test_the_console_imports_a_big_file_between_turns(tmp_path: Path) -> None:
    rows = BATCH_SIZE + 1
    listings = tmp_path / "many.csv"
    listings.write_text(
        "external_id,title,organisation\n"
        + "".join(f"M{n},Role {n},Org {n % 5}\n" for n in range(rows))
    )
    env = {**os.environ, "OPPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--as", "tess", "--demo"],
        input=f"/import {listings}\n/listings\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
        check=True,
    )
    turns = result.stdout.split("> ")
    assert turns[1].splitlines()[1:] == [
        f"Importing {rows} listings from many.csv. I'll tell you how it's going, and "
        "what was imported when it's done.",
        f"[message] Imported many.csv: {rows} opportunities: {rows} created, 0 updated, "
        "0 unchanged; 0 rows skipped",
    ]
