"""Property-based: whatever arrives, the core answers politely and never fails unexpectedly."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from bot.core import MAX_PAYLOAD_BYTES, Core, Incoming, Reply
from handlers import build_registry
from storage.models import Role
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    APOLOGY,
    Chat,
    add_opportunity,
    add_school,
    join_with_invite,
    make_employer,
    onboard,
)

ACTIONS = sorted(build_registry().actions)
COMMANDS = sorted(
    {word for c in build_registry().commands.values() for word in (c.name, *c.aliases)}
)

# Every kind of character, including control characters and lone surrogates.
_chars = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from("\x00\x1b\x7f\n\t /:@-_0123456789"),
)
_long = st.builds(lambda ch, n: ch * n, _chars, st.integers(1990, 2010))
_commands = st.builds(
    lambda word, slash, args: f"{slash}{word} {args}".strip(),
    st.sampled_from(COMMANDS),
    st.sampled_from(["/", ""]),
    st.text(_chars, max_size=40),
)
TEXTS = st.one_of(st.text(_chars, max_size=200), _long, _commands)

_arg = st.one_of(
    st.integers(0, 12).map(str),
    st.text("0123456789abcxyzXYZ_.+/-", min_size=1, max_size=70),
    st.sampled_from(["technology", "internship", "Europe/London", "redo", "keep", "grade", "1"]),
)

# Hundreds of examples, each on a fresh database.
pytestmark = pytest.mark.slow


def payloads(actions: list[str]) -> st.SearchStrategy[str]:
    """Arbitrary strings, and well-formed payloads naming real actions with odd arguments."""
    named = st.builds(
        lambda name, args: ":".join([name, *args]),
        st.sampled_from(actions),
        st.lists(_arg, max_size=3),
    )
    return st.one_of(st.text(_chars, max_size=100), named)


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    # Each example starts from a fresh copy of its snapshot, not from the fixture's database.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_events = itertools.count(1)


def answer(core: Core, user: str, *, text: str | None = None, payload: str | None = None) -> None:
    replies = core.handle(
        Incoming(
            platform="console",
            user_id=user,
            chat_id=f"chat-{user}",
            display_name=user.title(),
            text=text,
            payload=payload,
            event_id=f"prop-{next(_events)}",
        )
    )
    assert replies, (text, payload)
    for reply in replies:
        assert isinstance(reply, Reply)
        assert reply.text.strip()
        assert reply.text != APOLOGY, (text, payload)
        assert len(reply.text) <= 4096
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                assert len(button.payload.encode()) <= MAX_PAYLOAD_BYTES
                assert button.payload.split(":")[0] in ACTIONS, button.payload


def _student(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> str:
    """An onboarded student, opportunities to act on and an employer to notify."""
    add_school(session_factory, clock.now)
    for n in range(1, 8):
        add_opportunity(session_factory, clock.now, title=f"Opportunity {n}", min_age=n * 3)
    make_employer(session_factory, clock.now, Chat(core, "maya"), "Acme Ltd")
    chat = Chat(core, "ada", name="Ada")
    onboard(chat)
    return chat.user


@SETTINGS
@given(text=TEXTS)
def test_any_text_from_a_guest_is_answered(core: Core, snapshot: Snapshot, text: str) -> None:
    snapshot(None)
    answer(core, "guest", text=text)


@SETTINGS
@given(text=TEXTS)
def test_any_text_from_a_student_is_answered(core: Core, snapshot: Snapshot, text: str) -> None:
    student = snapshot(_student)
    answer(core, student, text=text)


@SETTINGS
@given(payload=payloads(ACTIONS))
def test_any_payload_from_a_guest_is_answered(core: Core, snapshot: Snapshot, payload: str) -> None:
    snapshot(None)
    answer(core, "guest", payload=payload)


@SETTINGS
@given(payload=payloads([a for a in ACTIONS if a != "fgy"]), text=TEXTS)
def test_any_payload_then_text_from_a_student_is_answered(
    core: Core, snapshot: Snapshot, payload: str, text: str
) -> None:
    student = snapshot(_student)
    # The text after a press lands in whatever dialog the press opened (a note, a search).
    answer(core, student, payload=payload)
    answer(core, student, text=text)


def _staff(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> tuple[str, str]:
    """An employer member and a teacher, with a placement, logged hours and feedback rows."""
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(
        session_factory,
        clock.now,
        start_date=clock.now.date(),
        end_date=clock.now.date() + timedelta(days=10),
    )
    maya = Chat(core, "maya", name="Maya")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    tina = Chat(core, "tina", name="Tina")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    bob = Chat(core, "bob", name="Bob")
    onboard(bob, under_18=False)
    bob.press_payload(f"int:{opportunity}")
    bob.press("Send without a note")
    maya.press_payload("em:1:inv")
    maya.send("Monday 9am")
    maya.press_payload("em:1:pl")
    bob.send("/hours today 3h")
    assert bob.text.startswith("Logged: 3h"), bob.text
    return maya.user, tina.user


@SETTINGS
@given(payload=payloads([a for a in ACTIONS if a != "fgy"]), text=TEXTS)
def test_any_payload_then_text_from_an_employer_or_teacher_is_answered(
    core: Core, snapshot: Snapshot, payload: str, text: str
) -> None:
    staff = snapshot(_staff)
    for user in staff:
        answer(core, user, payload=payload)
        answer(core, user, text=text)
