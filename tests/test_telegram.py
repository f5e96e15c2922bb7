"""The real python-telegram-bot adapter against the fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.error import NetworkError, TimedOut

from bot.app import Runner, build
from bot.config import Settings
from bot.core import MAX_FILE_BYTES, Attachment, Core, Incoming, Timing, utcnow
from bot.delivery import OutboxSender, Outcome, Pacing, SenderLock
from bot.telegram import (
    NOT_DOWNLOADED,
    AiohttpRequest,
    TelegramAdapter,
    TelegramTransport,
    environment_proxy,
    split_text,
    to_html,
)
from handlers.messaging.announcements import report_deliveries
from handlers.people.invites import create_invite
from storage.db import make_engine, make_session_factory, transaction
from storage.models import (
    Account,
    Interest,
    Opportunity,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    School,
)
from storage.outbox import MessageRef, enqueue
from tests.conftest import FakeClock
from tests.fakes.telegram import Call, FakeTelegram
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    join_with_invite,
    last_message,
    make_employer,
    onboard,
    row_counts,
)

TOKEN = "123456:TEST-TOKEN"
HOSTILE = "C++ & <Rust> *intern* _now_ <@U123>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    return Settings(
        telegram_token=TOKEN,
        telegram_api_url=fake.base_url.removesuffix("/bot"),
        **overrides,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def polling(core: Core, fake: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(core, _settings(fake))
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def _webhook_settings(fake: FakeTelegram) -> Settings:
    port = _free_port()
    return _settings(
        fake,
        telegram_mode="webhook",
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="s3cret-token",
    )


@pytest.fixture(params=["polling", "webhook"])
async def running(
    request: pytest.FixtureRequest, core: Core, fake: FakeTelegram
) -> AsyncIterator[TelegramAdapter]:
    """The adapter in either mode: the fake hands updates to getUpdates or posts them."""
    settings = _settings(fake) if request.param == "polling" else _webhook_settings(fake)
    adapter = TelegramAdapter(core, settings)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def _outgoing(fake: FakeTelegram, chat_id: int) -> list[Call]:
    return [
        c
        for c in fake.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.params.get("chat_id") == chat_id
        and c.accepted
    ]


async def _until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    """Wait for ``condition``; the timeout only bounds a broken test, nothing is timed."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _all_sent(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return set(session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}


class TelegramUser:
    """A student in a private chat with the bot, through the fake server."""

    def __init__(self, fake: FakeTelegram, user_id: int, name: str = "Ada") -> None:
        self.fake = fake
        self.user_id = user_id
        self.name = name

    @property
    def messages(self) -> list[Call]:
        return _outgoing(self.fake, self.user_id)

    async def _expect(self, before: int, text: str) -> Call:
        def arrived() -> bool:
            return any(text in c.params["text"] for c in self.messages[before:])

        await _until(arrived, f"{text!r} in {[c.params['text'] for c in self.messages]}")
        return [c for c in self.messages[before:] if text in c.params["text"]][-1]

    async def say(self, text: str, expect: str) -> Call:
        before = len(self.messages)
        self.fake.push(self.fake.message_update(self.user_id, text, first_name=self.name))
        return await self._expect(before, expect)

    async def press(self, label: str, expect: str) -> Call:
        message, data = self.button(label)
        before = len(self.messages)
        update = self.fake.callback_update(self.user_id, data, message_id=message)
        self.fake.push(update)
        return await self._expect(before, expect)

    def button(self, label: str) -> tuple[int, str]:
        """The message id and callback data of the newest button whose label has ``label``."""
        for call in reversed(self.messages):
            markup = call.params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        message_id = call.params.get("message_id") or self._message_id(call)
                        return message_id, button["callback_data"]
        raise AssertionError(f"no button {label!r}")

    def _message_id(self, call: Call) -> int:
        # sendMessage calls are numbered per chat by the fake in the order they were accepted.
        sends = [c for c in self.fake.sent(self.user_id)]
        return sends.index(call) + 1


