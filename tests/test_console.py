"""The console adapter, driven with piped input as a person (or a script) would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.console import ConsoleChat
from bot.core import Core
from storage.db import transaction
from storage.demo import seed
from storage.models import Interest, Opportunity, OutboxMessage, OutboxStatus, Person
from storage.outbox import enqueue, enqueue_edit
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parent.parent

JOURNEY = [
    "/start",
    "Ada Lovelace",  # the whole name at the first name question: the family name is offered
    "1",  # "Lovelace", pressed by its number
    "river-11",  # codes are case-insensitive
    "11",  # the grade as text, though "11" is also a button label
    "3",  # "No, I'm 18 or over", pressed by its number
    "Technology & IT",  # pressed by its label
    "Done (1 chosen)",
    "London",
    "Skip",  # where they can get to
    "/browse soonest",
    "3",  # the third opportunity in the list
    "I'm interested",
    "Please consider me, I build robots at home.",
    "/mine",
]


def _chat(core: Core, factory: sessionmaker[Session], user: str) -> tuple[ConsoleChat, io.StringIO]:
    out = io.StringIO()
    return ConsoleChat(core, factory, user, out, echo=True), out


def test_student_journey_and_employer_notification(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        seed(session, clock.now)
    ada, ada_out = _chat(core, session_factory, "Ada")
    ada.run(JOURNEY)
    transcript = ada_out.getvalue()
    assert "Welcome, Ada!" in transcript
    assert "[1] I'm interested" in transcript
    assert "Shadow a software engineer — Acme Robotics" in transcript
    assert "Done! Acme Robotics will hear" in transcript
    assert "Interest sent." in transcript

    with session_factory() as session:
        # Ada's, beside the demo's placed student's.
        assert session.scalar(select(func.count()).select_from(Interest)) == 2
        pending = session.scalars(select(OutboxMessage)).one()
        assert pending.status == OutboxStatus.PENDING

    # The demo employer sees the match notification when they open the console.
    maya, maya_out = _chat(core, session_factory, "maya")
    maya.run([])
    assert (
        "[message] Ada (Year 11, Riverside High) is interested in Shadow a software engineer"
        in (maya_out.getvalue())
    )
    assert "Their note: Please consider me, I build robots at home." in maya_out.getvalue()
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage)).one().status == OutboxStatus.SENT
    # Delivered once: opening the console again shows nothing new.
    again, again_out = _chat(core, session_factory, "maya")
    again.run([])
    assert "[message]" not in again_out.getvalue()


def test_the_demo_has_a_placement_to_show(
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the console saves the report's chart where it runs
    with transaction(session_factory) as session:
        seed(session, clock.now)
    sam, sam_out = _chat(core, session_factory, "sam")
    sam.run(["/hours"])
    assert "10h confirmed of 40h expected, 3h waiting" in sam_out.getvalue()
    tess, tess_out = _chat(core, session_factory, "tess")
    tess.run(["/report", "/hours"])
    report = tess_out.getvalue()
    assert "• Placements: 1 (up 1)" in report
    assert "• Feedback from students: 5.0 of 5 (1 answer)" in report
    assert "Sam Rivers (Year 11): 10h confirmed" in report
    assert (tmp_path / "partnership-report.png").read_bytes().startswith(b"\x89PNG")


def test_numbers_beyond_the_buttons_are_text(
    core: Core, session_factory: sessionmaker[Session]
) -> None:
    chat, out = _chat(core, session_factory, "Sam")
    chat.run(["/forget", "9"])
    transcript = out.getvalue()
    assert "[1] Yes, delete everything   [2] No, keep it" in transcript
    assert "Send /help" in transcript.split("> 9")[1]


@pytest.mark.slow
def test_oppbot_chat_command_with_piped_input(tmp_path: Path) -> None:
    env = {**os.environ, "OPPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--as", "Ada", "--demo"],
        input="\n".join(JOURNEY) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert "Welcome, Ada!" in result.stdout
    assert "Done! Acme Robotics will hear" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_import_path_sends_a_local_file(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    with transaction(session_factory) as session:
        seed(session, clock.now)
    listings = tmp_path / "listings.csv"
    listings.write_text("external_id,title,organisation\nc1,Console lab,Acme Ltd\n")
    tess, out = _chat(core, session_factory, "tess")  # the demo teacher
    ada, ada_out = _chat(core, session_factory, "ada")
    tess.run([f"/import {listings}", f"/import {tmp_path / 'missing.csv'}"])
    ada.run([f"/import {listings}"])
    assert "Imported listings.csv: 1 opportunity: 1 created" in out.getvalue()
    assert f"I can't read {tmp_path / 'missing.csv'}: No such file or directory." in out.getvalue()
    assert "only teachers can import listings" in ada_out.getvalue()
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Opportunity.title == "Console lab")) == 1


def test_replies_in_a_thread_and_edits_say_which_message_they_belong_to(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        seed(session, clock.now)
    maya, maya_out = _chat(core, session_factory, "maya")
    maya.run([])  # her account, as the demo's employer
    with transaction(session_factory) as session:
        person = session.scalars(select(Person).where(Person.name == "Maya Okafor")).one()
        enqueue(
            session, person, "Ada is interested.\nStatus: New", kind="t", key="root", now=clock.now
        )
        enqueue(
            session,
            person,
            "Ada replies: yes",
            kind="t",
            key="reply",
            now=clock.now,
            thread_of="root",
        )
        enqueue_edit(
            session,
            "root",
            "Ada is interested.\nStatus: Invited",
            kind="t",
            key="edit",
            now=clock.now,
        )
    maya.deliver()
    shown = maya_out.getvalue()
    assert "[message] Ada is interested." in shown
    assert '[reply to "Ada is interested."] Ada replies: yes' in shown
    assert '[update of "Ada is interested."] Ada is interested.\nStatus: Invited' in shown


def test_the_consoles_own_labels_are_in_the_persons_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        seed(session, clock.now)
    maya, maya_out = _chat(core, session_factory, "maya")
    maya.run([])
    with transaction(session_factory) as session:
        person = session.scalars(select(Person).where(Person.name == "Maya Okafor")).one()
        person.language = "pl"
        enqueue(session, person, "Ada is interested.", kind="t", key="root", now=clock.now)
        enqueue(
            session,
            person,
            "Ada replies: yes",
            kind="t",
            key="reply",
            now=clock.now,
            thread_of="root",
        )
        enqueue_edit(session, "root", "Ada is invited.", kind="t", key="edit", now=clock.now)
    maya.deliver()
    shown = maya_out.getvalue()
    assert "[wiadomość] Ada is interested." in shown
    assert "[odpowiedź na „Ada is interested.”] Ada replies: yes" in shown
    assert "[zmiana w „Ada is interested.”] Ada is invited." in shown
    assert "[message]" not in shown
