"""Ask a person: a student's question reaches their school's teachers, the first answer wins
and goes back to the student, and a question left open is raised once more.

Driven through the real python-telegram-bot and slack-bolt code against the fake Bot API and
Slack Web API; the outbox is drained with the real transports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot

from bot.config import Settings
from bot.core import Core, Timing
from bot.delivery import OutboxSender
from bot.slack import EVENTS_PATH, SlackAdapter
from bot.telegram import TelegramAdapter, TelegramTransport
from handlers.common import school_named
from handlers.jobs import raise_unanswered
from handlers.people.invites import create_invite
from storage.db import transaction
from storage.models import Account, OutboxMessage, Question, Role
from tests.conftest import FakeClock
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.helpers import Chat, add_school, inbox, onboard, row_counts
from tests.test_telegram import TOKEN, TelegramUser

QUESTION = "Can I wear trainers & <b>jeans</b> to the interview?"


@pytest.fixture
async def telegram(core: Core) -> AsyncIterator[tuple[TelegramAdapter, FakeTelegram]]:
    async with FakeTelegram() as fake:
        settings = Settings(
            telegram_token=TOKEN, telegram_api_url=fake.base_url.removesuffix("/bot")
        )
        adapter = TelegramAdapter(core, settings)
        await adapter.start()
        try:
            yield adapter, fake
        finally:
            await adapter.stop()


@pytest.fixture
async def slack(core: Core) -> AsyncIterator[tuple[SlackAdapter, FakeSlack]]:
    async with FakeSlack() as fake:
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.base_url,
            slack_listen="127.0.0.1",
            slack_port=0,
        )
        # Homes refresh at once here: the rate limit has its own test in test_slack.
        adapter = SlackAdapter(core, settings, home_every=0)
        await adapter.start()
        fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
        try:
            yield adapter, fake
        finally:
            await adapter.stop()


def _teacher(
    core: Core,
    factory: sessionmaker[Session],
    now: datetime,
    user: str,
    name: str,
    *,
    platform: str = "console",
    school: str = "Riverside High",
    chat_id: str | None = None,
) -> Chat:
    chat = Chat(core, user, platform=platform, name=name)
    with transaction(factory) as session:
        place = school_named(session, school, now)
        code = create_invite(session, Role.TEACHER, now=now, school=place).code
    chat.send(f"/join {code}")
    assert "set up as a teacher" in chat.text, chat.text
    with transaction(factory) as session:
        account = session.scalars(select(Account).where(Account.external_id == user)).one()
        account.person.name = name
        # The chat the platform's fake knows (Chat's own ids are "chat-USER").
        account.chat_id = chat_id or user
    return chat


async def _drain(factory: sessionmaker[Session], clock: FakeClock, **transports: Any) -> None:
    for transport in transports.values():
        await OutboxSender(factory, transport, clock=clock).drain()


def _questions(factory: sessionmaker[Session]) -> list[Question]:
    with factory() as session:
        return list(session.scalars(select(Question).order_by(Question.id)))


async def test_a_telegram_student_asks_and_the_first_telegram_teacher_answers(
    telegram: tuple[TelegramAdapter, FakeTelegram],
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    _adapter, fake = telegram
    add_school(session_factory, clock.now)
    add_school(session_factory, clock.now, school="Hillside Academy", cohort="Y10", code="HILL-10")
    _teacher(core, session_factory, clock.now, "700", "Ms Lee", platform="telegram")
    _teacher(core, session_factory, clock.now, "710", "Mr Khan", platform="telegram")
    _teacher(
        core,
        session_factory,
        clock.now,
        "800",
        "Mr Other",
        platform="telegram",
        school="Hillside Academy",
    )
    onboard(Chat(core, "501", platform="telegram", name="Ada Lovelace"))
    ada = TelegramUser(fake, 501, "Ada")
    await ada.say(QUESTION, "pass it on")
    await ada.press("Ask my teacher", "I've passed your question on to your teachers")
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        await _drain(session_factory, clock, telegram=TelegramTransport(bot))
        lee, khan, other = (
            TelegramUser(fake, n, name) for n, name in ((700, "Lee"), (710, "Khan"), (800, "Other"))
        )
        (asked,) = lee.messages
        assert asked.params["text"] == (
            "A question from Ada Lovelace (Year 11):\n\n"
            "Can I wear trainers &amp; &lt;b&gt;jeans&lt;/b&gt; to the interview?\n\n"
            "The first teacher to answer replies for everyone."
        )
        assert len(khan.messages) == 1 and other.messages == []
        # Another school's teacher pressing the same button is told it isn't theirs.
        (question,) = _questions(session_factory)
        before = row_counts(session_factory)
        fake.push(fake.callback_update(800, f"qa:{question.id}", message_id=1))
        await other._expect(0, "That question isn't for you, or it no longer exists.")
        # A forged payload, too.
        fake.push(fake.callback_update(800, "qa:x", message_id=1))
        await other._expect(1, "doesn't work any more")
        assert row_counts(session_factory) == before

        await lee.press("Answer", "Type your answer in one message")
        await khan.press("Answer", "Type your answer in one message")
        await lee.say("Smart & <i>tidy</i> is best.", "I've passed your answer on to Ada Lovelace")
        await khan.say("Trainers are fine.", "Ms Lee already answered this question")
        await _drain(session_factory, clock, telegram=TelegramTransport(bot))
        assert ada.messages[-1].params["text"] == (
            "Ms Lee answered your question \u201cCan I wear trainers &amp; &lt;b&gt;jeans&lt;/b&gt;"
            " to the interview?\u201d:\n\nSmart &amp; &lt;i&gt;tidy&lt;/i&gt; is best."
        )
        # Every teacher's copy of the question is edited in place: who answered, no button.
        for teacher in (khan, lee):
            (edit,) = [c for c in teacher.messages if c.method == "editMessageText"]
            assert edit.params["message_id"] == 1
            assert edit.params["text"] == (
                "A question from Ada Lovelace (Year 11):\n\n"
                "Can I wear trainers &amp; &lt;b&gt;jeans&lt;/b&gt; to the interview?\n\n"
                "Answered by Ms Lee: Smart &amp; &lt;i&gt;tidy&lt;/i&gt; is best."
            )
            assert not (edit.params.get("reply_markup") or {}).get("inline_keyboard")
        assert other.messages[-1].method == "sendMessage"
        # An old Answer button, pressed after the answer, gets a polite word.
        await khan.press("Answer", "Ms Lee already answered this question")
    (question,) = _questions(session_factory)
    assert question.answer == "Smart & <i>tidy</i> is best."
    assert question.answered_by_name == "Ms Lee"


def _home_text(view: dict[str, Any]) -> str:
    texts = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header"):
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return "\n".join(texts)


def _slack_teachers(
    core: Core, fake: FakeSlack, factory: sessionmaker[Session], now: datetime
) -> tuple[str, str]:
    """Ms Lee and Mr Khan, teachers of Riverside High on Slack; their DMs."""
    dms = []
    for user, name in (("UL", "Ms Lee"), ("UK", "Mr Khan")):
        dm = fake.add_user(user, name)
        _teacher(core, factory, now, user, name, platform="slack", chat_id=dm)
        dms.append(dm)
    return dms[0], dms[1]


# Long because it follows one question from the DM to the modal, the Home and the student.
async def test_slack_teachers_answer_in_a_modal_from_the_dm_and_see_it_on_their_home(
    slack: tuple[SlackAdapter, FakeSlack],
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    adapter, fake = slack
    add_school(session_factory, clock.now)
    lee_dm, khan_dm = _slack_teachers(core, fake, session_factory, clock.now)
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada)
    ada.send(f"/ask {QUESTION}")
    assert "I've passed your question on to your teachers" in ada.text
    await _drain(session_factory, clock, slack=adapter.transport())
    (question,) = _questions(session_factory)
    (asked,) = fake.posted(lee_dm)
    assert asked.section_text == (
        "A question from Ada Lovelace (Year 11):\n\n"
        "Can I wear trainers &amp; &lt;b&gt;jeans&lt;/b&gt; to the interview?\n\n"
        "The first teacher to answer replies for everyone."
    )
    assert [(b["text"]["text"], b["value"]) for b in asked.buttons] == [
        ("Answer", f"qa:{question.id}")
    ]
    (asked_khan,) = fake.posted(khan_dm)

    await fake.open_home("UL")
    await adapter.idle()
    home = _home_text(fake.home["UL"])
    assert "Questions waiting" in home
    assert "Ada Lovelace (Year 11), 23 Nov 2026 15:00: Can I wear trainers &amp;" in home

    # Both teachers open the answer modal (from the Home, from the DM): the question is
    # shown, only the answer is asked.
    await fake.click_home("UL", "Answer")
    await adapter.idle()
    await fake.click("UK", "Answer")
    await adapter.idle()
    opened = fake.calls_to("views.open")
    assert len(opened) == 2
    lee_view, khan_view = (call.params["view"] for call in opened)
    assert lee_view == khan_view
    assert lee_view["callback_id"] == "oppbot_modal:answer"
    assert [b["block_id"] for b in lee_view["blocks"]] == ["summary", "answer"]
    assert lee_view["blocks"][0]["elements"][0]["text"] == (
        "Ada Lovelace (Year 11) asked: " + QUESTION
    )
    lee_id, khan_id = list(fake.views)
    assert (await fake.submit_view("UL", lee_id, {"answer": "Smart & tidy."})).status == 200
    await adapter.idle()
    assert fake.posted(lee_dm)[-1].section_text == (
        "Thank you! I've passed your answer on to Ada Lovelace (Year 11)."
    )
    # The second answer changes nothing and gets a polite word in the DM.
    assert (await fake.submit_view("UK", khan_id, {"answer": "Trainers are fine."})).status == 200
    await adapter.idle()
    assert fake.posted(khan_dm)[-1].section_text == (
        "Ms Lee already answered this question. Thank you all the same!"
    )
    stale = fake.button(khan_dm, "Answer")
    await _drain(session_factory, clock, slack=adapter.transport())
    # Both copies of the question are updated in place: who answered, and no button.
    updates = {call.params["channel"]: call.params for call in fake.calls_to("chat.update")}
    assert set(updates) == {lee_dm, khan_dm}
    assert updates[khan_dm]["ts"] == asked_khan.ts
    (khan_copy,) = [m for m in fake.posted(khan_dm) if m.ts == asked_khan.ts]
    assert khan_copy.section_text == (
        "A question from Ada Lovelace (Year 11):\n\n"
        "Can I wear trainers &amp; &lt;b&gt;jeans&lt;/b&gt; to the interview?\n\n"
        "Answered by Ms Lee: Smart &amp; tidy."
    )
    assert khan_copy.buttons == []
    # The student hears it on Telegram, through the outbox.
    (to_ada,) = [text for text, _buttons in inbox(session_factory, ada, "question")]
    assert to_ada.endswith(":\n\nSmart & tidy.")
    # An old Answer button (pressed before the update arrived) opens no modal now: the DM
    # says who answered.
    await fake.interaction(fake.click_payload("UK", *stale))
    await adapter.idle()
    assert len(fake.calls_to("views.open")) == 2
    assert "Ms Lee already answered" in fake.posted(khan_dm)[-1].section_text
    # Lee's Home was shown again after the answer, without the question.
    assert "No student questions are waiting." in _home_text(fake.home["UL"])


async def test_an_empty_answer_is_refused_on_the_modals_field(
    slack: tuple[SlackAdapter, FakeSlack],
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    adapter, fake = slack
    add_school(session_factory, clock.now)
    _slack_teachers(core, fake, session_factory, clock.now)
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada)
    ada.send("/ask Where is the careers office?")
    await _drain(session_factory, clock, slack=adapter.transport())
    await fake.click("UL", "Answer")
    await adapter.idle()
    (view_id,) = fake.views
    answered = await fake.submit_view("UL", view_id, {"answer": "   "})
    assert json.loads(answered.body) == {
        "response_action": "errors",
        "errors": {"answer": "Please type it."},
    }
    assert _questions(session_factory)[0].answered_at is None


def _riverside(
    core: Core, factory: sessionmaker[Session], now: datetime
) -> tuple[Chat, Chat, Chat, Chat]:
    """Riverside High's Ms Lee and Mr Khan, Hillside's Mr Other, and Ada at Riverside."""
    add_school(factory, now)
    add_school(factory, now, school="Hillside Academy", cohort="Y10", code="HILL-10")
    lee = _teacher(core, factory, now, "lee", "Ms Lee")
    khan = _teacher(core, factory, now, "khan", "Mr Khan")
    other = _teacher(core, factory, now, "other", "Mr Other", school="Hillside Academy")
    ada = Chat(core, "ada", name="Ada Lovelace")
    onboard(ada)
    return lee, khan, other, ada


def test_two_teachers_answering_at_once_one_wins(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, khan, _other, ada = _riverside(core, session_factory, clock.now)
    ada.send(f"/ask {QUESTION}")
    (question,) = _questions(session_factory)
    start = threading.Barrier(2)

    def answer(chat: Chat, text: str) -> None:
        start.wait()
        chat.send(f"/answer question: {question.id}\nanswer: {text}")

    threads = [
        threading.Thread(target=answer, args=(lee, "Smart and tidy.")),
        threading.Thread(target=answer, args=(khan, "Trainers are fine.")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (row,) = _questions(session_factory)
    winner, loser = (lee, khan) if row.answered_by_name == "Ms Lee" else (khan, lee)
    assert winner.text.startswith("Thank you! I've passed your answer on")
    assert loser.text == (
        f"{row.answered_by_name} already answered this question. Thank you all the same!"
    )
    (to_ada,) = inbox(session_factory, ada, "question")
    assert to_ada[0].endswith("\n\n" + (row.answer or "?"))
    # Each teacher's copy of the question is edited once, to say who answered.
    for teacher in (winner, loser):
        (_asked, edited) = inbox(session_factory, teacher, "question")
        assert edited[0].endswith(f"Answered by {row.answered_by_name}: {row.answer}")


def test_only_the_students_school_sees_and_answers_the_question(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, _khan, other, ada = _riverside(core, session_factory, clock.now)
    ada.send("/ask Is the careers fair on Friday?")
    (question,) = _questions(session_factory)
    assert inbox(session_factory, other) == []
    other.send("/questions")
    assert other.text == "No student questions are waiting. Well done!"
    before = row_counts(session_factory)
    other.send(f"/answer question: {question.id}\nanswer: Yes!")
    assert other.text == "That question isn't for you, or it no longer exists."
    other.press_payload(f"qa:{question.id}")
    assert other.text == "That question isn't for you, or it no longer exists."
    assert row_counts(session_factory) == before
    # Students can't answer, and nobody can press a made-up question.
    ada.press_payload(f"qa:{question.id}")
    assert "only for admins or teachers" in ada.text
    lee.press_payload("qa:999")
    assert lee.text == "That question isn't for you, or it no longer exists."
    lee.send("/questions")
    assert lee.text.startswith("Ada Lovelace (Year 11), 23 Nov 2026 15:00: Is the careers fair")
    assert [b.payload for b in lee.buttons] == [f"qa:{question.id}"]


def test_unknown_text_offers_to_ask_the_teacher_and_ask_lists_open_questions(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, _khan, _other, ada = _riverside(core, session_factory, clock.now)
    ada.send("what do I wear for work experience")
    assert ada.text == (
        "I'm not sure what you mean. Send /help to see what I can do.\n\n"
        "If it's a question for your teacher, I can pass it on."
    )
    first = ada.button("Ask my teacher").payload
    clock.advance(seconds=5)
    ada.send("what about lunch")
    # An older button never sends the newer text.
    ada.press_payload(first)
    assert ada.text.startswith("That question was already passed on")
    clock.advance(seconds=5)
    ada.send("what do I wear for work experience")
    pressed = ada.button("Ask my teacher").payload
    ada.press_payload(pressed)
    assert ada.text.startswith("I've passed your question on to your teachers.")
    # The same button again: the text was passed on once.
    ada.press_payload(pressed)
    assert ada.text.startswith("That question was already passed on")
    assert len(_questions(session_factory)) == 1
    (asked,) = inbox(session_factory, lee, "question")
    assert "what do I wear for work experience" in asked[0]
    ada.send("/ask")
    assert ada.text == (
        "Your questions waiting for an answer:\n"
        "• 23 Nov 2026 15:00: what do I wear for work experience\n\n"
        "What would you like to ask your teacher? Type it in one message (or /cancel)."
    )
    ada.send("Can my mum come to the placement interview?")
    assert ada.text.startswith("I've passed your question on")
    assert len(_questions(session_factory)) == 2
    # Teachers and guests keep the plain answer.
    lee.send("what is this")
    assert lee.text == "I'm not sure what you mean. Send /help to see what I can do."


def test_a_student_without_a_teacher_is_told_to_ask_in_person(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    ada = Chat(core, "ada", name="Ada Lovelace")
    onboard(ada)
    ada.send("what is this")
    assert ada.buttons == []
    before = row_counts(session_factory)
    ada.send("/ask Where is the careers office?")
    assert ada.text.startswith("I can't pass questions on yet")
    assert row_counts(session_factory) == before


def test_an_unanswered_question_is_raised_once_more_the_next_school_day(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, khan, _other, ada = _riverside(core, session_factory, clock.now)
    # Friday afternoon: the next school day is Monday.
    clock.now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    ada.send("/ask Is there a placement over the holidays?")
    ada.send("/ask And one that's answered?")
    answered = _questions(session_factory)[1]
    lee.send(f"/answer question: {answered.id}\nanswer: Yes.")
    timing = Timing()
    for moment in (
        datetime(2026, 11, 28, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 14, 59, tzinfo=UTC),
    ):
        assert raise_unanswered(session_factory, moment, timing) == 0
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert raise_unanswered(session_factory, monday, timing) == 2
    assert raise_unanswered(session_factory, monday + timedelta(days=1), timing) == 0
    text, buttons = inbox(session_factory, khan, "question")[-1]
    assert text.startswith(
        "Still waiting for an answer since 27 Nov 2026 15:00, a question from Ada Lovelace "
        "(Year 11):\n\nIs there a placement over the holidays?"
    )
    assert [b.label for b in buttons] == ["Answer"]
    # Two questions, the answered one's copy edited, and the open one raised again.
    assert len(inbox(session_factory, lee, "question")) == 4


def test_the_school_days_before_raising_again_are_configurable(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    _lee, _khan, _other, ada = _riverside(core, session_factory, clock.now)
    clock.now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday
    ada.send("/ask Is there a placement over the holidays?")
    timing = Settings(_env_file=None, question_raise_school_days=2).timing()
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert raise_unanswered(session_factory, monday, timing) == 0
    assert raise_unanswered(session_factory, monday + timedelta(days=1), timing) == 2


def test_mydata_shows_questions_and_forget_deletes_them(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, _khan, _other, ada = _riverside(core, session_factory, clock.now)
    ada.send("/ask Is the fair on Friday?")
    ada.send("/ask Can I bring a friend?")
    first = _questions(session_factory)[0]
    lee.send(f"/answer question: {first.id}\nanswer: Yes, from 10:00.")
    ada.send("/mydata")
    assert (
        "Questions you asked your teachers:\n"
        "• 23 Nov 2026 15:00: Is the fair on Friday?\n"
        "  Ms Lee answered: Yes, from 10:00.\n"
        "• 23 Nov 2026 15:00: Can I bring a friend?\n"
        "  Waiting for an answer."
    ) in ada.text
    ada.send("/forget")
    ada.press("Yes, delete everything")
    assert _questions(session_factory) == []
    with session_factory() as session:
        assert (
            session.scalars(
                select(OutboxMessage.text).where(OutboxMessage.kind == "question")
            ).all()
            == []
        )


def test_the_answer_reaches_the_student_in_their_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    lee, _khan, _other, ada = _riverside(core, session_factory, clock.now)
    ada.send("/ask Is the fair on Friday?")
    with transaction(session_factory) as session:
        student = session.get_one(Question, _questions(session_factory)[0].id).student
        student.language = "es"
    lee.send(f"/answer question: {_questions(session_factory)[0].id}\nanswer: Yes, from 10:00.")
    ((text, _buttons),) = inbox(session_factory, ada, "question")
    assert text == (
        "Ms Lee respondió a tu pregunta \u201cIs the fair on Friday?\u201d:\n\nYes, from 10:00."
    )