async def test_student_journey_by_commands_and_buttons(
    running: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(
        session_factory, clock.now, title=HOSTILE, deadline=date(2026, 12, 20), tags=("technology",)
    )
    ada = TelegramUser(fake, 501, "Ada")
    await ada.say("/start", "What's your first name?")
    await ada.say("Ada Lovelace", "family name")
    await ada.say("Lovelace", "join code")
    await ada.say("RIVER-11", "Which grade")
    await ada.say("11", "under 18")
    await ada.press("No", "Which fields")
    # Flood control on the edit: waited out as asked, then the same message is edited.
    fake.fail("editMessageText", "429", retry_after=1)
    await ada.press("Technology", "Which fields")
    edits = fake.calls_to("editMessageText")
    assert [e.status for e in edits] == [429, 200], "toggling a field edits the message in place"
    await ada.press("Done", "time zone")
    await ada.press("London", "where can you get to")
    await ada.press("Skip", "Welcome, Ada!")

    listing = await ada.say("/browse", "open opportunit")
    # Every piece of user text is escaped: Telegram (the fake) parsed it as HTML and accepted it.
    assert "C++ &amp; &lt;Rust&gt; *intern* _now_ &lt;@U123&gt;" in listing.params["text"]
    assert listing.params["parse_mode"] == "HTML"
    card = await ada.press("1", "Apply by")
    assert card.method == "editMessageText"
    await ada.press("interested", "note")
    await ada.say("Hi <b>there</b> & thanks", "Done!")
    # Every pressed button was answered at once.
    assert len(fake.calls_to("answerCallbackQuery")) == 7
    if running.settings.telegram_mode == "webhook":
        assert fake.webhook_responses and set(fake.webhook_responses) == {200}
        assert not fake.calls_to("getUpdates")
    with session_factory() as session:
        interest = session.scalars(select(Interest)).one()
        assert interest.note == "Hi <b>there</b> & thanks"
        account = session.scalars(select(Account).where(Account.platform == "telegram")).one()
        assert (account.external_id, account.chat_id) == ("501", "501")


async def test_employer_notification_is_sent_escaped_through_the_outbox(
    fake: FakeTelegram, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    boss = Chat(core, "900", platform="telegram", name="Maya")
    make_employer(session_factory, clock.now, boss, "Acme Ltd")
    with session_factory.begin() as session:
        session.scalars(select(Account).where(Account.external_id == "900")).one().chat_id = "900"
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"int:{opportunity}")
    ada.send("I <3 robots & <b>code</b>")
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        sender = OutboxSender(session_factory, TelegramTransport(bot), clock=clock)
        await sender.drain()
    (sent,) = fake.sent(900)
    assert "Their note: I &lt;3 robots &amp; &lt;b&gt;code&lt;/b&gt;" in sent.params["text"]
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage.status)).one() == OutboxStatus.SENT


async def test_transport_replies_to_a_message_and_edits_it(fake: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        transport = TelegramTransport(bot)
        root = await transport.send("900", "Ada is interested.\nStatus: New", [[["Invite", "i"]]])
        assert root.outcome is Outcome.SENT and root.ref == MessageRef("900", "1")
        answer = await transport.send("900", "Ada replies", None, thread=root.ref)
        assert answer.outcome is Outcome.SENT
        edit = await transport.edit(root.ref, "Ada is interested.\nStatus: Invited", None)
        again = await transport.edit(root.ref, "Ada is interested.\nStatus: Invited", None)
        missing = await transport.edit(MessageRef("900", "77"), "x", None)
    (_, reply) = fake.sent(900)
    assert reply.params["reply_parameters"]["message_id"] == 1
    (edited, _, _) = fake.calls_to("editMessageText")
    assert (edited.params["chat_id"], edited.params["message_id"]) == (900, 1)
    assert "Status: Invited" in edited.params["text"] and "reply_markup" not in edited.params
    # The same edit again changes nothing and is done; a message that is gone cannot be edited.
    assert (edit.outcome, again.outcome, missing.outcome) == (
        Outcome.SENT,
        Outcome.SENT,
        Outcome.PERMANENT,
    )


async def test_webhook_checks_the_secret_and_applies_a_duplicate_once(
    fake: FakeTelegram, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada)
    settings = _webhook_settings(fake)
    adapter = TelegramAdapter(core, settings)
    await adapter.start()
    try:
        assert fake.webhook_url == settings.telegram_webhook_url
        assert fake.webhook_secret == "s3cret-token"
        register = fake.callback_update(501, f"intn:{opportunity}", message_id=1)
        assert await fake.post_to_webhook(register, secret="wrong") == 403
        assert await fake.post_to_webhook(register, secret=None) == 403
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Interest)) == 0
        assert await fake.post_to_webhook(register) == 200
        assert await fake.post_to_webhook(register) == 200  # Telegram retrying the same update
        await _until(lambda: any("Done!" in c.params["text"] for c in _outgoing(fake, 501)), "Done")
        stranger = fake.message_update(777, "/start")
        assert await fake.post_to_webhook(stranger) == 200
        await _until(lambda: bool(_outgoing(fake, 777)), "an answer to the newcomer")
    finally:
        await adapter.stop()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Interest)) == 1
    assert sum("Done!" in c.params["text"] for c in _outgoing(fake, 501)) == 1


