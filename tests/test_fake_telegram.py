"""The fake Telegram server speaks the wire format the real python-telegram-bot expects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-token"
SECRET = "s3cret-token"


class ManualClock:
    """The fake's clock; tests advance it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(clock=clock) as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        yield bot


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 reports time periods (RetryAfter.retry_after) as int with a deprecation warning
    # unless opted in to the timedelta it will use from v23.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def eventually(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("I'm interested", callback_data="opp:42:interest")],
        [InlineKeyboardButton("More", callback_data="opp:page:2")],
    ]
)


async def test_get_me_and_every_call_is_recorded(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (fake.bot_id, "oppbot_test_bot", True)
    # Bot.initialize() called getMe too.
    assert [call.method for call in fake.calls] == ["getMe", "getMe"]
    assert all(call.token == TOKEN and call.accepted for call in fake.calls)


async def test_send_message_round_trips_the_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(
        42, "<b>Acme</b> &amp; co: 3 places", parse_mode="HTML", reply_markup=KEYBOARD
    )
    second = await bot.send_message(42, "Next")

    [call, _] = fake.sent(42)
    assert call.params == {
        "chat_id": 42,
        "text": "<b>Acme</b> &amp; co: 3 places",
        "parse_mode": "HTML",
        "reply_markup": KEYBOARD.to_dict(),
    }
    assert first.text == "Acme & co: 3 places"  # Telegram returns the text without markup
    assert first.reply_markup == KEYBOARD
    assert (first.chat.id, first.from_user.id if first.from_user else None) == (42, fake.bot_id)
    assert (first.message_id, second.message_id) == (1, 2)
    assert fake.sent(43) == []


async def test_form_values_keep_their_types(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(7, "42")  # a text that looks like a number stays a string

    async with ClientSession() as session:
        body = {"chat_id": 7, "text": "json", "reply_markup": KEYBOARD.to_json()}
        async with session.post(f"{fake.base_url}{TOKEN}/sendMessage", json=body) as response:
            answer = await response.json()

    assert [call.params["text"] for call in fake.sent(7)] == ["42", "json"]
    # A JSON body may carry reply_markup as an object or, like a form, as a JSON string.
    assert fake.sent(7)[1].params["reply_markup"] == KEYBOARD.to_dict()
    assert answer["ok"] is True
    assert answer["result"]["reply_markup"] == KEYBOARD.to_dict()


async def test_edit_message_text(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(42, "Page 1", reply_markup=KEYBOARD)

    edited = await bot.edit_message_text("Page 2", chat_id=42, message_id=sent.message_id)

    assert not isinstance(edited, bool)
    assert (edited.message_id, edited.text, edited.reply_markup) == (
        sent.message_id,
        "Page 2",
        None,
    )
    assert fake.calls_to("editMessageText")[0].params == {
        "chat_id": 42,
        "message_id": sent.message_id,
        "text": "Page 2",
    }
    same_again = bot.edit_message_text("Page 2", chat_id=42, message_id=sent.message_id)
    assert (await bad_request(same_again)).startswith("Message is not modified: ")


async def test_answer_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.answer_callback_query("17", text="Saved") is True

    [call] = fake.calls_to("answerCallbackQuery")
    assert call.params == {"callback_query_id": "17", "text": "Saved"}


async def test_commands_are_stored_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    scope = BotCommandScopeChat(42)
    commands = [BotCommand("start", "Begin"), BotCommand("browse", "See opportunities")]

    assert await bot.set_my_commands(commands, scope=scope, language_code="en") is True

    [call] = fake.calls_to("setMyCommands")
    assert call.params["scope"] == {"type": "chat", "chat_id": 42}
    assert fake.commands({"type": "chat", "chat_id": 42}, "en") == [c.to_dict() for c in commands]
    assert await bot.get_my_commands(scope=scope, language_code="en") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(scope=scope, language_code="en") is True
    assert fake.commands({"type": "chat", "chat_id": 42}, "en") == []


async def bad_request(request: Awaitable[object]) -> str:
    """The message of the BadRequest a request raises.

    PTB strips "Bad Request: " from Telegram's description and capitalize()s the rest, which
    lowercases everything after the first letter: "BUTTON_DATA_INVALID" reads
    "Button_data_invalid". Code that inspects these messages must compare case-insensitively.
    """
    with pytest.raises(BadRequest) as raised:
        await request
    return raised.value.message


async def test_refuses_what_telegram_refuses(bot: Bot) -> None:
    too_long = InlineKeyboardButton("x", callback_data="x" * 65)
    keyboard = InlineKeyboardMarkup([[too_long]])

    assert await bad_request(bot.send_message(1, "hi", reply_markup=keyboard)) == (
        "Button_data_invalid"
    )
    assert await bad_request(bot.send_message(1, "x" * 4097)) == "Message is too long"
    assert await bad_request(bot.send_message(1, " ")) == "Message text is empty"
    assert await bad_request(bot.send_message(1, "<script>", parse_mode="HTML")) == (
        'Can\'t parse entities: unsupported start tag "script" at byte offset 0'
    )
    assert await bad_request(bot.send_message(1, "é < b", parse_mode="HTML")) == (
        'Can\'t parse entities: unsupported start tag "" at byte offset 3'
    )
    assert await bad_request(bot.send_message(1, "<b>bold", parse_mode="HTML")) == (
        "Can't parse entities: can't find end tag corresponding to start tag \"b\""
    )
    assert await bad_request(bot.set_my_commands([BotCommand("Start", "Begin")])) == (
        "Bot_command_invalid"
    )
    # 4,096 visible characters are fine even with markup around them.
    await bot.send_message(1, f"<b>{'x' * 4095}</b>&amp;", parse_mode="HTML")


async def test_get_updates_returns_pushed_updates(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(1001, "Pick one", reply_markup=KEYBOARD)
    fake.push(fake.message_update(1001, "/start JOIN42", first_name="Grace", username="grace"))
    fake.push(fake.callback_update(1001, "opp:42:interest", message_id=sent.message_id))

    message, press = await bot.get_updates(timeout=0)

    assert isinstance(message, Update) and message.message is not None
    assert message.message.text == "/start JOIN42"
    assert message.message.parse_entities(["bot_command"]) == {
        message.message.entities[0]: "/start"
    }
    user = message.effective_user
    assert user is not None
    assert (user.id, user.first_name, user.username, user.language_code) == (
        1001,
        "Grace",
        "grace",
        "en",
    )
    assert message.effective_chat is not None and message.effective_chat.type == "private"
    query = press.callback_query
    assert query is not None and query.message is not None
    assert (query.data, query.from_user.id, query.message.message_id) == (
        "opp:42:interest",
        1001,
        sent.message_id,
    )
    # Unconfirmed updates are served again; an offset past them confirms them.
    assert len(await bot.get_updates()) == 2
    assert await bot.get_updates(offset=press.update_id + 1) == ()


async def test_long_poll_wakes_up_on_push(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await eventually(lambda: fake.calls_to("getUpdates"))

    fake.push(fake.message_update(5, "hello"))

    [update] = await poll
    assert update.message is not None and update.message.text == "hello"
    # PTB sends the timeout as a form field; the fake decodes it to a number.
    assert fake.calls_to("getUpdates")[0].params["timeout"] == 10


async def test_429_raises_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail("sendMessage", "429", retry_after=3)

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(1, "hi")
    await bot.send_message(1, "hi again")

    assert raised.value.retry_after == timedelta(seconds=3)
    assert [call.status for call in fake.calls_to("sendMessage")] == [429, 200]
    assert [call.params["text"] for call in fake.sent()] == ["hi again"]


async def test_403_raises_forbidden_for_that_chat_only(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail("sendMessage", "403", chat_id=2, times=2)

    await bot.send_message(1, "hi")
    for _ in range(2):
        with pytest.raises(Forbidden) as raised:
            await bot.send_message(2, "hi")
        assert raised.value.message == "Forbidden: bot was blocked by the user"
    await bot.send_message(2, "hi")

    assert [call.params["chat_id"] for call in fake.sent()] == [1, 2]


async def test_500_raises_network_error(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail("sendMessage", "500")

    with pytest.raises(NetworkError) as raised:
        await bot.send_message(1, "hi")

    # Not a subclass such as TimedOut: PTB maps every other 5xx to plain NetworkError.
    assert type(raised.value) is NetworkError
    assert raised.value.message == "Internal Server Error"


async def test_hang_raises_timed_out(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", "hang")

    async with Bot(TOKEN, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(1, "hi")

    [call] = fake.calls_to("sendMessage")
    assert call.status is None and fake.sent() == []
    # The fixture's stop() then cancels the hung handler instead of waiting an hour.


async def test_unknown_method_is_not_found(bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})


async def test_flood_limits(fake: FakeTelegram, bot: Bot, clock: ManualClock) -> None:
    fake.enforce_limits(per_second=3, per_chat_per_second=1)

    await bot.send_message(1, "a")
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(1, "b")
    assert raised.value.retry_after == timedelta(seconds=1)
    await bot.send_message(2, "c")
    await bot.send_message(3, "d")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "e")  # the fourth message within one second
    clock.now += 1.0
    await bot.send_message(1, "b")
    await bot.send_message(4, "e")

    assert fake.rate_limited == 2
    assert [call.params["text"] for call in fake.sent()] == ["a", "c", "d", "b", "e"]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str | None, dict[str, Any]]]]]:
    """A webhook endpoint that checks the secret like our adapter must: (url, received)."""
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == SECRET else 403)

    app = web.Application()
    app.router.add_post("/telegram", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/telegram", received
    await runner.cleanup()


async def test_webhook_delivery(
    fake: FakeTelegram,
    bot: Bot,
    receiver: tuple[str, list[tuple[str | None, dict[str, Any]]]],
) -> None:
    url, received = receiver
    assert await bot.set_webhook(url, secret_token=SECRET) is True
    assert (await bot.get_webhook_info()).url == url
    update = fake.message_update(9, "/browse")

    fake.push(update)
    await fake.drain()
    wrong = await fake.post_to_webhook(update, secret="guess")
    missing = await fake.post_to_webhook(update, secret=None)

    assert received == [(SECRET, update), ("guess", update), (None, update)]
    assert (fake.webhook_responses, wrong, missing) == ([200], 403, 403)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook() is True
    fake.push(update)
    assert len(await bot.get_updates()) == 1


async def test_application_polling_answers_a_command(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_user is not None
        await context.bot.send_message(
            update.effective_chat.id, f"Hi {update.effective_user.first_name}"
        )

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(fake.base_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    fake.push(fake.message_update(77, "/start", first_name="Grace"))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await eventually(lambda: fake.sent(77))
        await app.updater.stop()
        await app.stop()

    assert [call.params["text"] for call in fake.sent(77)] == ["Hi Grace"]
    # Polling began by deleting any webhook; stopping confirmed the processed update.
    assert fake.calls_to("deleteWebhook")
    assert fake.calls_to("getUpdates")[-1].params["offset"] == 2
