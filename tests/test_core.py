"""The core: routing, roles, bad input, idempotency and unexpected errors."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Context, Core, Incoming, Reply
from storage.models import Account, Role
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    APOLOGY,
    Chat,
    add_opportunity,
    add_school,
    join_with_invite,
    make_employer,
    onboard,
    person_id,
    row_counts,
)

_HELP_LINE = re.compile(r"^/(\w+) — ", re.MULTILINE)

EVERYONES = {"help", "cancel", "language", "start", "join", "mydata", "forget", "consent"}
STUDENTS = EVERYONES | {"browse", "search", "clear", "filter", "mine", "saved"}
STUDENTS |= {"remind", "reminders", "digest", "alert", "alerts", "calendar"}
STUDENTS |= {"guardian", "hours", "record", "ask"}
TEACHERS = EVERYONES | {"invite", "publish", "pending", "close", "edit", "cohort", "interested"}
TEACHERS |= {"thread", "import", "listings", "announce", "report", "timezone"}
TEACHERS |= {"delivery", "objective", "objectives", "sources"}
TEACHERS |= {"place", "placements", "hours", "evidence", "record", "questions", "answer"}
EMPLOYERS = EVERYONES | {"propose", "timezone"}
EMPLOYERS |= {"report", "placements", "hours", "matches", "colleagues"}


def _ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    add_school(session_factory, clock.now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat)
    return chat


@pytest.fixture
def ada(snapshot: Snapshot) -> Chat:
    return snapshot(_ada)


def help_commands(chat: Chat) -> set[str]:
    chat.send("/help")
    return set(_HELP_LINE.findall(chat.text))


def test_help_lists_exactly_the_commands_of_the_role(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, ada: Chat
) -> None:
    guest = Chat(core, "guest")
    assert help_commands(guest) == EVERYONES
    assert guest.text.startswith("Send /start to join your class")
    assert help_commands(ada) == STUDENTS
    assert ada.text.startswith("Here's what you can do:")

    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    assert help_commands(teacher) == TEACHERS

    add_opportunity(session_factory, clock.now, organisation="Acme Ltd")
    employer = Chat(core, "maya")
    make_employer(session_factory, clock.now, employer, "Acme Ltd")
    assert help_commands(employer) == EMPLOYERS


@pytest.mark.parametrize(
    "text", ["/browse", "/BROWSE", "/Browse@oppbot_bot", "/list", "/b", "browse", "LIST"]
)
def test_commands_are_case_insensitive_with_aliases_and_bot_names(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock, text: str
) -> None:
    add_opportunity(session_factory, clock.now, title="Robot builder")
    ada.send(text)
    assert "1 open opportunity" in ada.text and "(page 1 of 1)" in ada.text


@pytest.mark.parametrize("text", ["help", "HELP", "Help", "/h", "/HELP@oppbot", "?", "menu"])
def test_help_without_a_slash_and_by_its_aliases(core: Core, text: str) -> None:
    guest = Chat(core, "guest")
    guest.send(text)
    assert set(_HELP_LINE.findall(guest.text)) == EVERYONES


def test_command_arguments_after_a_bot_name(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Robot builder")
    add_opportunity(session_factory, clock.now, title="Nurse")
    ada.send("/search@oppbot_bot robot")
    assert '1 open opportunity for "robot"' in ada.text


@pytest.mark.parametrize("who", ["guest", "student"])
def test_an_unknown_command_points_to_help(core: Core, ada: Chat, who: str) -> None:
    chat = ada if who == "student" else Chat(core, "guest")
    chat.send("/frobnicate now")
    assert chat.text == "I don't know /frobnicate. Send /help to see what I can do."


@pytest.mark.parametrize("who", ["guest", "student"])
def test_text_with_no_context_points_to_help(core: Core, ada: Chat, who: str) -> None:
    chat = ada if who == "student" else Chat(core, "guest")
    chat.send("what's up?")
    assert chat.text == "I'm not sure what you mean. Send /help to see what I can do."


def test_roles_are_checked_for_commands_and_buttons(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, ada: Chat
) -> None:
    ada.send("/invite teacher")
    assert (
        ada.text == "Sorry, that is only for admins or teachers. Send /help to see what you can do."
    )
    teacher = Chat(core, "tess")
    join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    oid = add_opportunity(session_factory, clock.now)
    before = row_counts(session_factory)
    teacher.send("/browse")
    assert "only for students" in teacher.text
    teacher.press_payload(f"int:{oid}")
    assert "only for students" in teacher.text
    teacher.press_payload(f"sv:{oid}")
    assert "only for students" in teacher.text
    after = row_counts(session_factory)
    assert after["interests"] == before["interests"] == 0
    assert after["saved_opportunities"] == before["saved_opportunities"] == 0


def test_a_guest_pressing_a_student_button_is_sent_to_start(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    oid = add_opportunity(session_factory, clock.now)
    guest = Chat(core, "guest")
    guest.press_payload(f"int:{oid}")
    assert guest.text == "You haven't joined yet. Send /start to get set up first."
    assert row_counts(session_factory)["interests"] == 0


BAD_TEXT = [
    ("x" * 5001, "That message is too long for me (5,001 characters). Please keep it under 5,000."),
    ("hello\x00world", "invisible control characters"),
    ("\x1b[31mred", "invisible control characters"),
    ("/browse\x07", "invisible control characters"),
    ("lone \ud800 surrogate", "invisible control characters"),
    ("", "I didn't get any text there"),
    ("  \n\t ", "I didn't get any text there"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_TEXT)
def test_bad_text_gets_a_short_reply_and_changes_nothing(
    ada: Chat, session_factory: sessionmaker[Session], text: str, expected: str
) -> None:
    before = row_counts(session_factory)
    replies = ada.send(text)
    assert len(replies) == 1
    assert expected in ada.text
    assert len(ada.text) < 120
    assert row_counts(session_factory) == before


def test_a_message_of_exactly_the_limit_is_read(ada: Chat) -> None:
    ada.send("/search " + "y" * 1992)
    assert "That search is too long" in ada.text


BAD_PAYLOADS = [
    "opp:" + "1" * 61,  # 65 bytes
    "opp:1\n",
    "OPP:1",
    "opp::1",
    "opp:1 2",
    ":opp",
    "",
    "opp:\ud800",
    "sv:1;DROP TABLE people",
    "zzz:1",  # well-formed, but no such action
    "zzz",
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_bad_payloads_are_stale_buttons_and_change_nothing(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock, payload: str
) -> None:
    add_opportunity(session_factory, clock.now)
    before = row_counts(session_factory)
    ada.press_payload(payload)
    assert ada.text == "That button doesn't work any more. Send /help to see what you can do."
    after = row_counts(session_factory)
    # A well-formed press is remembered as handled (so a redelivery is skipped); nothing else.
    assert {**after, "processed_events": 0} == {**before, "processed_events": 0}


def test_a_control_character_in_a_display_name_is_dropped(
    core: Core, session_factory: sessionmaker[Session]
) -> None:
    eve = Chat(core, "eve", name="Eve\x00\x1b Adams")
    eve.send("/start")
    assert "What's your first name?" in eve.text
    assert eve.button("I'm Eve").payload == "onb:name"
    with session_factory() as session:
        account = session.scalars(select(Account).where(Account.external_id == "eve")).one()
        assert account.display_name == "Eve Adams"
        assert account.person.name == "Eve Adams"


def _incoming(event_id: str, *, platform: str = "telegram", **kwargs: str) -> Incoming:
    return Incoming(platform=platform, user_id="ada", chat_id="c-ada", event_id=event_id, **kwargs)


def test_a_redelivered_event_is_handled_once(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    oid = add_opportunity(session_factory, clock.now)
    make_employer(session_factory, clock.now, Chat(core, "maya"), "Acme Ltd")
    ada = Chat(core, "ada", platform="telegram")
    onboard(ada)
    press = _incoming("upd-1", payload=f"intn:{oid}")
    first = core.handle(press)
    assert "Done!" in first[0].text
    assert core.handle(press) == []
    counts = row_counts(session_factory)
    assert (counts["interests"], counts["outbox"]) == (1, 1)
    # The same id on another platform is another event.
    assert core.handle(_incoming("upd-1", platform="slack", text="/help")) != []


def test_a_redelivered_text_message_is_skipped(core: Core) -> None:
    message = _incoming("m-7", text="/help")
    assert core.handle(message)[0].text.startswith("Send /start")
    assert core.handle(message) == []


def test_a_handled_event_id_is_remembered_for_days_not_forever(
    core: Core, clock: FakeClock
) -> None:
    message = _incoming("upd-42", text="/help")
    assert core.handle(message) != []
    clock.advance(days=2, hours=23)
    assert core.handle(message) == [], "a redelivery within the window is skipped"
    # Telegram numbers updates afresh after a quiet week: the id now names a new update.
    clock.advance(hours=2)
    assert core.handle(message) != []
    assert core.handle(message) == [], "and that one is remembered in turn"


def test_an_unexpected_error_is_logged_apologised_for_and_rolled_back(
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_school(session_factory, clock.now)
    oid = add_opportunity(session_factory, clock.now)
    ada = Chat(core, "ada", platform="telegram")
    onboard(ada)
    save = core.registry.actions["sv"]

    def save_then_fail(ctx: Context, args: list[str]) -> list[Reply]:
        save.func(ctx, args)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(core.registry.actions, "sv", replace(save, func=save_then_fail))
    before = row_counts(session_factory)
    press = _incoming("upd-9", payload=f"sv:{oid}")
    with caplog.at_level(logging.ERROR, logger="bot.core"):
        assert core.handle(press) == [Reply(APOLOGY)]
    assert row_counts(session_factory) == before
    (record,) = [r for r in caplog.records if r.name == "bot.core"]
    assert "failed to handle telegram update (event upd-9" in record.getMessage()
    assert "ada" not in record.getMessage()
    assert f"payload 'sv:{oid}'" in record.getMessage()
    assert record.exc_info is not None and "disk on fire" in str(record.exc_info[1])

    # Nothing was recorded, so the platform's retry of the same event is handled in full.
    monkeypatch.undo()
    assert "Saved." in core.handle(press)[0].text
    assert row_counts(session_factory)["saved_opportunities"] == 1


def test_a_one_message_question_is_closed_by_a_command(ada: Chat) -> None:
    ada.send("/search")
    assert "What should I look for?" in ada.text
    ada.send("/mine")
    ada.send("robots")
    assert "I'm not sure what you mean" in ada.text


def test_writing_again_marks_an_unreachable_account_reachable(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    pid = person_id(session_factory, ada)
    with session_factory.begin() as session:
        account = session.scalars(select(Account).where(Account.person_id == pid)).one()
        account.unreachable_at = clock.now
    clock.advance(hours=1)
    ada.send("/help")
    with session_factory() as session:
        account = session.scalars(select(Account).where(Account.person_id == pid)).one()
        assert account.unreachable_at is None
        assert account.last_seen_at == clock.now