async def test_an_update_id_reused_after_days_is_a_new_update(
    fake: FakeTelegram, core: Core, clock: FakeClock
) -> None:
    adapter = TelegramAdapter(core, _webhook_settings(fake))
    await adapter.start()

    async def post(update_id: int, text: str) -> None:
        update = fake.message_update(501, text, update_id=update_id)
        assert await fake.post_to_webhook(update) == 200

    def answers() -> list[str]:
        return [c.params["text"] for c in _outgoing(fake, 501)]

    try:
        await post(77, "/help")
        await _until(lambda: len(answers()) == 1, "the answer")
        clock.advance(days=1)
        await post(77, "/help")
        # One chat's updates are handled in order: once 78 is answered, 77 was handled.
        await post(78, "/mydata")
        await _until(lambda: len(answers()) == 2, "the answer to the next update")
        # Telegram went quiet for a week and numbers its updates from an earlier id again.
        clock.advance(days=6)
        await post(77, "/start")
        await _until(lambda: len(answers()) == 3, "the answer to the new update")
    finally:
        await adapter.stop()
    help_answer, mydata_answer, start_answer = answers()
    assert "/help" in help_answer
    assert "Everything I store" in mydata_answer, "the redelivery was skipped"
    assert "What's your first name?" in start_answer


async def test_groups_get_no_data_and_only_addressed_commands(
    polling: TelegramAdapter, fake: FakeTelegram, session_factory: sessionmaker[Session]
) -> None:
    group = -100123
    fake.push(fake.message_update(501, "hello everyone", chat_id=group, chat_type="group"))
    fake.push(fake.message_update(501, "/mydata", chat_id=group, chat_type="group"))
    fake.push(fake.message_update(501, "/mydata@oppbot_test_bot", chat_id=group, chat_type="group"))
    # One chat's updates are handled in order: once this last one is answered, so are the
    # others, and whatever they were going to get has been sent.
    fake.push(fake.message_update(501, "/help@oppbot_test_bot", chat_id=group, chat_type="group"))
    await _until(lambda: len(_outgoing(fake, group)) >= 2, "the answer to the last one")
    answers = [call.params["text"] for call in _outgoing(fake, group)]
    assert len(answers) == 2, answers
    assert all("Message me directly: @oppbot_test_bot" in text for text in answers)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


async def test_non_text_messages_get_a_pointer(
    polling: TelegramAdapter, fake: FakeTelegram
) -> None:
    update = fake.message_update(501, "placeholder")
    message = update["message"]
    del message["text"]
    message.pop("entities", None)
    message["location"] = {"latitude": 53.8, "longitude": -1.55}
    fake.push(update)
    await _until(lambda: bool(_outgoing(fake, 501)), "a reply")
    assert "only read text" in _outgoing(fake, 501)[0].params["text"]


def _menu_calls(fake: FakeTelegram, chat_id: int) -> list[str]:
    """The accepted calls that set or deleted one chat's own command menu, in order."""
    scope = {"type": "chat", "chat_id": chat_id}
    return [
        c.method
        for c in fake.calls
        if c.method in ("setMyCommands", "deleteMyCommands")
        and c.params.get("scope") == scope
        and c.accepted
    ]


def _set_role(factory: sessionmaker[Session], user_id: int, role: Role) -> None:
    """Change the role of the person behind a Telegram account, as an admin would."""
    with factory.begin() as session:
        account = session.scalars(
            select(Account).where(
                Account.platform == "telegram", Account.external_id == str(user_id)
            )
        ).one()
        account.person.role = role


async def test_command_menus_follow_the_role(
    polling: TelegramAdapter, fake: FakeTelegram, core: Core, session_factory: sessionmaker[Session]
) -> None:
    default = [c["command"] for c in fake.commands()]
    assert {"browse", "mine", "saved", "help", "forget"} <= set(default)
    assert "invite" not in default
    with session_factory.begin() as session:
        from handlers.people.invites import create_invite

        code = create_invite(session, Role.TEACHER, now=core.clock()).code
    teacher = TelegramUser(fake, 600, "Tess")
    await teacher.say(f"/join {code}", "set up as a teacher")
    scope = {"type": "chat", "chat_id": 600}
    await _until(lambda: bool(fake.commands(scope)), "the teacher's menu")
    assert "invite" in [c["command"] for c in fake.commands(scope)]
    # The role is the same: no further call, however many messages follow (those of one chat
    # are handled in order, so once the second answer is in, the first is done).
    await teacher.say("/help", "Here's what you can do")
    await teacher.say("/help", "Here's what you can do")
    assert _menu_calls(fake, 600) == ["setMyCommands"]

    # A teacher who became a student sees the default menu again.
    _set_role(session_factory, 600, Role.STUDENT)
    await teacher.say("/help", "Here's what you can do")
    await _until(lambda: len(_menu_calls(fake, 600)) == 2, "the menu reset")
    assert _menu_calls(fake, 600) == ["setMyCommands", "deleteMyCommands"]
    assert fake.commands(scope) == []

    _set_role(session_factory, 600, Role.EMPLOYER)
    await teacher.say("/help", "Here's what you can do")
    await _until(lambda: len(_menu_calls(fake, 600)) == 3, "the employer's menu")
    employer = [c["command"] for c in fake.commands(scope)]
    assert "propose" in employer and "invite" not in employer

    # After /forget they are nobody: their chat's own menu goes.
    await teacher.say("/forget", "Sure?")
    await teacher.press("Yes, delete everything", "everything I stored about you is deleted")
    await _until(lambda: len(_menu_calls(fake, 600)) == 4, "the menu deleted")
    assert _menu_calls(fake, 600)[-1] == "deleteMyCommands"
    assert fake.commands(scope) == []
    await teacher.say("/help", "Send /start")
    await teacher.say("/help", "Send /start")
    assert len(_menu_calls(fake, 600)) == 4


