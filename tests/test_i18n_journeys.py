"""The pseudo-language through whole journeys of reports, placements and privacy: a teacher's
/report and /evidence, an employer confirming hours and giving feedback, a student's /mydata.

People speak ``en-XA``; every word they read must have come through a catalogue. Names, titles,
what people typed and the dates Babel writes (English month and day names in en-XA) are values,
passed as ``allowed``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.core import Reply, Timing
from bot.i18n import PSEUDO, fmt_date, fmt_day, language
from handlers import actions
from handlers.listings.opportunities import PUBLISH_FORM
from handlers.placements.feedback import ask_due_feedback
from storage.models import Account, Opportunity, Person
from tests.conftest import FakeClock
from tests.helpers import Chat, inbox, last_message
from tests.pseudo import leaks
from tests.test_placements import START, World, place
from tests.test_placements import world as world

# The demo world's names and titles, and what the journeys type.
VALUES = (
    "Bob Smith",
    "Bob",
    "Cat Jones",
    "Maya Jones",
    "Maya",
    "Software intern",
    "Acme Ltd",
    "Riverside High",
    "Year 11",
    "Europe/London",
    "console",
    "You left at 2pm",
    "Great to have him",
    "careers fair",
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _dates(*days: date) -> tuple[str, ...]:
    """The day and month names Babel writes for ``days`` in the pseudo-language (English)."""
    with language(PSEUDO):
        return tuple(word for d in days for word in f"{fmt_day(d)} {fmt_date(d)}".split())


def _speak_pseudo(world: World, *chats: Chat) -> None:
    """These people chose the pseudo-language (as /language would store it)."""
    users = [chat.user for chat in chats]
    with world.factory.begin() as session:
        ids = select(Account.person_id).where(Account.external_id.in_(users))
        session.execute(update(Person).where(Person.id.in_(ids)).values(language=PSEUDO))


def _untranslated(seen: list[Reply], allowed: tuple[str, ...]) -> list[str]:
    """The messages with English left in them (their texts, for the failure's report)."""
    return [
        f"{leaks([r], allowed=allowed)} in {r.text!r}" for r in seen if leaks([r], allowed=allowed)
    ]


def _queued(world: World, chat: Chat, kind: str | None = None) -> list[Reply]:
    return [Reply(text, ((*buttons,),)) for text, buttons in inbox(world.factory, chat, kind)]


def test_an_employer_confirms_and_queries_hours_and_gives_feedback_in_their_language(
    world: World,
) -> None:
    pid = place(world, world.bob)
    _speak_pseudo(world, world.bob, world.maya)
    seen: list[Reply] = []
    seen += world.bob.send("/hours yesterday 3h")
    text, buttons = last_message(world.factory, world.maya, "hours")
    assert text.startswith("⟦") and buttons[0].label == "⟦Çöñƒîŕɱ⟧"
    seen += world.maya.press_payload(buttons[0].payload)
    seen += world.bob.send("/hours today 6h")
    _text, buttons = last_message(world.factory, world.maya, "hours")
    seen += world.maya.press_payload(buttons[1].payload)
    seen += world.maya.send("You left at 2pm")
    seen += world.maya.send(f"/hours {pid}")
    seen += world.maya.send(f"/placements {pid}")
    seen += world.maya.press_payload(f"plc:{pid}:hours")
    seen += world.maya.send("40")
    seen += world.bob.send("/hours")
    # Halfway through: both are asked how it goes, each in their own language.
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    assert ask_due_feedback(world.factory, world.clock.now, Timing()).asked == 2
    _text, buttons = last_message(world.factory, world.maya, "feedback")
    seen += world.maya.press_payload(buttons[3].payload)
    seen += world.maya.send("Great to have him")
    for kind in ("hours", "feedback", "placement"):
        seen += _queued(world, world.maya, kind) + _queued(world, world.bob, kind)
    dates = _dates(date(2026, 12, 1), date(2026, 12, 2), date(2026, 11, 23), date(2026, 12, 18))
    assert _untranslated(seen, (*VALUES, *dates)) == []


def test_a_teachers_report_and_evidence_in_their_language(world: World) -> None:
    pid = place(world, world.bob)
    world.bob.send("/hours yesterday 3h")
    world.maya.press_payload(last_message(world.factory, world.maya, "hours")[1][0].payload)
    _speak_pseudo(world, world.tina)
    seen: list[Reply] = []
    for text in (
        "/report",
        "/report 30d",
        "/report last term",
        "/report 1999-01-01 1999-02-01",
        "/objective placements 5",
        "/objective reply within 2 days for Acme Ltd",
        "/objective 90% of Year 11 with a workplace experience by July",
        "/objective placements 0",
        "/objectives",
        "/evidence",
        f"/hours {pid}",
        "/hours",
        "/placements",
        "/record",
        "/record careers fair with Acme Ltd for Year 11",
    ):
        seen += world.tina.send(text)
    seen += world.tina.press_payload(world.tina.buttons[0].payload)  # they talked with them
    seen += world.tina.press_payload(world.tina.buttons[0].payload)  # save
    seen += world.tina.send("/evidence 11")
    record = [b for b in world.tina.buttons if b.label == "⟦1: ŕéçöŕđ⟧"]
    seen += world.tina.press_payload(record[0].payload)
    seen += world.tina.press_payload(actions.EVIDENCE_CSV.payload("all"))
    header = world.tina.replies[0].file
    assert header is not None and header.content.decode().startswith("⟦šţûđéñţ_îđ⟧")
    today = START.date()
    dates = _dates(
        today,
        today - timedelta(days=1),
        today - timedelta(days=89),
        today - timedelta(days=29),
        date(2026, 9, 1),
        date(2027, 8, 31),
        date(2027, 7, 31),
        date(2026, 11, 23),
        date(2026, 12, 18),
        today + timedelta(days=89),
    )
    allowed = (*VALUES, *dates, "Tina Teacher", "Cat", "Other Org")
    assert _untranslated(seen, allowed) == []


def test_a_students_mydata_in_their_language(world: World) -> None:
    place(world, world.bob)
    world.bob.send("/hours yesterday 3h")
    world.clock.now = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    ask_due_feedback(world.factory, world.clock.now, Timing())
    _speak_pseudo(world, world.bob)
    _text, buttons = last_message(world.factory, world.bob, "feedback")
    world.bob.press_payload(buttons[4].payload)
    world.bob.send("Great to have him")
    seen = world.bob.send("/mydata")
    seen += world.bob.send("/record")
    seen += world.bob.send("/forget")
    seen += world.bob.press_payload(world.bob.buttons[1].payload)
    dates = _dates(date(2026, 12, 1), date(2026, 11, 23), date(2026, 12, 18), START.date())
    assert "⟦Éṽéŕýţĥîñĝ Î šţöŕé àƀöûţ ýöû:⟧" in seen[0].text
    # What others wrote, and the reminders stored when Bob still spoke English, are values;
    # an application's status is worded by handlers/common.
    stored = ("Come on Monday at 9", "Apply for Software intern — Acme Ltd by 20 Dec 2026")
    assert _untranslated(seen, (*VALUES, *dates, *stored)) == []


def test_staff_and_colleagues_in_their_language(world: World) -> None:
    place(world, world.bob)
    _speak_pseudo(world, world.tina, world.maya, world.raj)
    seen: list[Reply] = []
    for text in (
        "/cohort",
        "/cohort Year 12",
        "/cohort Year 12",
        "/timezone",
        "/timezone Mars/Olympus",
        "/import",
        "/invite teacher",
        "/invite employer Acme Ltd",
        "/invite nobody",
        f"/interested {world.opportunity}",
    ):
        seen += world.tina.send(text)
    seen += world.tina.press_payload(world.tina.buttons[0].payload)  # a conversation
    seen += world.maya.send("/colleagues")
    seen += world.maya.press_payload(world.maya.buttons[0].payload)  # remove Raj
    seen += world.maya.press_payload(world.maya.buttons[0].payload)  # yes
    told = _queued(world, world.raj, "membership")
    assert told and told[0].text.startswith("⟦Maya Jones")
    seen += told
    codes = tuple(re.findall(r"\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b", "\n".join(r.text for r in seen)))
    names = ("Tina Teacher", "Raj Patel", "Year 12", "Come on Monday at 9")
    allowed = (*VALUES, *codes, *names, *_dates(START.date()))
    assert _untranslated(seen, allowed) == []


def test_a_teachers_consent_list_and_a_students_refusal_in_their_language(world: World) -> None:
    _speak_pseudo(world, world.tina, world.cat)
    seen: list[Reply] = []
    for text in ("/consent", "/consent cat", "/consent bob", "/consent nobody"):
        seen += world.tina.send(text)
    world.tina.send("/consent cat")
    seen += world.tina.press_payload(world.tina.buttons[0].payload)  # withdraw?
    seen += world.tina.press_payload(world.tina.buttons[1].payload)  # keep it
    world.tina.send("/consent cat")
    seen += world.tina.press_payload(world.tina.buttons[0].payload)
    seen += world.tina.press_payload(world.tina.buttons[0].payload)  # yes, withdraw
    seen += world.tina.send("/consent")
    on_file = world.tina.buttons[0].payload
    seen += world.tina.press_payload(on_file)
    seen += world.tina.press_payload(on_file)  # already on file: says since when
    # Cat (grade 11) presses I'm interested on a listing for grade 12 and up.
    with world.factory.begin() as session:
        session.execute(
            update(Opportunity).where(Opportunity.id == world.opportunity).values(min_grade=12)
        )
    seen += world.cat.press_payload(actions.INTEREST.payload(world.opportunity))
    # The reason is storage's, worded here: inside the refusal's markers, so checked itself.
    assert world.cat.text.startswith("⟦Šöŕŕý, ýöû çàñ'ţ àþþļý ƒöŕ ţĥàţ öñé: ⟦îţ îš ƒöŕ ĝŕàđé 12")
    allowed = (*VALUES, *_dates(START.date()), "Tina Teacher", "cat", "bob", "nobody")
    assert _untranslated(seen, allowed) == []


def test_a_forms_problems_are_in_the_persons_language(world: World) -> None:
    """Form.read's problems reach people inside other messages (a modal's field, /publish's
    list), where the markers around them would hide English: so each is checked itself."""
    _speak_pseudo(world, world.tina)
    lines = "no field here\nlocaton: Leeds\ntitle: Robot lab\ntitle: Robot lab again"
    with language(PSEUDO):
        _given, problems = PUBLISH_FORM.read(lines)
    # The stray line, the unknown field, the title twice, and four required fields not given.
    assert len(problems) == 7
    assert [p for p in problems if not p.startswith("⟦")] == []
    seen = world.tina.send("/publish " + lines)
    assert all(p in seen[0].text for p in problems)
