"""What ``oppbot run`` writes to its log: never a token or a secret, never what people wrote,
and no chat ids unless the operator asked for DEBUG.

The real adapters and senders run against the fake Telegram and Slack servers, with the
logging that ``oppbot`` sets up, at INFO and at DEBUG; everything written is then searched.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable
from datetime import date

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.config import Settings
from bot.core import EVERYONE, Context, Core, Registry, Reply
from bot.delivery import OutboxSender
from bot.slack import EVENTS_PATH, Renderer, SlackAdapter, SlackTransport
from bot.telegram import TelegramAdapter, TelegramTransport
from handlers import build_registry
from storage.models import Account
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.helpers import Chat, add_opportunity, add_school, make_employer, onboard
from tests.test_delivery import Timeline
from tests.test_telegram import TelegramUser

TELEGRAM_TOKEN = "7012345678:AAF3kT9-secretPartOfTheBotToken_q1"
SLACK_BOT_TOKEN = "xoxb-1111-2222-secretbottoken"
SLACK_APP_TOKEN = "xapp-1-A0111-3333-secretapptoken"
SIGNING_SECRET = "9f8e7d6c5b4a-signing-secret"
WEBHOOK_SECRET = "telegram-webhook-secret-42"
# What students and employers wrote: none of it belongs in a log at any level.
NOTE = "call me on my aunt's phone zebra"
CRASHING = "/crash my home address is 12 Quayside"
SLACK_TEXT = "looking for a placement near Harbourview"
# Ids no timestamp, port or line number would happen to contain.
STUDENT = 913572468
EMPLOYER = 824681357
SLACK_STUDENT = "U0QWERTY42"
SLACK_EMPLOYER = "U0ASDFGH77"


@pytest.fixture(params=["INFO", "DEBUG"])
def log_output(request: pytest.FixtureRequest) -> tuple[str, io.StringIO]:
    """``oppbot``'s own logging set up at the level, into a buffer (conftest undoes it)."""
    stream = io.StringIO()
    settings = Settings(
        log_level=request.param,
        telegram_token=TELEGRAM_TOKEN,
        telegram_webhook_secret=WEBHOOK_SECRET,
        slack_bot_token=SLACK_BOT_TOKEN,
        slack_app_token=SLACK_APP_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
    )
    logs.configure(settings, stream)
    return request.param, stream


def _registry_with_a_bug() -> Registry:
    """Every handler, and one more that fails the way an unexpected bug would."""
    registry = build_registry()

    @registry.command("crash", roles=EVERYONE, help="fails")
    def crash(ctx: Context, args: str) -> list[Reply]:
        # A database error would quote the statement's parameters: what the person wrote.
        ctx.session.execute(text("SELECT * FROM no_such_table WHERE a = :a"), {"a": args})
        return []

    return registry