async def test_a_menu_left_from_before_a_restart_is_reset_once(
    fake: FakeTelegram, core: Core
) -> None:
    # An earlier process gave this chat a teacher's menu; its person has since gone.
    scope = {"type": "chat", "chat_id": 700}
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        await bot.set_my_commands([BotCommand("invite", "invite")], scope=BotCommandScopeChat(700))
    adapter = TelegramAdapter(core, _settings(fake))
    await adapter.start()
    try:
        guest = TelegramUser(fake, 700, "Gus")
        # A failed reset is tried again with the next message.
        fake.fail("deleteMyCommands", "500")
        await guest.say("/help", "Send /start")
        await guest.say("/help", "Send /start")
        await _until(lambda: fake.commands(scope) == [], "the old menu deleted")
        await guest.say("/help", "Send /start")
        await guest.say("/help", "Send /start")
    finally:
        await adapter.stop()
    assert [c.status for c in fake.calls_to("deleteMyCommands")] == [500, 200]


async def test_a_menu_given_once_is_not_given_again_after_a_restart(
    fake: FakeTelegram, core: Core
) -> None:
    first = TelegramAdapter(core, _settings(fake))
    await first.start()
    try:
        student = TelegramUser(fake, 710, "Sam")
        await student.say("/help", "Send /start")
    finally:
        await first.stop()
    assert _menu_calls(fake, 710) == ["deleteMyCommands"]
    # Another process, or this one restarted: the account says which menu the chat has.
    second = TelegramAdapter(core, _settings(fake))
    await second.start()
    try:
        await student.say("/help", "Send /start")
        await student.say("/help", "Send /start")
    finally:
        await second.stop()
    assert _menu_calls(fake, 710) == ["deleteMyCommands"]


