"""Alerts for new matches: in my fields or for a saved search, batched, at most daily (or
weekly), never in quiet hours, each opportunity once, with Pause and Stop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Timing
from handlers.messaging.alerts import send_alerts
from storage.models import AlertSent, OpportunityStatus, Person
from tests.conftest import FakeClock
from tests.helpers import Chat, add_opportunity, add_school, inbox, onboard, person_id, row_counts

TIMING = Timing()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def send(factory: sessionmaker[Session], clock: FakeClock) -> int:
    return send_alerts(factory, clock.now, TIMING)


def alert_texts(factory: sessionmaker[Session], chat: Chat) -> list[str]:
    return [text for text, _ in inbox(factory, chat, "alert")]


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per table, but for the record of handled events, which every press adds to."""
    return {k: v for k, v in row_counts(factory).items() if k != "processed_events"}


def person(factory: sessionmaker[Session], chat: Chat) -> Person:
    with factory() as session:
        found = session.get(Person, person_id(factory, chat))
        assert found is not None
        return found


@pytest.fixture
def ada(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> Chat:
    add_school(session_factory, clock.now)
    chat = Chat(core, "ada", name="Ada")
    onboard(chat, tags=("Technology & IT",))  # London: UTC in winter
    return chat


def test_an_alert_for_my_fields_batches_what_is_new(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_opportunity(session_factory, clock.now, title="Old news", tags=("technology",))
    clock.advance(minutes=1)
    ada.send("/alert")
    assert ada.text == (
        "Done: I'll tell you about new opportunities in your fields (Technology) as they come "
        "in, once a day at most and never at night. /alerts to see or remove your alerts."
    )
    assert send(session_factory, clock) == 0  # nothing new yet
    clock.advance(minutes=5)
    robot = add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    add_opportunity(session_factory, clock.now, title="Web intern", tags=("technology",))
    add_opportunity(session_factory, clock.now, title="Care assistant", tags=("health",))
    add_opportunity(
        session_factory,
        clock.now,
        title="Closed one",
        tags=("technology",),
        status=OpportunityStatus.CLOSED,
    )
    add_opportunity(
        session_factory, clock.now, title="Adults only", tags=("technology",), min_age=18
    )
    clock.advance(hours=1)
    assert send(session_factory, clock) == 1
    assert send(session_factory, clock) == 0
    [(text, buttons)] = inbox(session_factory, ada, "alert")
    assert text.startswith("New for you: 2 opportunities matching your alerts.\n\n")
    assert "1. Robot builder — Acme Ltd\n   No deadline · new opportunities in your fields" in text
    assert "Web intern" in text
    for absent in ("Old news", "Care assistant", "Closed one", "Adults only"):
        assert absent not in text
    assert [b.payload for b in buttons] == [
        f"opp:{robot}", f"opp:{robot + 1}", "ps:7", "ps:30", "ps:on", "al:stop"
    ]  # fmt: skip

    # Something new an hour later waits for the next day, and comes alone.
    clock.advance(hours=1)
    add_opportunity(session_factory, clock.now, title="Data intern", tags=("technology",))
    clock.advance(hours=2)
    assert send(session_factory, clock) == 0
    clock.now = utc(2026, 11, 24, 16, 6)
    assert send(session_factory, clock) == 1
    latest = alert_texts(session_factory, ada)[-1]
    assert latest.startswith("New for you: 1 opportunity")
    assert "Data intern" in latest and "Robot builder" not in latest


def test_a_saved_search_near_a_place(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alert  Nursing  near  Leeds ")
    assert ada.text.startswith('Done: I\'ll tell you about "Nursing" near Leeds as they come in')
    clock.advance(minutes=1)
    add_opportunity(session_factory, clock.now, title="Student nurse", location="Leeds, UK")
    add_opportunity(session_factory, clock.now, title="Trainee nurse", location="York")
    add_opportunity(session_factory, clock.now, title="Trader", location="Leeds")
    clock.advance(minutes=1)
    assert send(session_factory, clock) == 1
    [text] = alert_texts(session_factory, ada)
    assert '1. Student nurse — Acme Ltd\n   No deadline · "Nursing" near Leeds' in text
    assert "Trainee nurse" not in text and "Trader" not in text


def test_one_opportunity_and_one_role_once(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alert")
    ada.send("/alert robot")
    clock.advance(minutes=1)
    # Matches both alerts; and the same role again from another source.
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    add_opportunity(
        session_factory, clock.now, title="robot builder ", tags=("technology",), source="board"
    )
    clock.advance(minutes=1)
    assert send(session_factory, clock) == 1
    [text] = alert_texts(session_factory, ada)
    assert text.startswith("New for you: 1 opportunity")
    assert text.lower().count("robot builder") == 1
    with session_factory() as session:
        assert len(session.scalars(select(AlertSent)).all()) == 2
    # Neither comes again, however long it stays open.
    clock.advance(days=3)
    assert send(session_factory, clock) == 0


def test_never_in_quiet_hours(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alert")
    clock.now = utc(2026, 11, 23, 21, 30)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    assert send(session_factory, clock) == 0
    assert person(session_factory, ada).alert_next_at == utc(2026, 11, 24, 8, 0)
    clock.now = utc(2026, 11, 24, 2, 0)
    add_opportunity(session_factory, clock.now, title="Night owl", tags=("technology",))
    assert send(session_factory, clock) == 0
    clock.now = utc(2026, 11, 24, 8, 0)
    assert send(session_factory, clock) == 1
    [text] = alert_texts(session_factory, ada)
    assert "Robot builder" in text and "Night owl" in text


def test_weekly_alerts(ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    ada.send("/alert")
    ada.send("/alerts")
    ada.press("Weekly")
    assert ada.text.startswith("Your alerts (once a week at most):")
    assert [b.label for b in ada.buttons] == ["Remove 1", "Daily", "✓ Weekly"]
    clock.advance(minutes=1)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    clock.advance(minutes=1)
    assert send(session_factory, clock) == 1
    clock.advance(days=1)
    add_opportunity(session_factory, clock.now, title="Web intern", tags=("technology",))
    clock.advance(days=5)
    assert send(session_factory, clock) == 0
    clock.advance(days=1)
    assert send(session_factory, clock) == 1
    # Back to daily: still a day after the last one at the earliest.
    ada.send("/alerts")
    ada.press("Daily")
    add_opportunity(session_factory, clock.now, title="Data intern", tags=("technology",))
    clock.advance(hours=23)
    assert send(session_factory, clock) == 0
    clock.advance(hours=1)
    assert send(session_factory, clock) == 1


def test_pause_a_week_then_stop(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alert")
    ada.press_payload("ps:7")
    assert ada.text == "Paused: no alerts or digest until 30 Nov 2026."
    clock.advance(minutes=1)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    clock.advance(days=3)
    assert send(session_factory, clock) == 0
    ada.send("/alerts")
    assert "Alerts and the digest are paused until 30 Nov 2026." in ada.text
    assert "Resume" in [b.label for b in ada.buttons]
    clock.now = utc(2026, 11, 30, 15, 0)
    assert send(session_factory, clock) == 1
    assert "Robot builder" in alert_texts(session_factory, ada)[0]
    ada.press_payload("al:stop")
    assert ada.text == "Alerts stopped. Send /alert to start again."
    assert ada.replies[0].replace is False
    add_opportunity(session_factory, clock.now, title="Web intern", tags=("technology",))
    clock.advance(days=2)
    assert send(session_factory, clock) == 0
    ada.send("/alerts")
    assert ada.text.startswith("You have no alerts.")


def test_pause_until_resumed(
    ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alert")
    ada.press_payload("ps:on")
    clock.advance(minutes=1)
    add_opportunity(session_factory, clock.now, title="Robot builder", tags=("technology",))
    clock.advance(days=60)
    assert send(session_factory, clock) == 0
    ada.send("/alerts")
    assert "paused until you resume" in ada.text
    ada.press("Resume")
    assert ada.text == "Welcome back: alerts and the digest are on again."
    assert send(session_factory, clock) == 1


def test_listing_and_removing_alerts(
    core: Core, ada: Chat, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada.send("/alerts")
    assert ada.text.startswith("You have no alerts. Send /alert")
    ada.send("/alert")
    ada.send("/alert design near Manchester")
    ada.send("/alert design near manchester")
    assert ada.text == "You already have that alert. /alerts shows them all."
    ada.send("/alerts")
    assert ada.text == (
        "Your alerts (once a day at most):\n"
        "1. new opportunities in your fields (Technology)\n"
        '2. "design" near Manchester'
    )
    ada.press("Remove 1")
    assert ada.replies[0].replace is True
    assert (
        ada.text == 'Alert removed.\nYour alerts (once a day at most):\n1. "design" near Manchester'
    )
    # Someone else's alert, or one already gone, is not removed.
    other = Chat(core, "bob", name="Bob")
    onboard(other)
    other.send("/alert")
    other.send("/alerts")
    theirs = other.button("Remove 1").payload
    before = counts(session_factory)
    ada.press_payload(theirs)
    assert ada.text.startswith("That alert was already removed.")
    assert counts(session_factory) == before


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("/alert !!!", "I need a word to look for, like /alert nursing near Leeds."),
        ("/alert " + "x" * 101, "That search is too long. Please use fewer than 100 characters."),
        ("/alert data near " + "y" * 61, "That place name is too long. Try a town or city."),
        (
            "/alert data near ???",
            "I don't know that place. Try a town or a postcode area, like Leeds or LS6.",
        ),
    ],
)
def test_a_bad_alert_changes_nothing(
    ada: Chat, session_factory: sessionmaker[Session], typed: str, answer: str
) -> None:
    before = counts(session_factory)
    ada.send(typed)
    assert ada.text == answer
    assert counts(session_factory) == before


def test_a_stale_button_is_answered(ada: Chat, session_factory: sessionmaker[Session]) -> None:
    before = counts(session_factory)
    ada.press_payload("ps:99")
    assert ada.text == "That button doesn't work any more. Send /alerts to start again."
    ada.press_payload("al:rm:abc")
    assert "doesn't work any more" in ada.text
    assert counts(session_factory) == before


def test_a_quoted_alert_is_quoted_once(ada: Chat) -> None:
    ada.send('/alert "student nurse" near Leeds')
    assert ada.text.startswith('Done: I\'ll tell you about "student nurse" near Leeds as')
    ada.send("/alerts")
    assert '1. "student nurse" near Leeds' in ada.text


def test_my_data_lists_my_alerts(ada: Chat) -> None:
    ada.send("/mydata")
    assert "Alerts: none" in ada.text
    ada.send("/alert")
    ada.send("/alert nursing near Leeds")
    ada.press_payload("ps:30")
    ada.send("/mydata")
    assert (
        "Alerts: new opportunities in your fields (Technology); "
        '"nursing" near Leeds (once a day at most, paused)'
    ) in ada.text