def _assert_clean(level: str, written: str, ids: list[str]) -> None:
    assert "adapter running" in written, "the log was written"
    secrets = [
        TELEGRAM_TOKEN.split(":")[1],
        SLACK_BOT_TOKEN,
        SLACK_APP_TOKEN,
        SIGNING_SECRET,
        WEBHOOK_SECRET,
    ]
    for secret in secrets:
        assert secret not in written
    for words in (NOTE, CRASHING, SLACK_TEXT, "Quayside", "zebra", "Harbourview"):
        assert words not in written
    if level != "DEBUG":
        for chat in ids:
            assert chat not in written


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``; the bound only ends a broken test, nothing is timed."""
    for _ in range(750):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_telegram_logs_carry_no_token_text_or_chat_id(
    log_output: tuple[str, io.StringIO],
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    level, stream = log_output
    core = Core(session_factory, _registry_with_a_bug(), clock=clock)
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    boss = Chat(core, str(EMPLOYER), platform="telegram", name="Maya")
    make_employer(session_factory, clock.now, boss, "Acme Ltd")
    with session_factory.begin() as session:
        account = session.scalars(select(Account).where(Account.external_id == str(EMPLOYER)))
        account.one().chat_id = str(EMPLOYER)
    async with FakeTelegram() as fake:
        settings = Settings(
            telegram_token=TELEGRAM_TOKEN, telegram_api_url=fake.base_url.removesuffix("/bot")
        )
        adapter = TelegramAdapter(core, settings)
        await adapter.start()
        try:
            ada = TelegramUser(fake, STUDENT, "Ada")
            await ada.say("/start", "What's your first name?")
            await ada.say("Ada", "family name")
            await ada.say("Lovelace", "join code")
            await ada.say("RIVER-11", "Which grade")
            await ada.say("11", "under 18")
            await ada.press("No", "Which fields")
            await ada.press("Skip", "time zone")
            await ada.press("London", "where can you get to")
            await ada.press("Skip", "Welcome")
            fake.push(fake.callback_update(STUDENT, f"int:{opportunity}", message_id=1))
            await ada.say(NOTE, "Done!")
            await ada.say(CRASHING, "something went wrong")
            # The employer's notification, with the note, after the platform asked us to wait.
            fake.fail("sendMessage", "429", retry_after=3)
            timeline = Timeline(clock)
            sender = OutboxSender(
                session_factory,
                TelegramTransport(adapter.bot),
                clock=clock,
                monotonic=timeline.monotonic,
                sleep=timeline.sleep,
            )
            await sender.drain()
            assert NOTE in fake.sent(EMPLOYER)[0].params["text"]
        finally:
            await adapter.stop()
    _assert_clean(level, stream.getvalue(), [str(STUDENT), str(EMPLOYER)])


async def test_slack_logs_carry_no_token_secret_text_or_channel(
    log_output: tuple[str, io.StringIO],
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    level, stream = log_output
    core = Core(session_factory, _registry_with_a_bug(), clock=clock)
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    async with FakeSlack(
        token=SLACK_BOT_TOKEN, app_token=SLACK_APP_TOKEN, signing_secret=SIGNING_SECRET
    ) as fake:
        student_dm = fake.add_user(SLACK_STUDENT, "Ada Lovelace")
        boss_dm = fake.add_user(SLACK_EMPLOYER, "Maya Boss")
        ada = Chat(core, SLACK_STUDENT, platform="slack", name="Ada Lovelace")
        onboard(ada, under_18=False)
        boss = Chat(core, SLACK_EMPLOYER, platform="slack", name="Maya")
        make_employer(session_factory, clock.now, boss, "Acme Ltd")
        with session_factory.begin() as session:
            for user, dm in ((SLACK_STUDENT, student_dm), (SLACK_EMPLOYER, boss_dm)):
                account = session.scalars(select(Account).where(Account.external_id == user))
                account.one().chat_id = dm
        base = {"slack_bot_token": SLACK_BOT_TOKEN, "slack_api_url": fake.base_url}
        http = SlackAdapter(
            core,
            Settings(
                **base,
                slack_signing_secret=SIGNING_SECRET,
                slack_listen="127.0.0.1",
                slack_port=0,
            ),
        )
        await http.start()
        fake.request_url = f"http://127.0.0.1:{http.port}{EVENTS_PATH}"
        try:
            await fake.dm_message(SLACK_STUDENT, SLACK_TEXT)
            await fake.slash(SLACK_STUDENT, CRASHING.removeprefix("/"))
            await http.idle()
        finally:
            await http.stop()
        socket = SlackAdapter(core, Settings(**base, slack_app_token=SLACK_APP_TOKEN))
        await socket.start()
        try:
            event = fake.message_event(SLACK_STUDENT, f"/interested {opportunity}")
            await fake.socket_request("events_api", json.loads(fake.event_body(event)))
            await socket.idle()
        finally:
            await socket.stop()
        ada.press_payload(f"int:{opportunity}")
        ada.send(NOTE)
        fake.fail("chat.postMessage", "ratelimited", channel=boss_dm, retry_after=3)
        timeline = Timeline(clock)
        client = AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=fake.base_url)
        sender = OutboxSender(
            session_factory,
            SlackTransport(client, Renderer(core.registry)),
            clock=clock,
            monotonic=timeline.monotonic,
            sleep=timeline.sleep,
        )
        await sender.drain()
        assert any(NOTE in m.section_text for m in fake.posted(boss_dm))
        await _until(lambda: bool(fake.posted(student_dm)), "the answers to the student")
    ids = [SLACK_STUDENT, SLACK_EMPLOYER, student_dm, boss_dm]
    _assert_clean(level, stream.getvalue(), ids)


def test_the_filter_redacts_secrets_anywhere_in_a_record() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.Redact(["configured-secret-value", "short"]))
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("secret %s and %r", "configured-secret-value", {"token": SLACK_BOT_TOKEN})
        logger.warning("GET http://127.0.0.1/bot99887766:Unconfigured_token-x/getMe")
        logger.warning("pasted 5566778899:AAE0123456789abcdefghijklmnopq and xapp-1-A2-3-ab")
        try:
            raise ValueError(f"refused {TELEGRAM_TOKEN}")
        except ValueError:
            logger.exception("failed")
        logger.warning("a short word stays")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    for secret in (
        "configured-secret-value",
        SLACK_BOT_TOKEN,
        "Unconfigured_token",
        "AAE0123456789",
        "xapp-1",
        TELEGRAM_TOKEN.split(":")[1],
    ):
        assert secret not in written
    assert "/bot[redacted]/getMe" in written
    assert "ValueError: refused" in written and "a short word stays" in written


def test_without_a_stream_logs_go_to_standard_error_as_it_is_at_each_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs.configure(Settings(log_level="INFO"))
    logger = logging.getLogger("tests.stderr")
    before, after = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", before)
    logger.info("first record")
    # A host (or a test runner) that replaces standard error later gets the later records.
    monkeypatch.setattr(sys, "stderr", after)
    logger.info("second record")
    assert "first record" in before.getvalue() and "second record" not in before.getvalue()
    assert "second record" in after.getvalue() and "first record" not in after.getvalue()