@pytest.mark.slow
async def test_broadcast_with_429_403_and_500_arrives_exactly_once_within_the_limits(
    fake: FakeTelegram, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    students = 40
    _queue_broadcast(session_factory, clock, students)
    fake.enforce_limits(per_second=30, per_chat_per_second=1)
    fake.fail("sendMessage", "429", chat_id=1001, retry_after=1)
    fake.fail("sendMessage", "403", chat_id=1002)
    fake.fail("sendMessage", "500", chat_id=1003, times=2)

    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        # The exact pace is checked on a fake timeline in test_delivery.py. Here the fake shares
        # our event loop, so a pause of the test process would bunch arrivals as it counts
        # them: pace a third under its limit, and the check below is about the sender, not
        # about the machine's load.
        sender = OutboxSender(
            session_factory, TelegramTransport(bot), pacing=Pacing(per_second=20), clock=clock
        )
        drained = asyncio.create_task(sender.drain())
        # Backoff after a 500 is measured on the database clock: move it along.
        while not drained.done():
            clock.advance(seconds=1)
            await asyncio.sleep(0.05)
        await drained

    delivered = [int(c.params["chat_id"]) for c in fake.sent()]
    expected = [1000 + n for n in range(students) if n != 2]
    assert sorted(delivered) == expected  # each once, the blocked student not at all
    assert fake.rate_limited == 0  # the pacing kept under Telegram's limits by itself
    with session_factory() as session:
        statuses = dict(
            session.execute(
                select(Account.chat_id, OutboxMessage.status).join(
                    Account, Account.id == OutboxMessage.account_id
                )
            ).all()
        )
        blocked = session.scalars(select(Account).where(Account.chat_id == "1002")).one()
    assert statuses.pop("1002") == OutboxStatus.UNREACHABLE
    assert blocked.unreachable_at is not None
    assert set(statuses.values()) == {OutboxStatus.SENT}


async def test_long_replies_are_split_and_escaped(fake: FakeTelegram) -> None:
    from bot.telegram import send_text

    text = "\n\n".join(f"Paragraph {n}: <tag> & " + "word " * 150 for n in range(12))
    assert len(text) > 2 * 4096
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        await send_text(bot, 42, text, None)
    sent = fake.sent(42)
    assert len(sent) == len(split_text(text)) >= 3
    assert all(c.accepted for c in sent)  # the fake refuses over 4,096 visible characters
    assert "".join(c.params["text"] for c in sent).count("&lt;tag&gt;") == 12


async def test_bot_api_calls_over_aiohttp_keep_ptbs_answers_and_errors(
    fake: FakeTelegram,
) -> None:
    """The adapter's request class: JSON bodies, the same results, and the errors PTB's own
    request class raises (a timeout, a 5xx, a server that is not there)."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("1", callback_data="open:1")]])
    async with Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest(fake.base_url)) as bot:
        sent = await bot.send_message("42", "<b>hi</b> é", parse_mode="HTML", reply_markup=keyboard)
        assert sent.chat_id == 42 and sent.reply_markup == keyboard
        [call] = fake.sent(42)
        assert call.params["text"] == "<b>hi</b> é"
        assert call.params["reply_markup"] == keyboard.to_dict()

        fake.fail("sendMessage", "500")
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(42, "hi")
        assert type(raised.value) is NetworkError
        assert raised.value.message == "Internal Server Error"

        fake.fail("sendMessage", "hang")
        with pytest.raises(TimedOut):
            await bot.send_message(42, "hi", read_timeout=0.2)

    nobody = f"http://127.0.0.1:{_free_port()}/bot"
    with pytest.raises(NetworkError) as refused:  # at the first call, getMe
        async with Bot(TOKEN, base_url=nobody, request=AiohttpRequest(nobody)):
            pass
    assert "aiohttp.ClientConnectorError" in refused.value.message


def test_the_bot_api_proxy_is_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    api = "https://api.telegram.org/bot123:ABC"
    assert environment_proxy(api) is None
    monkeypatch.setenv("ALL_PROXY", "http://all.example:3128")
    assert environment_proxy(api) == "http://all.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert environment_proxy(api) == "http://proxy.example:3128"
    assert environment_proxy("http://127.0.0.1:8081/bot123:ABC") == "http://all.example:3128"
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert environment_proxy(api) is None


def test_split_text_cuts_at_natural_breaks() -> None:
    assert split_text("short") == ["short"]
    pieces = split_text("aaa bbb\n\nccc ddd", limit=9)
    assert pieces == ["aaa bbb", "ccc ddd"]
    assert all(len(p) <= 10 for p in split_text("x" * 25, limit=10))
    assert to_html('<b>"A&B"</b>') == '&lt;b&gt;"A&amp;B"&lt;/b&gt;'


def _queue_broadcast(
    factory: sessionmaker[Session], clock: FakeClock, students: int, first_chat: int = 1000
) -> None:
    with factory.begin() as session:
        for n in range(students):
            person = Person(name=f"S{n}", role=Role.STUDENT, created_at=clock.now)
            session.add(
                Account(
                    person=person,
                    platform="telegram",
                    external_id=str(first_chat + n),
                    chat_id=str(first_chat + n),
                    last_seen_at=clock.now,
                    created_at=clock.now,
                )
            )
            session.flush()
            enqueue(
                session,
                person,
                f"Fair on Friday, {n}!",
                kind="announcement",
                key=f"fair:{n}",
                now=clock.now,
            )


SENDER_PROCESS = """
import asyncio, sys
from telegram import Bot, BotCommand, BotCommandScopeChat
from bot.core import utcnow
from bot.delivery import OutboxSender
from bot.telegram import TelegramTransport
from storage.db import make_engine, make_session_factory

async def main() -> None:
    factory = make_session_factory(make_engine(sys.argv[1]))
    async with Bot(sys.argv[3], base_url=sys.argv[2]) as bot:
        # A short lease: what it holds when killed is soon free for the next sender.
        await OutboxSender(factory, TelegramTransport(bot), clock=utcnow, lease=2.0).drain()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_sender_killed_mid_broadcast_loses_nothing(
    fake: FakeTelegram, db_url: str, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    students = 60
    clock.now = clock.now.replace(year=2020)  # the queued rows are due for the real clock too
    _queue_broadcast(session_factory, clock, students)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SENDER_PROCESS,
        db_url,
        fake.base_url,
        TOKEN,
        cwd=Path(__file__).resolve().parent.parent,
    )
    await _until(lambda: len(fake.sent()) >= 20, "the first sends")
    process.kill()  # no chance to record what was in flight
    await process.wait()
    before_restart = len(fake.sent())
    assert before_restart < students

    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        await OutboxSender(session_factory, TelegramTransport(bot), clock=utcnow).drain()

    per_chat = Counter(int(c.params["chat_id"]) for c in fake.sent())
    assert set(per_chat) == {1000 + n for n in range(students)}  # nobody missed out
    # At worst the messages in flight at the kill went twice.
    assert sum(per_chat.values()) - students <= Pacing().max_in_flight
    with session_factory() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}


