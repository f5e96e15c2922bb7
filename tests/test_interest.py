"""Registering interest, /mine, withdrawing, and saved opportunities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from storage.models import (
    Account,
    Interest,
    InterestStatus,
    Opportunity,
    OpportunityStatus,
    OutboxMessage,
    Person,
    SavedOpportunity,
)
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    make_employer,
    onboard,
    person_id,
    row_counts,
)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    opportunity: int
    ada: Chat  # under 18, no guardian's consent on file
    bob: Chat  # 18 or over
    employers: tuple[Chat, Chat]

    def interests(self) -> list[Interest]:
        with self.factory() as session:
            return list(session.scalars(select(Interest).order_by(Interest.id)))

    def outbox(self, kind: str) -> list[tuple[str, str]]:
        """(recipient's user id, text) of the queued messages of ``kind``."""
        with self.factory() as session:
            rows = session.execute(
                select(Account.external_id, OutboxMessage.text)
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
            return [(user, text) for user, text in rows]


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(
        session_factory,
        clock.now,
        title="Software intern",
        deadline=clock.now.date() + timedelta(days=7),
    )
    add_opportunity(session_factory, clock.now, title="Elsewhere", organisation="Other Org")
    employers = (Chat(core, "maya", name="Maya"), Chat(core, "raj", name="Raj"))
    for employer in employers:
        make_employer(session_factory, clock.now, employer, "Acme Ltd")
    make_employer(session_factory, clock.now, Chat(core, "olga"), "Other Org")
    ada = Chat(core, "ada", name="Ada")
    onboard(ada, under_18=True)
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False, tags=("Technology & IT", "Engineering"))
    return World(core, session_factory, clock, opportunity, ada, bob, employers)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def register(world: World, chat: Chat, note: str | None) -> None:
    chat.press_payload(f"opp:{world.opportunity}")
    chat.press("I'm interested")
    assert "add a short note for Acme Ltd" in chat.text
    if note is None:
        chat.press("Send without a note")
    else:
        chat.send(note)
    assert "Done! Acme Ltd will hear that you're interested in Software intern" in chat.text


def test_registering_with_a_note_records_it_once_and_tells_each_member(world: World) -> None:
    register(world, world.bob, "I build robots at home.")
    assert world.bob.button("Interest sent").payload == "mine"
    (interest,) = world.interests()
    assert interest.person_id == person_id(world.factory, world.bob)
    assert interest.opportunity_id == world.opportunity
    assert interest.status == InterestStatus.INTERESTED
    assert interest.note == "I build robots at home."

    sent = world.outbox("match")
    assert [user for user, _ in sent] == ["maya", "raj"]
    for _, text in sent:
        assert text == (
            "Bob (Year 11, Riverside High) is interested in Software intern.\n"
            "Interested in: Engineering, Technology & IT\n"
            "Their note: I build robots at home.\n"
            "Status: New"
        )
    with world.factory() as session:
        about = set(session.scalars(select(OutboxMessage.about_person_id)))
    assert about == {interest.person_id}


def test_registering_without_a_note(world: World) -> None:
    register(world, world.bob, None)
    (interest,) = world.interests()
    assert interest.note is None
    for _, text in world.outbox("match"):
        assert "Their note" not in text
        assert text.startswith("Bob (Year 11, Riverside High) is interested")


def test_a_minor_without_consent_is_anonymous_to_the_employer(world: World) -> None:
    register(world, world.ada, "My mum says hi, I'm in Year 11 at Riverside")
    sent = world.outbox("match")
    assert len(sent) == 2
    for _, text in sent:
        assert text == (
            "A student is interested in Software intern. Their school will share their "
            "details once a guardian's consent is on file."
        )
    assert world.interests()[0].note == "My mum says hi, I'm in Year 11 at Riverside"


def test_a_minor_with_consent_is_introduced(world: World) -> None:
    with world.factory.begin() as session:
        ada = session.get(Person, person_id(world.factory, world.ada))
        assert ada is not None
        ada.guardian_consent_at = world.clock.now
    register(world, world.ada, "Hello!")
    for _, text in world.outbox("match"):
        assert text.startswith("Ada (Year 11, Riverside High) is interested in Software intern.")
        assert "Their note: Hello!" in text


def test_registering_twice_says_so_and_adds_nothing(world: World) -> None:
    register(world, world.bob, None)
    before = row_counts(world.factory)
    world.bob.press_payload(f"int:{world.opportunity}")
    assert "You already registered interest on 23 Nov" in world.bob.text
    assert world.bob.button("My applications").payload == "mine"
    # The "Send without a note" button of the first time, pressed again.
    world.bob.press_payload(f"intn:{world.opportunity}")
    assert "You already registered interest" in world.bob.text
    after = row_counts(world.factory)
    assert after["interests"] == before["interests"] == 1
    assert after["outbox"] == before["outbox"] == 2


def _close(world: World) -> None:
    with world.factory.begin() as session:
        opportunity = session.get(Opportunity, world.opportunity)
        assert opportunity is not None
        opportunity.status = OpportunityStatus.CLOSED


def _delete(world: World) -> None:
    with world.factory.begin() as session:
        session.execute(delete(Opportunity).where(Opportunity.id == world.opportunity))


def _pass_deadline(world: World) -> None:
    world.clock.advance(days=8)


STALE: list[tuple[Callable[[World], None], str]] = [
    (_close, "That opportunity is no longer available"),
    (_delete, "That opportunity is no longer available"),
    (_pass_deadline, "applications for Software intern closed on 30 Nov 2026"),
]


@pytest.mark.parametrize(("change", "expected"), STALE)
def test_a_stale_interest_button_is_refused_politely(
    world: World, change: Callable[[World], None], expected: str
) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    change(world)
    before = row_counts(world.factory)
    world.bob.press("I'm interested")
    assert expected in world.bob.text
    assert row_counts(world.factory) == before
    assert world.interests() == []


@pytest.mark.parametrize(("change", "expected"), STALE)
def test_a_note_for_an_opportunity_gone_meanwhile_is_refused(
    world: World, change: Callable[[World], None], expected: str
) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("I'm interested")
    change(world)
    world.bob.send("Please pick me")
    assert expected in world.bob.text
    world.bob.press_payload(f"intn:{world.opportunity}")
    assert expected in world.bob.text
    assert world.interests() == []
    assert world.outbox("match") == []


def test_an_ineligible_student_cannot_register(world: World) -> None:
    adults = add_opportunity(world.factory, world.clock.now, title="Night shift", min_age=18)
    world.ada.press_payload(f"int:{adults}")
    assert "Sorry, you can't apply for that one: it is for people aged 18 or over." in (
        world.ada.text
    )
    world.ada.press_payload(f"intn:{adults}")
    assert "can't apply" in world.ada.text
    assert world.interests() == []


def test_a_note_over_500_characters_is_refused_and_can_be_retyped(world: World) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("I'm interested")
    world.bob.send("x" * 501)
    assert "That note is 501 characters; please keep it under 500" in world.bob.text
    assert world.interests() == []
    assert world.outbox("match") == []
    assert world.bob.button("Send without a note")  # offered again with the refusal
    world.bob.send("y" * 500)
    assert "Done!" in world.bob.text
    assert world.interests()[0].note == "y" * 500


def test_cancelling_the_note_sends_nothing(world: World) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("I'm interested")
    world.bob.press("Cancel")
    assert "OK, nothing sent" in world.bob.text
    world.bob.send("this is not a note")
    assert world.interests() == []
    assert "Send /help" in world.bob.text


def test_mine_lists_status_and_next_step(world: World) -> None:
    world.bob.send("/mine")
    assert "You haven't registered interest in anything yet" in world.bob.text
    register(world, world.bob, None)
    other = add_opportunity(world.factory, world.clock.now, title="Lab tour", organisation="Lab")
    with world.factory.begin() as session:
        session.add(
            Interest(
                person_id=person_id(world.factory, world.bob),
                opportunity_id=other,
                status=InterestStatus.DECLINED,
                created_at=world.clock.now - timedelta(days=3),
                updated_at=world.clock.now - timedelta(days=1),
            )
        )
    world.bob.send("/mine")
    assert world.bob.text == (
        "Your applications:\n"
        "\n1. Software intern — Acme Ltd\n"
        "   Interest sent. The employer has been told; their reply comes here.\n"
        "\n2. Lab tour — Lab\n"
        "   Not this time. The employer said no this time. Keep looking: /browse"
    )
    (interest_id,) = [i.id for i in world.interests() if i.opportunity_id == world.opportunity]
    assert [(b.label, b.payload) for b in world.bob.buttons] == [
        ("Withdraw 1", f"wd:{interest_id}")
    ]


def test_withdrawing_after_confirmation_tells_the_employer_only_that(world: World) -> None:
    register(world, world.bob, "Secret note")
    world.bob.send("/mine")
    world.bob.press("Withdraw 1")
    assert "Withdraw your interest in Software intern — Acme Ltd?" in world.bob.text
    world.bob.press("Keep it")
    assert world.interests()[0].status == InterestStatus.INTERESTED
    world.bob.send("/mine")
    world.bob.press("Withdraw 1")
    world.bob.press("Yes, withdraw")
    assert world.bob.replies[0].replace is True
    assert "Withdrawn: Software intern." in world.bob.text
    assert "Withdrawn. You withdrew. You can register again while it's open." in world.bob.text
    (interest,) = world.interests()
    assert interest.status == InterestStatus.WITHDRAWN
    assert world.outbox("withdrawn") == [
        ("maya", "A student has withdrawn their interest in Software intern."),
        ("raj", "A student has withdrawn their interest in Software intern."),
    ]
    with world.factory() as session:
        about = session.scalars(
            select(OutboxMessage.about_person_id).where(OutboxMessage.kind == "withdrawn")
        ).all()
    assert about == [None, None]
    # Withdrawing again (the old confirmation button) changes nothing.
    world.bob.press_payload(f"wdy:{interest.id}")
    assert "nothing to withdraw" in world.bob.text
    assert len(world.outbox("withdrawn")) == 2


def test_registering_again_after_withdrawing(world: World) -> None:
    register(world, world.bob, "First")
    (interest,) = world.interests()
    world.bob.press_payload(f"wdy:{interest.id}")
    world.clock.advance(hours=2)
    world.bob.press_payload(f"opp:{world.opportunity}")
    assert world.bob.button("I'm interested").payload == f"int:{world.opportunity}"
    register(world, world.bob, None)
    (again,) = world.interests()
    assert again.id == interest.id
    assert (again.status, again.note) == (InterestStatus.INTERESTED, None)
    assert len(world.outbox("match")) == 4


def test_a_forged_withdraw_button_for_someone_elses_interest_is_refused(world: World) -> None:
    register(world, world.ada, None)
    (interest,) = world.interests()
    before = row_counts(world.factory)
    for payload, expected in (
        (f"wd:{interest.id}", "I can't find that application"),
        (f"wdy:{interest.id}", "I can't find that application"),
        ("wd:999999", "I can't find that application"),
        ("wdy:abc", "That button doesn't work any more"),
        ("wd", "That button doesn't work any more"),
    ):
        world.bob.press_payload(payload)
        assert expected in world.bob.text, payload
    assert world.interests()[0].status == InterestStatus.INTERESTED
    assert row_counts(world.factory) == before


def test_save_and_unsave_from_the_card(world: World) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("Save")
    assert "Saved. Find it again with /saved." in world.bob.text
    assert world.bob.button("Unsave").payload == f"usv:{world.opportunity}"
    world.bob.press_payload(f"sv:{world.opportunity}")
    with world.factory() as session:
        assert session.scalars(select(SavedOpportunity.opportunity_id)).all() == [world.opportunity]
    world.bob.send("/saved")
    assert world.bob.text == "Your saved opportunities:\n\n1. Software intern — Acme Ltd"
    world.bob.press("1")
    assert world.bob.text.startswith("Software intern — Acme Ltd")
    world.bob.press("Unsave")
    assert "Removed from your saved list." in world.bob.text
    assert world.bob.button("Save").payload == f"sv:{world.opportunity}"
    world.bob.press("Back")
    assert "You haven't saved anything yet" in world.bob.text
    assert row_counts(world.factory)["saved_opportunities"] == 0


def _counts(world: World) -> dict[str, int]:
    """Rows per table, but for the record of handled events (every press is handled)."""
    return {k: v for k, v in row_counts(world.factory).items() if k != "processed_events"}


def test_every_save_and_unsave_press_gets_an_answer_and_changes_nothing_twice(
    world: World,
) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("Save")
    before = _counts(world)
    # A double tap, or Save on an older card: a new message each time, never a silent edit.
    for _ in range(2):
        world.bob.press_payload(f"sv:{world.opportunity}")
        (reply,) = world.bob.replies
        assert reply.text == "Already saved ✓ Software intern is in your /saved list."
        assert not reply.replace
    assert _counts(world) == before
    world.bob.press_payload(f"usv:{world.opportunity}")
    assert "Removed from your saved list." in world.bob.text
    after = _counts(world)
    for _ in range(2):
        world.bob.press_payload(f"usv:{world.opportunity}")
        (reply,) = world.bob.replies
        assert reply.text == "That one isn't in your saved list (any more). /saved shows what is."
        assert not reply.replace
    assert _counts(world) == after


def test_the_note_prompts_cancel_after_the_interest_went_tells_the_truth(world: World) -> None:
    world.bob.press_payload(f"opp:{world.opportunity}")
    world.bob.press("I'm interested")
    cancel = world.bob.button("Cancel").payload
    world.bob.send("I build robots.")
    assert "Done!" in world.bob.text
    before = _counts(world)
    world.bob.press_payload(cancel)
    (reply,) = world.bob.replies
    assert reply.text == (
        "Your interest in Software intern was already sent to Acme Ltd on 23 Nov 2026, "
        "so there's nothing to cancel. /mine shows where it stands."
    )
    # It takes the prompt's buttons away.
    assert reply.replace
    assert [b.payload for b in world.bob.buttons] == ["mine"]
    assert _counts(world) == before
    assert [i.status for i in world.interests()] == [InterestStatus.INTERESTED]
    assert world.outbox("withdrawn") == []
    # Before anything is sent, Cancel still cancels.
    other = add_opportunity(world.factory, world.clock.now, title="Robotics club")
    world.bob.press_payload(f"int:{other}")
    world.bob.press("Cancel")
    assert world.bob.text == "OK, nothing sent. Send /browse to keep looking."
    world.bob.send("hello there")
    assert len(world.interests()) == 1


def test_saved_list_marks_closed_ones(world: World) -> None:
    day = world.clock.now.date()
    expiring = add_opportunity(
        world.factory, world.clock.now, title="Soon gone", deadline=day + timedelta(days=1)
    )
    for oid in (world.opportunity, expiring):
        world.bob.press_payload(f"sv:{oid}")
    _close(world)
    world.clock.advance(days=2)
    world.bob.send("/saved")
    assert "1. Soon gone — Acme Ltd (closed)" in world.bob.text
    assert "2. Software intern — Acme Ltd (closed)" in world.bob.text
    assert [b.label for b in world.bob.buttons] == ["Remove 1", "Remove 2"]
    # Both can be removed, though neither can be opened any more.
    world.bob.press("Remove 2")
    assert world.bob.replies[0].replace
    assert "Removed from your saved list." in world.bob.text
    assert "1. Soon gone — Acme Ltd (closed)" in world.bob.text
    world.bob.press("Remove 1")
    assert "You haven't saved anything yet" in world.bob.text
    assert row_counts(world.factory)["saved_opportunities"] == 0