@pytest.mark.slow
async def test_two_processes_on_postgresql_send_each_message_once(
    fake: FakeTelegram, db_url: str, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL; SQLite supports one")
    students = 45
    _queue_broadcast(session_factory, clock, students)
    fake.enforce_limits(per_second=30, per_chat_per_second=1)
    stop = asyncio.Event()
    engines = [make_engine(db_url) for _ in range(2)]
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        senders = [
            OutboxSender(
                make_session_factory(engine),
                TelegramTransport(bot),
                clock=clock,
                lock=SenderLock(engine, "telegram"),
                poll_interval=0.05,
                pacing=Pacing(per_second=20),  # a third under the fake's limit, as above
            )
            for engine in engines
        ]
        tasks = [asyncio.create_task(s.run(stop)) for s in senders]
        await _until(lambda: _all_sent(session_factory), "every message recorded as sent")
        # A sent row is never claimed again, and stopping waits for the sends in flight: any
        # duplicate has arrived at the fake once both senders have returned.
        stop.set()
        await asyncio.gather(*tasks)
    for engine in engines:
        engine.dispose()
    per_chat = Counter(int(c.params["chat_id"]) for c in fake.sent())
    assert per_chat == Counter({1000 + n: 1 for n in range(students)})
    assert fake.rate_limited == 0


@pytest.mark.slow
async def test_oppbot_run_serves_telegram_and_sends_the_outbox(
    fake: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    app = build(_settings(fake, database_url=db_url), clock=utcnow)
    add_school(app.session_factory, utcnow())
    opportunity = add_opportunity(
        app.session_factory, utcnow(), deadline=utcnow().date() + timedelta(days=30)
    )
    boss = Chat(app.core, "900", platform="telegram", name="Maya")
    make_employer(app.session_factory, utcnow(), boss, "Acme Ltd")
    with app.session_factory.begin() as session:
        session.scalars(select(Account).where(Account.external_id == "900")).one().chat_id = "900"
    runner = Runner(app)
    serving = asyncio.create_task(runner.run())
    try:
        ada = TelegramUser(fake, 501, "Ada")
        await ada.say("/start", "What's your first name?")
        await ada.say("Ada Lovelace", "family name")
        await ada.say("Lovelace", "join code")
        await ada.say("RIVER-11", "Which grade")
        await ada.say("11", "under 18")
        await ada.press("No", "Which fields")
        await ada.press("Skip", "time zone")
        await ada.press("London", "where can you get to")
        await ada.press("Skip", "Welcome")
        fake.push(fake.callback_update(501, f"intn:{opportunity}", message_id=1))
        # The employer's match notification goes out through the runner's outbox sender.
        await _until(lambda: bool(fake.sent(900)), "the employer's notification")
        assert "Ada (Year 11, Riverside High) is interested" in fake.sent(900)[0].params["text"]
    finally:
        runner.stop()
        await serving
    app.engine.dispose()


async def test_a_calendar_export_arrives_as_a_document(
    polling: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada)
    ada.press_payload(f"sv:{opportunity}")
    fake.push(fake.message_update(501, "/calendar"))
    await _until(lambda: bool(fake.calls_to("sendDocument")), "the calendar file")
    (call,) = fake.calls_to("sendDocument")
    assert call.accepted and call.params["chat_id"] == 501
    upload = call.params["document"]
    assert upload.filename.endswith(".ics")
    ics = upload.content.decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.rstrip().endswith("END:VCALENDAR")
    assert "Software intern" in ics
    # The text reply comes first, then the file.
    assert _outgoing(fake, 501)[-1].at <= call.at


async def test_a_teachers_report_chart_arrives_as_a_photo(
    polling: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    join_with_invite(
        session_factory, clock.now, Chat(core, "601", platform="telegram"), Role.TEACHER
    )
    fake.push(fake.message_update(601, "/report"))
    await _until(lambda: bool(fake.calls_to("sendPhoto")), "the report's chart")
    (call,) = fake.calls_to("sendPhoto")
    assert call.accepted and call.params["chat_id"] == 601
    assert call.params["photo"].content.startswith(b"\x89PNG\r\n\x1a\n")
    assert not fake.calls_to("sendDocument")
    assert _outgoing(fake, 601)[-1].params["text"].startswith("Partnership report for")


LISTINGS_CSV = (
    b"external_id,title,organisation,deadline\n"
    b"r1,Robot lab,Leeds Robotics Co,2027-03-31\n"
    b"r2,Design studio,Pixel Ltd,31/03/2027\n"
)


async def test_a_teacher_imports_a_document_and_a_students_is_refused(
    polling: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    join_with_invite(
        session_factory, clock.now, Chat(core, "601", platform="telegram"), Role.TEACHER
    )
    onboard(Chat(core, "501", platform="telegram", name="Ada Lovelace"))
    fake.push(fake.document_update(601, "listings.csv", LISTINGS_CSV))
    fake.push(fake.document_update(501, "listings.csv", LISTINGS_CSV))
    await _until(lambda: bool(_outgoing(fake, 601)) and bool(_outgoing(fake, 501)), "answers")
    (imported,) = _outgoing(fake, 601)
    assert imported.params["text"] == (
        "Imported listings.csv: 1 opportunity: 1 created, 0 updated, 0 unchanged; "
        "1 row skipped\nrow 3: Please type the deadline as YYYY-MM-DD, like 2027-02-28."
    )
    (refused,) = _outgoing(fake, 501)
    assert "only teachers can import listings" in refused.params["text"]
    assert len(fake.downloads) == 2 and len(fake.calls_to("getFile")) == 2
    with session_factory() as session:
        titles = session.scalars(select(Opportunity.title)).all()
    assert titles == ["Robot lab"]


async def test_a_document_too_big_is_refused_without_fetching_it(
    polling: TelegramAdapter, fake: FakeTelegram
) -> None:
    update = fake.document_update(501, "big.csv", b"x")
    update["message"]["document"]["file_size"] = MAX_FILE_BYTES + 1
    fake.push(update)
    await _until(lambda: bool(_outgoing(fake, 501)), "a reply")
    (refused,) = _outgoing(fake, 501)
    assert refused.params["text"] == (
        "That file is too big for me (5.1 MB). Please send files of up to 5 MB."
    )
    assert not fake.calls_to("getFile") and not fake.downloads


async def test_a_document_is_never_read_from_this_machines_disk(
    polling: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    # A Bot API server answering getFile with a path that exists here would make
    # python-telegram-bot read that file from the disk instead of downloading it.
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"external_id,title,organisation\ns1,Server secret,Local Disk Ltd\n")
    add_school(session_factory, clock.now)
    join_with_invite(
        session_factory, clock.now, Chat(core, "601", platform="telegram"), Role.TEACHER
    )
    update = fake.document_update(601, "listings.csv", LISTINGS_CSV)
    file_id = update["message"]["document"]["file_id"]
    fake._files[file_id] = (str(secret), LISTINGS_CSV)
    fake.push(update)
    await _until(lambda: bool(_outgoing(fake, 601)), "a reply")
    (refused,) = _outgoing(fake, 601)
    assert refused.params["text"] == NOT_DOWNLOADED
    assert row_counts(session_factory)["opportunities"] == 0


async def test_a_document_whose_size_only_getfile_tells_is_refused_unfetched(
    polling: TelegramAdapter, fake: FakeTelegram
) -> None:
    update = fake.document_update(501, "big.csv", b"x" * (MAX_FILE_BYTES + 1))
    del update["message"]["document"]["file_size"]
    fake.push(update)
    await _until(lambda: bool(_outgoing(fake, 501)), "a reply")
    assert _outgoing(fake, 501)[0].params["text"].startswith("That file is too big for me")
    assert fake.calls_to("getFile") and not fake.downloads


async def test_command_menus_are_described_in_each_language(
    polling: TelegramAdapter, fake: FakeTelegram
) -> None:
    # The same commands everywhere; only their descriptions are translated.
    english = {c["command"]: c["description"] for c in fake.commands()}
    spanish = {c["command"]: c["description"] for c in fake.commands(language_code="es")}
    assert english.keys() == spanish.keys()
    assert english["help"] == "what I can do"
    assert spanish["help"] == "lo que puedo hacer"
    assert {c["command"]: c["description"] for c in fake.commands(language_code="uk")}[
        "start"
    ] == "налаштувати або змінити мій профіль"


async def test_what_the_adapter_says_itself_is_in_the_persons_language(
    polling: TelegramAdapter, fake: FakeTelegram
) -> None:
    update = fake.message_update(502, "placeholder", language_code="es")
    message = update["message"]
    del message["text"]
    message.pop("entities", None)
    message["location"] = {"latitude": 53.8, "longitude": -1.55}
    fake.push(update)
    group = -100124
    fake.push(
        fake.message_update(
            503, "/help@oppbot_test_bot", chat_id=group, chat_type="group", language_code="uk"
        )
    )
    await _until(lambda: bool(_outgoing(fake, 502)) and bool(_outgoing(fake, group)), "replies")
    assert _outgoing(fake, 502)[0].params["text"] == (
        "Por ahora solo puedo leer mensajes de texto. Envía /help para ver lo que puedo hacer."
    )
    assert _outgoing(fake, group)[0].params["text"].startswith("Я спілкуюся лише особисто")


class InChat(Chat):
    """A private Telegram chat, whose id is the person's."""

    def _incoming(self, **kwargs: str | Attachment | None) -> Incoming:
        return replace(super()._incoming(**kwargs), chat_id=self.user)


async def test_an_application_s_messages_reply_to_its_first_on_telegram(
    fake: FakeTelegram, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    boss = InChat(core, "900", platform="telegram", name="Maya")
    make_employer(session_factory, clock.now, boss, "Acme Ltd")
    ada = InChat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"intn:{opportunity}")
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        sender = OutboxSender(session_factory, TelegramTransport(bot), clock=clock)
        await sender.drain()
        buttons = {b.label: b for b in last_message(session_factory, boss, "match")[1]}
        boss.press_payload(buttons["Ask a question"].payload)
        boss.send("Can you do Tuesdays?")
        await sender.drain()
        ada.press_payload(last_message(session_factory, ada)[1][0].payload)
        ada.send("Yes, Tuesdays suit me.")
        boss.press_payload(buttons["Invite"].payload)
        boss.send("Come on Tuesday at 10:00.")
        await sender.drain()
    (root, reply) = fake.sent(900)
    assert root.params["text"].endswith("Status: New") and "reply_parameters" not in root.params
    assert reply.params["reply_parameters"]["message_id"] == 1  # quotes the notification
    (asked, invited) = fake.calls_to("editMessageText")
    assert (asked.params["chat_id"], asked.params["message_id"]) == (900, 1)
    assert asked.params["text"].endswith("Status: Asked")
    assert invited.params["text"].endswith("Status: Invited")
    # The student's side: the invitation quotes the question before it.
    (question, invitation) = fake.sent(501)[-2:]
    assert "Can you do Tuesdays?" in question.params["text"]
    assert "reply_parameters" not in question.params
    assert "Come on Tuesday" in invitation.params["text"]
    with session_factory() as session:
        question_id = session.scalar(
            select(OutboxMessage.sent_message_id).where(
                OutboxMessage.text.contains("Can you do Tuesdays?"), OutboxMessage.kind == "relay"
            )
        )
    assert invitation.params["reply_parameters"]["message_id"] == int(question_id or 0)


async def test_sending_to_n_students_is_edited_to_the_delivery_outcome(
    polling: TelegramAdapter,
    fake: FakeTelegram,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    for user in ("601", "602"):
        onboard(InChat(core, user, platform="telegram", name="Student Sam"), under_18=False)
    fake.fail("sendMessage", "403", chat_id=602)  # this one blocked the bot
    with transaction(session_factory) as session:
        school = session.scalars(select(School)).one()
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    tess = TelegramUser(fake, 700, "Tess")
    await tess.say(f"/join {code}", "set up as a teacher")
    await tess.say("/announce Careers fair on Friday", "Who should get it?")
    await tess.press("Everyone at", "Here's what they'll read")
    status = await tess.press("Send now", "Sending to 2 students.")
    # The pressed preview became "Sending to ...": that message is the one to edit later.
    assert status.method == "editMessageText"
    await _until(lambda: _shown(session_factory), "where the status message is")
    sender = OutboxSender(session_factory, TelegramTransport(polling.bot), clock=clock)
    await sender.drain()
    assert report_deliveries(session_factory, clock.now, Timing()) == 1
    sends_to_tess = len(fake.sent(700))
    await sender.drain()
    assert len(fake.sent(700)) == sends_to_tess  # no follow-up message
    *_, outcome = fake.calls_to("editMessageText")
    assert (outcome.params["chat_id"], outcome.params["message_id"]) == (
        700,
        status.params["message_id"],
    )
    assert outcome.params["text"] == (
        "Announcement #1 delivered to 1 student, 1 unreachable: Careers fair on Friday"
    )
    (row,) = outcome.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in row] == ["Delivery report"]


def _shown(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return (
            session.scalar(
                select(OutboxMessage.sent_message_id).where(
                    OutboxMessage.idempotency_key == "ann-sending:1"
                )
            )
            is not None
        )
