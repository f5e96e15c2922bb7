"""The real slack-bolt app against the fake Slack on 127.0.0.1, in HTTP mode and Socket Mode.

Requests reach the bot signed as Slack signs them; the bot acknowledges at once and answers
afterwards, so each test waits for ``adapter.idle()`` before it looks at what was posted.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import (
    EVERYONE,
    MAX_FILE_BYTES,
    Attachment,
    Button,
    Context,
    Core,
    Dashboard,
    Field,
    Form,
    Item,
    Panel,
    Registry,
    Reply,
    Timing,
)
from bot.delivery import OutboxSender, Outcome, Pacing
from bot.slack import (
    ANNOUNCE,
    EVENTS_PATH,
    MAX_SECTION_TEXT,
    SLASH_COMMAND,
    Refusals,
    Renderer,
    SlackAdapter,
    SlackTransport,
    command_text,
    from_mrkdwn,
    split_escaped,
    to_mrkdwn,
)
from bot.slack.forms import form_view, option_list, own_choices
from bot.slack.home import home_view
from handlers import build_registry
from handlers.listings.opportunities import EDITABLE
from handlers.messaging.announcements import report_deliveries
from handlers.people.invites import create_invite
from storage.db import transaction
from storage.models import (
    Account,
    Announcement,
    AnnouncementStatus,
    Cohort,
    Interest,
    InterestStatus,
    InviteCode,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    School,
)
from storage.outbox import MessageRef, enqueue
from tests.conftest import FakeClock
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    Message,
    signature,
)
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    last_message,
    make_employer,
    onboard,
    row_counts,
)
from tests.test_delivery import Timeline

HOSTILE = "<@U123> & *bold* <!channel>"
ESCAPED = "&lt;@U123&gt; &amp; *bold* &lt;!channel&gt;"


def _settings(fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.base_url,
        "slack_listen": "127.0.0.1",
        "slack_port": 0,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest.fixture
async def slack(core: Core, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(core, _settings(fake))
    await adapter.start()
    fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
    try:
        yield adapter
    finally:
        await adapter.stop()


def _texts(messages: list[Message]) -> list[str]:
    return [m.section_text for m in messages]


def _slack_student(
    core: Core, fake: FakeSlack, user: str = "U1", name: str = "Ada Lovelace"
) -> str:
    """A student who onboarded (through the core) and has a DM with the bot on Slack."""
    dm = fake.add_user(user, name)
    onboard(Chat(core, user, platform="slack", name=name))
    return dm


async def test_url_verification_answers_the_challenge(slack: SlackAdapter, fake: FakeSlack) -> None:
    answer = await fake.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert answer.status == 200
    assert json.loads(answer.body) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }


async def test_forged_missing_and_stale_signatures_are_refused(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session]
) -> None:
    fake.add_user("U1", "Ada Lovelace")
    before = row_counts(session_factory)
    body = fake.event_body(fake.message_event("U1", "/start"))
    form = urlencode(fake.command_form("U1", "start"))
    stale = int(time.time()) - 6 * 60
    refused = [
        await fake.deliver(body, "application/json", secret="not-the-secret"),
        await fake.deliver(body, "application/json", secret=None),
        await fake.deliver(body, "application/json", timestamp=stale),
        await fake.deliver(form, "application/x-www-form-urlencoded", secret="forged"),
        await fake.slash("U1", "start", secret=None),
    ]
    # A signed body changed on the way is forged too.
    now = int(time.time())
    tampered = await fake.deliver(
        body.replace("/start", "/forget"),
        "application/json",
        timestamp=now,
        secret=None,
        headers={"X-Slack-Signature": signature(SIGNING_SECRET, str(now), body)},
    )
    await slack.idle()
    assert [r.status for r in [*refused, tampered]] == [401] * 6
    assert row_counts(session_factory) == before
    assert not fake.posted()
    assert not fake.calls_to("chat.postMessage")


async def test_a_dm_reaches_the_core_and_the_reply_is_escaped_mrkdwn(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title=HOSTILE, deadline=date(2026, 12, 20))
    dm = _slack_student(core, fake)
    assert (await fake.dm_message("U1", "browse")).status == 200
    await slack.idle()
    (listing,) = fake.posted(dm)
    assert ESCAPED in listing.section_text
    assert ESCAPED in listing.text  # the notification fallback is escaped as well
    everything = json.dumps(listing.blocks) + listing.text
    assert "<@U123>" not in everything and "<!channel>" not in everything
    assert all(b["text"]["type"] == "mrkdwn" for b in listing.blocks if b["type"] == "section")
    with session_factory() as session:
        account = session.scalars(select(Account).where(Account.platform == "slack")).one()
        assert (account.external_id, account.chat_id) == ("U1", dm)


async def test_a_slash_command_from_a_channel_is_answered_in_the_dm(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title=HOSTILE)
    dm = _slack_student(core, fake)
    fake.add_channel("C0GENERAL")
    answer = await fake.slash("U1", "browse", channel="C0GENERAL")
    assert (answer.status, answer.body) == (200, "")  # acknowledged, nothing shown in #general
    await slack.idle()
    assert not fake.posted("C0GENERAL")
    (listing,) = fake.posted(dm)
    assert ESCAPED in listing.section_text
    ((_, pointer),) = fake.responses
    assert pointer["response_type"] == "ephemeral"
    assert "direct messages" in pointer["text"]


async def test_a_button_updates_its_message_in_place(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title=HOSTILE, deadline=date(2026, 12, 20))
    dm = _slack_student(core, fake)
    await fake.dm_message("U1", "browse")
    await slack.idle()
    assert (await fake.click("U1", "1")).status == 200
    await slack.idle()
    (card,) = fake.posted(dm)  # edited, not posted again
    assert card.updates == 1
    assert "Apply by 20 Dec 2026" in card.section_text
    assert ESCAPED in card.section_text
    (update,) = fake.calls_to("chat.update")
    assert update.params["channel"] == dm and update.params["ts"] == card.ts
    ids = [e["action_id"] for e in card.buttons]
    assert len(ids) == len(set(ids))  # unique per message, as Slack requires


async def test_answers_survive_a_rate_limit_and_a_message_that_cannot_be_updated(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    dm = _slack_student(core, fake)
    fake.fail("chat.postMessage", "ratelimited", retry_after=0)
    await fake.dm_message("U1", "browse")
    await slack.idle()
    (listing,) = fake.posted(dm)  # posted on the second try, once
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    fake.fail("chat.update", "message_not_found")  # deleted in the meantime
    await fake.click("U1", "1")
    await slack.idle()
    _, card = fake.posted(dm)  # so the card comes as a new message
    assert "Apply by 20 Dec 2026" in card.section_text and listing.updates == 0


async def test_a_modal_waits_out_a_rate_limit_but_the_outbox_is_told_of_it(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    fake.fail("views.open", "ratelimited", retry_after=0)
    await fake.slash("UT", "publish")
    await slack.idle()
    assert [c.status for c in fake.calls_to("views.open")] == [429, 200]
    assert [v["callback_id"] for v in fake.views.values()] == ["oppbot_modal:publish"]
    # The outbox's sender paces its messages itself: a 429 comes back to it at once.
    posted = len(fake.calls_to("chat.postMessage"))
    fake.fail("chat.postMessage", "ratelimited", retry_after=7)
    result = await slack.transport().send(dm, "hi", None)
    assert (result.outcome, result.retry_after) == (Outcome.RETRY_AFTER, 7.0)
    assert len(fake.calls_to("chat.postMessage")) == posted + 1


async def test_a_retried_event_and_a_repeated_click_take_effect_once(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    dm = _slack_student(core, fake)
    await fake.dm_message("U1", "browse")
    await slack.idle()
    message, button = fake.button(dm, "1")
    click = fake.click_payload("U1", message, button)
    # The same interaction arriving twice (a proxy retrying) opens the card once.
    assert (await fake.interaction(click)).status == 200
    assert (await fake.interaction(click)).status == 200
    await slack.idle()
    assert len(fake.calls_to("chat.update")) == 1
    await fake.click("U1", "interested")
    await slack.idle()
    note = fake.message_event("U1", "I <3 robots & <b>code</b>")
    first = await fake.event(note, event_id="Ev0NOTE")
    # Slack retries an event it thinks went unanswered, with the same event id.
    retry = await fake.event(note, event_id="Ev0NOTE", retry_num=1)
    assert (first.status, retry.status) == (200, 200)
    await slack.idle()
    with session_factory() as session:
        interest = session.scalars(select(Interest)).one()
        # What the student typed, not Slack's encoding of it.
        assert interest.note == "I <3 robots & <b>code</b>"
        assert interest.opportunity_id == opportunity
    assert sum("Done!" in t for t in _texts(fake.posted(dm))) == 1


async def test_a_students_slack_account_is_refused_teacher_commands(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    await fake.slash("U1", "invite employer Acme Ltd")
    await slack.idle()
    (answer,) = fake.posted(dm)
    assert "only for" in answer.section_text and "teachers" in answer.section_text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(InviteCode)) == 0


async def test_a_teacher_joins_and_works_through_the_slash_command(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    with transaction(session_factory) as session:
        code = create_invite(session, Role.TEACHER, now=clock.now).code
    dm = fake.add_user("UT", "Tess Teacher")
    await fake.slash("UT", f"join {code}")
    await slack.idle()
    await fake.slash("UT", "invite employer Acme & Sons <Ltd>")
    await slack.idle()
    welcome, invite = fake.posted(dm)
    assert "set up as a teacher" in welcome.section_text
    assert "/oppbot help" in welcome.section_text
    assert "Acme &amp; Sons &lt;Ltd&gt;" in invite.section_text
    with session_factory() as session:
        person = session.scalars(select(Person).where(Person.role == Role.TEACHER)).one()
        assert person.name == "Tess Teacher"  # from users.info
        assert session.scalar(select(func.count()).select_from(InviteCode)) == 2


async def test_a_guest_is_told_how_to_join_in_slack_terms(
    slack: SlackAdapter, fake: FakeSlack
) -> None:
    dm = fake.add_user("U9", "Gus Guest")
    await fake.slash("U9", "browse")
    await slack.idle()
    await fake.slash("U9", "")
    await slack.idle()
    refusal, help_text = _texts(fake.posted(dm))
    assert "haven't joined yet" in refusal and "/oppbot start" in refusal
    # On Slack a bare /join would run Slack's own channel command.
    assert "/oppbot join" in help_text and "/oppbot start" in help_text
    assert " /join" not in help_text and " /start" not in help_text


async def test_the_home_tab_lists_the_commands_for_the_role(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    fake.add_user("U9", "Gus Guest")
    _slack_student(core, fake, "U1")
    for user in ("U9", "U1"):
        event = {"type": "app_home_opened", "user": user, "channel": fake.dm(user), "tab": "home"}
        assert (await fake.event(event)).status == 200
    await slack.idle()
    guest = json.dumps(fake.home["U9"])
    student = json.dumps(fake.home["U1"])
    assert "haven't joined yet" in guest and "/oppbot join" in guest
    assert '"value": "browse"' in student and '"value": "invite"' not in student


async def test_bot_messages_edits_and_other_channels_are_ignored(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session]
) -> None:
    dm = fake.add_user("U1", "Ada Lovelace")
    before = row_counts(session_factory)
    ours = {**fake.message_event("U1", "hello"), "bot_id": "B0OTHER"}
    edited = {**fake.message_event("U1", "hello"), "subtype": "message_changed"}
    in_channel = {**fake.message_event("U1", "hello"), "channel_type": "channel"}
    for event in (ours, edited, in_channel):
        assert (await fake.event(event)).status == 200
    await slack.idle()
    assert row_counts(session_factory) == before
    assert not fake.posted(dm)


async def test_a_reply_with_a_file_uploads_it_into_the_dm(
    fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    registry = Registry()

    @registry.command("ics", roles=EVERYONE, help="a calendar file")
    def ics(ctx: Context, args: str) -> list[Reply]:
        calendar = Attachment(
            "oppbot.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar"
        )
        return [Reply("Here's your calendar & more.", file=calendar)]

    adapter = SlackAdapter(Core(session_factory, registry, clock=clock), _settings(fake))
    await adapter.start()
    fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
    try:
        dm = fake.add_user("U1", "Ada Lovelace")
        await fake.slash("U1", "ics")
        await adapter.idle()
    finally:
        await adapter.stop()
    (text,) = fake.posted(dm)
    assert text.section_text == "Here's your calendar &amp; more."
    (shared,) = fake.files[dm]
    assert (shared.filename, shared.content) == (
        "oppbot.ics",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )


async def test_an_employer_on_slack_gets_the_match_notification_through_the_outbox(
    fake: FakeSlack, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    dm = fake.add_user("UE", "Maya Boss")
    boss = Chat(core, "UE", platform="slack", name="Maya")
    make_employer(session_factory, clock.now, boss, "Acme Ltd")
    with transaction(session_factory) as session:
        session.scalars(select(Account).where(Account.external_id == "UE")).one().chat_id = dm
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"int:{opportunity}")
    ada.send("I <3 robots & <!channel>")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    transport = SlackTransport(client, Renderer(core.registry))
    await OutboxSender(session_factory, transport, clock=clock).drain()
    (notification,) = fake.posted(dm)
    assert "I &lt;3 robots &amp; &lt;!channel&gt;" in notification.section_text
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage.status)).one() == OutboxStatus.SENT


async def test_an_employer_invites_a_student_from_the_slack_notification(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    dm = fake.add_user("UE", "Maya Boss")
    make_employer(session_factory, clock.now, Chat(core, "UE", platform="slack"), "Acme Ltd")
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"intn:{opportunity}")
    with transaction(session_factory) as session:
        session.scalars(select(Account).where(Account.external_id == "UE")).one().chat_id = dm
    await OutboxSender(session_factory, slack.transport(), clock=clock).drain()
    assert "Ada" in fake.posted(dm)[0].section_text
    await fake.click("UE", "Invite")
    await slack.idle()
    await fake.dm_message("UE", "Tuesday 10:00 & bring <your CV>")
    await slack.idle()
    with session_factory() as session:
        interest = session.scalars(select(Interest)).one()
        assert interest.status == InterestStatus.INVITED
        to_ada = session.scalars(
            select(OutboxMessage.text)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(Account.external_id == "501")
        ).all()
    # The student hears exactly what the employer typed (Telegram escapes it in its turn).
    assert any("Tuesday 10:00 & bring <your CV>" in text for text in to_ada)


async def _slack_teacher(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], now: datetime
) -> str:
    """A teacher of the one school who joined with an invite code on Slack; their DM's id."""
    with transaction(session_factory) as session:
        school = session.scalars(select(School)).one()
        code = create_invite(session, Role.TEACHER, now=now, school=school).code
    dm = fake.add_user("UT", "Tess Teacher")
    await fake.slash("UT", f"join {code}")
    await slack.idle()
    assert "set up as a teacher" in fake.posted(dm)[-1].section_text
    return dm


def _outbox_texts(session_factory: sessionmaker[Session]) -> dict[str, list[str]]:
    """Queued message texts by recipient platform."""
    with session_factory() as session:
        rows = session.execute(
            select(Account.platform, OutboxMessage.text).join(
                Account, Account.id == OutboxMessage.account_id
            )
        ).all()
    texts: dict[str, list[str]] = {}
    for platform, text in rows:
        texts.setdefault(platform, []).append(text)
    return texts


async def test_a_teachers_announcement_is_one_modal_counted_live_previewed_then_sent(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    onboard(Chat(core, "501", platform="telegram", name="Ada Lovelace"))
    onboard(Chat(core, "bob", platform="console", name="Bob Brown"))
    with transaction(session_factory) as session:
        school = session.scalars(select(School)).one()
        year11 = session.scalars(select(Cohort)).one()
        year12 = Cohort(name="Year 12", join_code="RIVER-12", created_at=clock.now, school=school)
        session.add(year12)
        session.flush()
        ids = {"Year 11": year11.id, "Year 12": year12.id}
    await _slack_teacher(slack, fake, session_factory, clock.now)
    fake.add_channel("C0STAFF")
    await fake.slash("UT", "", command="/announce", channel="C0STAFF")
    await slack.idle()
    assert not fake.responses  # the modal is the answer: no pointer to the DM
    view_id = fake.view_named("oppbot_modal:announce")
    view = fake.views[view_id]
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert {
        name: b["type"] if b["type"] != "input" else b["element"]["type"]
        for name, b in blocks.items()
    } == {
        "text": "plain_text_input",
        "audience": "radio_buttons",
        "classes": "multi_external_select",
        "field": "static_select",
        "opportunity": "external_select",
        "summary": "context",
        "date": "datepicker",
        "time": "timepicker",
        "urgent": "checkboxes",
    }
    live = [name for name, b in blocks.items() if b.get("dispatch_action")]
    assert live == ["audience", "classes", "field", "opportunity"]
    assert json.loads(view["private_metadata"]) == {"channel": "C0STAFF", "text": ""}

    def summary() -> str:
        (note,) = [b for b in fake.views[view_id]["blocks"] if b["block_id"] == "summary"]
        return str(note["elements"][0]["text"])

    assert summary() == "Choose who should get it."
    opened_hash = view["hash"]
    await fake.choose("UT", view_id, "audience", "cohorts")
    await slack.idle()
    (update,) = fake.calls_to("views.update")
    assert (update.params["view_id"], update.params["hash"]) == (view_id, opened_hash)
    assert summary() == "Choose at least one class."
    assert await fake.suggest("UT", view_id, "classes", "year") == [
        (f"#{ids['Year 11']}", "Year 11"),
        (f"#{ids['Year 12']}", "Year 12"),
    ]
    await fake.choose("UT", view_id, "classes", [f"#{ids['Year 12']}"])
    await slack.idle()
    assert summary() == "Will reach 0 students (Year 12)."
    await fake.choose("UT", view_id, "classes", [f"#{ids['Year 11']}", f"#{ids['Year 12']}"])
    await slack.idle()
    assert summary() == "Will reach 2 students (Year 11, Year 12)."
    updates = fake.calls_to("views.update")
    assert len(updates) == 3
    # Each update names the version of the view it replaces.
    assert [u.params["hash"] for u in updates[1:]] != [opened_hash, opened_hash]

    message = "Careers fair on Friday & bring <your CV>!"
    answer = await fake.submit_view("UT", view_id, {"text": message})
    assert json.loads(answer.body)["response_action"] == "push"
    preview_id = fake.view_named("oppbot_preview:announce")
    preview = fake.views[preview_id]
    assert (preview["submit"]["text"], preview["close"]["text"]) == ("Send", "Back")
    shown = "\n".join(b["text"]["text"] for b in preview["blocks"])
    assert shown.startswith("To 2 students (Year 11, Year 12), now.")
    assert "Careers fair on Friday &amp; bring &lt;your CV&gt;!" in shown
    assert row_counts(session_factory)["outbox"] == 0  # nothing sent by a preview

    sent = await fake.submit_view("UT", preview_id, {})
    assert json.loads(sent.body) == {"response_action": "clear"}
    await slack.idle()
    # The result where the teacher started: the staff channel.
    (result,) = fake.posted("C0STAFF")
    assert result.section_text == "Sending to 2 students. I'll tell you when it's delivered."
    queued = _outbox_texts(session_factory)
    assert [message in t for t in queued["telegram"]] == [True]
    assert [message in t for t in queued["console"]] == [True]


async def test_the_announcement_modal_schedules_urgently_with_problems_on_their_fields(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    onboard(Chat(core, "501", platform="telegram", name="Ada Lovelace"))
    oid = add_opportunity(session_factory, clock.now, title="Robot lab")
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    # Typed in a channel the bot is not in: the result comes in the DM instead.
    await fake.slash("UT", "", command="/announce", channel="C0PRIVATE")
    await slack.idle()
    view_id = fake.view_named("oppbot_modal:announce")
    assert await fake.suggest("UT", view_id, "opportunity", "robot") == [
        (f"#{oid}", f"#{oid} Robot lab — Acme Ltd")
    ]
    values: dict[str, str | list[str]] = {
        "text": "Robot lab open day",
        "audience": "opportunity",
        "opportunity": f"#{oid}",
        "date": "2027-01-10",
    }
    answer = await fake.submit_view("UT", view_id, values)
    assert json.loads(answer.body) == {
        "response_action": "errors",
        "errors": {
            "opportunity": "Nobody fits that yet. Choose someone else?",
            "time": "Choose a time too, or no date to send it now.",
        },
    }
    with transaction(session_factory) as session:
        ada = session.scalars(select(Person).where(Person.role == Role.STUDENT)).one()
        session.add(
            Interest(
                person_id=ada.id,
                opportunity_id=oid,
                status=InterestStatus.INTERESTED,
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
    past = await fake.submit_view("UT", view_id, {**values, "date": "2020-01-10", "time": "09:00"})
    assert json.loads(past.body)["errors"] == {
        "date": "That time has passed. Please type a time in the future."
    }
    later = {**values, "time": "09:30", "urgent": ["yes"]}
    assert (
        json.loads((await fake.submit_view("UT", view_id, later)).body)["response_action"] == "push"
    )
    preview = fake.views[fake.view_named("oppbot_preview:announce")]
    assert preview["blocks"][0]["text"]["text"].startswith(
        "To 1 student (students interested in Robot lab — Acme Ltd), "
    )
    assert "as urgent (even in their quiet hours)" in preview["blocks"][0]["text"]["text"]
    await fake.submit_view("UT", fake.view_named("oppbot_preview:announce"), {})
    await slack.idle()
    assert fake.posted(dm)[-1].section_text.startswith("Scheduled as urgent for ")
    with session_factory() as session:
        announcement = session.scalars(select(Announcement)).one()
        assert announcement.status == AnnouncementStatus.SCHEDULED
        assert announcement.audience == {"type": "opportunity", "id": oid, "urgent": True}
        assert announcement.scheduled_for is not None


async def test_students_get_no_modal_and_no_offer_in_the_announcements_channel(
    fake: FakeSlack, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    adapter = SlackAdapter(core, _settings(fake, slack_announce_channel="C0NEWS"))
    await adapter.start()
    fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
    try:
        dm = _slack_student(core, fake)
        await fake.slash("U1", "announce")
        await fake.event(fake.channel_post("U1", "C0NEWS", "Can I post here?"))
        await adapter.idle()
    finally:
        await adapter.stop()
    assert not fake.calls_to("views.open") and not fake.ephemeral
    (refusal,) = fake.posted(dm)
    assert "only for" in refusal.section_text


async def test_send_to_students_from_the_announcements_channel(
    fake: FakeSlack, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    onboard(Chat(core, "501", platform="telegram", name="Ada Lovelace"))
    adapter = SlackAdapter(core, _settings(fake, slack_announce_channel="C0NEWS"))
    await adapter.start()
    fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
    try:
        dm = await _slack_teacher(adapter, fake, session_factory, clock.now)
        post = fake.channel_post("UT", "C0NEWS", "Fair on Friday & <b>free pizza</b>")
        await fake.event(fake.channel_post("UT", "C0OTHER", "Not for students"))
        await fake.event(post, event_id="Ev0POST")
        # Slack retries an event it thinks went unanswered: the button is offered once.
        await fake.event(post, event_id="Ev0POST", retry_num=1)
        await adapter.idle()
        ((shown_to, offer),) = fake.ephemeral  # only under the post in the news channel
        assert (shown_to, offer.channel) == ("UT", "C0NEWS")
        await fake.click_ephemeral("UT", "Send to students")
        await adapter.idle()
        await fake.click("UT", "Everyone at Riverside High")
        await adapter.idle()
        await fake.click("UT", "Send now")
        await adapter.idle()
    finally:
        await adapter.stop()
    assert "Who should get it?" in "\n".join(_texts(fake.posted(dm)))
    ((_, answer),) = fake.responses
    assert answer["replace_original"] is True and "direct messages" in answer["text"]
    (queued,) = _outbox_texts(session_factory)["telegram"]
    # The post as the teacher wrote it, not Slack's encoding of it.
    assert queued.endswith("Fair on Friday & <b>free pizza</b>")


PUBLISHED = {
    "organisation": "Leeds Robotics Co",
    "title": "Robot lab summer internship",
    "kind": "coop",
    "description": "Build warehouse robots & <b>test</b> them.\n\nNote: bring lunch.",
    "location": "Leeds",
    "paid": "yes",
    "deadline": "2027-03-31",
    "spots": "3",
    "tags": ["engineering", "technology"],
}


async def test_a_teacher_publishes_an_opportunity_from_the_modal(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "", command="/publish", channel="C0STAFF")
    await slack.idle()
    (opened,) = fake.calls_to("views.open")
    assert opened.status == 200 and not fake.responses
    ((view_id, view),) = fake.views.items()
    assert view["callback_id"] == "oppbot_modal:publish"
    assert view["title"]["text"] == "New opportunity" and view["submit"]["text"] == "Publish"
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert list(elements) == [
        "organisation",
        "title",
        "kind",
        "description",
        "location",
        "remote",
        "paid",
        "start",
        "end",
        "deadline",
        "spots",
        "url",
        "tags",
    ]
    assert {name: e["type"] for name, e in elements.items() if name != "organisation"} == {
        "title": "plain_text_input",
        "kind": "static_select",
        "description": "plain_text_input",
        "location": "plain_text_input",
        "remote": "radio_buttons",
        "paid": "radio_buttons",
        "start": "datepicker",
        "end": "datepicker",
        "deadline": "datepicker",
        "spots": "number_input",
        "url": "url_text_input",
        "tags": "multi_static_select",
    }
    assert [o["text"]["text"] for o in elements["kind"]["options"]][2] == "Co-op placement"
    assert elements["description"]["multiline"] is True
    # The schema allows 10,000 characters; Slack's text inputs take at most 3,000.
    assert elements["description"]["max_length"] == 3000
    assert elements["remote"]["initial_option"]["text"]["text"] == "In person"
    assert (elements["spots"]["min_value"], elements["spots"]["max_value"]) == ("1", "10000")
    optional = {b["block_id"] for b in view["blocks"] if b["optional"]}
    assert optional == {"remote", "paid", "start", "end", "deadline", "spots", "url", "tags"}

    assert (await fake.submit_view("UT", view_id, PUBLISHED)).status == 200
    await slack.idle()
    with session_factory() as session:
        published = session.scalars(select(Opportunity)).one()
        assert published.organisation.name == "Leeds Robotics Co"
        assert published.kind == OpportunityKind.COOP
        assert published.description == PUBLISHED["description"]
        assert (published.remote, published.paid, published.spots) == (False, True, 3)
        assert published.deadline == date(2027, 3, 31)
        assert published.tag_names == ["engineering", "technology"]
    answer = fake.posted(dm)[-1].section_text
    assert f"Published (#{published.id})" in answer
    assert "&amp; &lt;b&gt;test&lt;/b&gt;" in answer


async def test_a_bad_date_in_the_publish_modal_is_shown_on_its_field_and_can_be_fixed(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "publish")  # "/oppbot publish" opens it too
    await slack.idle()
    ((view_id, _),) = fake.views.items()
    before = row_counts(session_factory)["opportunities"]
    values = {**PUBLISHED, "start": "2027-07-01", "end": "2027-06-01", "deadline": "2026-11-01"}
    posted = len(fake.posted(dm))
    answer = await fake.submit_view("UT", view_id, values)
    await slack.idle()
    # The modal stays open (Slack keeps what was typed) with each problem under its field.
    assert json.loads(answer.body) == {
        "response_action": "errors",
        "errors": {
            "deadline": "That deadline has passed. Please type a date from today on.",
            "end": "The end date is before the start date.",
        },
    }
    assert len(fake.posted(dm)) == posted
    assert row_counts(session_factory)["opportunities"] == before
    fixed = await fake.submit_view("UT", view_id, {**values, "deadline": "2027-03-31", "end": ""})
    await slack.idle()
    assert fixed.body == ""
    assert "Published (#" in fake.posted(dm)[-1].section_text
    assert row_counts(session_factory)["opportunities"] == before + 1


async def test_a_student_cannot_open_the_publish_modal(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    await fake.slash("U1", "", command="/publish")
    await slack.idle()
    assert not fake.calls_to("views.open")
    assert "only for admins or teachers" in fake.posted(dm)[-1].section_text


async def test_the_publish_modal_finds_organisations_and_a_new_one_is_an_explicit_choice(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    for name in ("Leeds Robotics Co", "Leeds General 100% Hospital", "York Bakery"):
        add_opportunity(session_factory, clock.now, organisation=name)
    with session_factory() as session:
        ids = dict(session.execute(select(Organisation.name, Organisation.id)).all())
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "", command="/publish")
    await slack.idle()
    ((view_id, view),) = fake.views.items()
    (organisation,) = [b for b in view["blocks"] if b["block_id"] == "organisation"]
    assert organisation["element"]["type"] == "external_select"
    assert organisation["element"]["action_id"] == "oppbot_options:organisations"

    # Opened without typing: the organisations there are, by name.
    assert [label for _, label in await fake.suggest("UT", view_id, "organisation", "")] == [
        "Leeds General 100% Hospital",
        "Leeds Robotics Co",
        "York Bakery",
    ]
    # What was typed matches anywhere in the name, case aside; a new one is offered by name.
    assert await fake.suggest("UT", view_id, "organisation", " leeds  ro") == [
        (f"#{ids['Leeds Robotics Co']}", "Leeds Robotics Co"),
        ("leeds ro", "New organisation: leeds ro"),
    ]
    # A "%" is a character, not a wildcard; a name that exists is not offered as new.
    assert await fake.suggest("UT", view_id, "organisation", "100%") == [
        (f"#{ids['Leeds General 100% Hospital']}", "Leeds General 100% Hospital"),
        ("100%", "New organisation: 100%"),
    ]
    assert await fake.suggest("UT", view_id, "organisation", "york bakery") == [
        (f"#{ids['York Bakery']}", "York Bakery")
    ]

    chosen = {**PUBLISHED, "organisation": f"#{ids['York Bakery']}"}
    assert (await fake.submit_view("UT", view_id, chosen)).body == ""
    await slack.idle()
    assert "Published (#" in fake.posted(dm)[-1].section_text
    with session_factory() as session:
        newest = session.scalars(select(Opportunity).order_by(Opportunity.id.desc())).first()
        assert newest is not None and newest.organisation.name == "York Bakery"
        assert session.scalar(select(func.count()).select_from(Organisation)) == 3

    # Chosen as new, a typo becomes a new organisation: on purpose, never unnoticed.
    await fake.slash("UT", "", command="/publish")
    await slack.idle()
    (second,) = [v for v in fake.views if v != view_id]
    ((value, label),) = await fake.suggest("UT", second, "organisation", "Leeds Robtics")
    assert label == "New organisation: Leeds Robtics"
    await fake.submit_view("UT", second, {**PUBLISHED, "organisation": value})
    await slack.idle()
    with session_factory() as session:
        names = session.scalars(select(Organisation.name).order_by(Organisation.name)).all()
    assert "Leeds Robtics" in names and len(names) == 4


async def test_only_staff_get_organisations_and_a_removed_one_is_refused_on_its_field(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, organisation="York Bakery")
    await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "", command="/publish")
    await slack.idle()
    ((view_id, _),) = fake.views.items()
    _slack_student(core, fake)
    assert await fake.suggest("U1", view_id, "organisation", "york") == []
    assert await fake.suggest("U0NOBODY", view_id, "organisation", "york") == []
    answer = await fake.submit_view("UT", view_id, {**PUBLISHED, "organisation": "#999"})
    assert json.loads(answer.body) == {
        "response_action": "errors",
        "errors": {
            "organisation": "That organisation is no longer listed. Please choose it again."
        },
    }


async def test_the_edit_modal_changes_a_listing_and_shows_problems_on_their_fields(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    add_school(session_factory, clock.now, school="Hillside", code="HILL-11")
    with session_factory() as session:
        schools = dict(session.execute(select(School.name, School.id)).all())
    ours = add_opportunity(
        session_factory, clock.now, title="Robot lab", owner_school_id=schools["Riverside High"]
    )
    theirs = add_opportunity(
        session_factory, clock.now, title="Robot museum", owner_school_id=schools["Hillside"]
    )
    with transaction(session_factory) as session:
        school = session.scalars(select(School).where(School.name == "Riverside High")).one()
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    dm = fake.add_user("UT", "Tess Teacher")
    await fake.slash("UT", f"join {code}")
    await slack.idle()
    await fake.slash("UT", "edit")
    await slack.idle()
    ((view_id, view),) = fake.views.items()
    assert view["callback_id"] == "oppbot_modal:edit"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    first, *others = blocks
    assert first == "opportunity" and set(others) == set(EDITABLE)
    assert [name for name, b in blocks.items() if not b["optional"]] == ["opportunity"]
    assert "initial_option" not in blocks["remote"]["element"]  # left alone unless chosen
    # Only the school's own listings are offered, found by title or number.
    assert await fake.suggest("UT", view_id, "opportunity", "robot") == [
        (f"#{ours}", f"#{ours} Robot lab — Acme Ltd")
    ]
    assert await fake.suggest("UT", view_id, "opportunity", f"#{ours}") == [
        (f"#{ours}", f"#{ours} Robot lab — Acme Ltd")
    ]

    bad = {"opportunity": f"#{theirs}", "deadline": "2026-01-01", "paid": "no"}
    answer = await fake.submit_view("UT", view_id, bad)
    errors = json.loads(answer.body)["errors"]
    assert errors["deadline"].startswith("That deadline has passed.")
    assert errors["opportunity"].startswith(f"Sorry, #{theirs} Robot museum isn't your school's")
    nothing = await fake.submit_view("UT", view_id, {"opportunity": f"#{ours}"})
    assert json.loads(nothing.body)["errors"] == {
        "opportunity": "Fill in at least one thing to change."
    }
    fixed = {"opportunity": f"#{ours}", "location": "Leeds", "remote": "yes", "kind": "mentoring"}
    assert (await fake.submit_view("UT", view_id, fixed)).body == ""
    await slack.idle()
    assert fake.posted(dm)[-1].section_text.startswith(f"Updated #{ours}:")
    with session_factory() as session:
        changed = session.get(Opportunity, ours)
        assert changed is not None
        assert (changed.location, changed.remote) == ("Leeds", True)
        assert changed.kind == OpportunityKind.MENTORING
        assert changed.paid is None and changed.title == "Robot lab"
        untouched = session.get(Opportunity, theirs)
        assert untouched is not None and untouched.deadline is None


LISTINGS_CSV = (
    b"external_id,title,organisation,deadline\n"
    b"r1,Robot lab,Leeds Robotics Co,2027-03-31\n"
    b"r2,Design studio,Pixel Ltd,31/03/2027\n"
    b"r3,Bakery shadowing,Bread & Co,\n"
)


async def test_a_teacher_imports_a_file_shared_in_the_dm_once(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    shared = fake.file_share("UT", "listings.csv", LISTINGS_CSV)
    assert (await fake.event(shared, event_id="Ev0FILE")).status == 200
    # Slack retries an event it thinks went unanswered: the rows are imported once.
    assert (await fake.event(shared, event_id="Ev0FILE", retry_num=1)).status == 200
    await slack.idle()
    answers = [t for t in _texts(fake.posted(dm)) if "listings.csv" in t]
    assert answers == [
        "Imported listings.csv: 2 opportunities: 2 created, 0 updated, 0 unchanged; "
        "1 row skipped\nrow 3: Please type the deadline as YYYY-MM-DD, like 2027-02-28."
    ]
    with session_factory() as session:
        titles = session.scalars(select(Opportunity.title).order_by(Opportunity.id)).all()
    assert titles == ["Robot lab", "Bakery shadowing"]
    assert {token for _, token in fake.downloads} == {BOT_TOKEN}


async def test_a_students_file_is_refused_and_nothing_is_imported(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    before = row_counts(session_factory)["opportunities"]
    await fake.event(fake.file_share("U1", "listings.csv", LISTINGS_CSV))
    await slack.idle()
    assert "only teachers can import listings" in fake.posted(dm)[-1].section_text
    assert row_counts(session_factory)["opportunities"] == before


async def test_files_too_big_or_not_on_slack_are_not_downloaded(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    big = fake.file_share("U1", "big.csv", b"x")
    big["files"][0]["size"] = MAX_FILE_BYTES + 1
    elsewhere = fake.file_share("U1", "listings.csv", LISTINGS_CSV)
    for key in ("url_private", "url_private_download"):
        elsewhere["files"][0][key] = "https://example.org/listings.csv"
    await fake.event(big)
    await fake.event(elsewhere)
    await slack.idle()
    assert _texts(fake.posted(dm)) == [
        "That file is too big for me (5.1 MB). Please send files of up to 5 MB.",
        "I couldn't fetch that file from Slack. Please try sending it again.",
    ]
    assert not fake.downloads


async def test_a_file_that_slack_will_not_serve_is_not_imported(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    shared = fake.file_share("UT", "listings.csv", LISTINGS_CSV)
    # Without the files:read scope Slack answers a download with its login page.
    fake.shared.clear()
    await fake.event(shared)
    await slack.idle()
    assert "couldn't fetch that file" in fake.posted(dm)[-1].section_text
    assert row_counts(session_factory)["opportunities"] == 0


def _slack_people(
    factory: sessionmaker[Session], fake: FakeSlack, clock: FakeClock, users: list[str]
) -> None:
    with transaction(factory) as session:
        for user in users:
            person = Person(name=user, role=Role.STUDENT, created_at=clock.now)
            session.add(
                Account(
                    person=person,
                    platform="slack",
                    external_id=user,
                    chat_id=fake.add_user(user, f"Student {user}"),
                    last_seen_at=clock.now,
                    created_at=clock.now,
                )
            )
            session.flush()
            enqueue(
                session,
                person,
                f"Careers fair on Friday, {user} & friends!",
                kind="announcement",
                key=f"fair:{user}",
                now=clock.now,
                buttons=[[["I'll come", "mine"]]],
            )


async def test_the_slack_sender_paces_honours_retry_after_and_marks_the_unreachable(
    fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    users = ["UA", "UB", "UC", "UD"]
    _slack_people(session_factory, fake, clock, users)
    started = clock.now
    fake.fail("chat.postMessage", "ratelimited", channel=fake.dm("UB"), retry_after=7)
    fake.forget_channel(fake.dm("UC"))  # they left the workspace
    fake.fail("chat.postMessage", "500", channel=fake.dm("UD"), times=2)
    timeline = Timeline(clock)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    settings = _settings(fake)
    sender = OutboxSender(
        session_factory,
        SlackTransport(client, Renderer(build_registry())),
        pacing=Pacing(settings.slack_rate, settings.slack_channel_rate),
        clock=clock,
        monotonic=timeline.monotonic,
        sleep=timeline.sleep,
    )
    await sender.drain()

    delivered = {m.channel: m for m in fake.posted()}
    assert sorted(delivered) == sorted(fake.dm(u) for u in ("UA", "UB", "UD"))
    assert "Careers fair on Friday, UA &amp; friends!" in delivered[fake.dm("UA")].section_text
    assert [e["value"] for e in delivered[fake.dm("UA")].buttons] == ["mine"]
    with session_factory() as session:
        rows = {
            account.external_id: message
            for message, account in session.execute(
                select(OutboxMessage, Account).join(Account, Account.id == OutboxMessage.account_id)
            ).all()
        }
        gone = session.scalars(select(Account).where(Account.external_id == "UC")).one()
        assert gone.unreachable_at is not None
    assert rows["UC"].status == OutboxStatus.UNREACHABLE
    assert {rows[u].status for u in ("UA", "UB", "UD")} == {OutboxStatus.SENT}
    # Asked to wait 7 seconds, the sender waited exactly that long (on the fake timeline)...
    assert rows["UB"].sent_at is not None and rows["UB"].sent_at - started >= timedelta(seconds=7)
    assert rows["UB"].attempts == 1  # ...and being asked to wait used up no attempt.
    assert rows["UD"].attempts == 3


async def test_transport_outcomes(fake: FakeSlack) -> None:
    dm = fake.add_user("U1", "Ada")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    transport = SlackTransport(client, Renderer(build_registry()))
    fake.fail("chat.postMessage", "ratelimited", retry_after=30)
    fake.fail("chat.postMessage", "is_archived")
    fake.fail("chat.postMessage", "invalid_blocks")
    fake.fail("chat.postMessage", "500")
    fake.fail("chat.postMessage", "token_revoked")
    results = [await transport.send(dm, "hi", None) for _ in range(6)]
    assert [(r.outcome, r.retry_after) for r in results] == [
        (Outcome.RETRY_AFTER, 30.0),
        (Outcome.UNREACHABLE, 0.0),
        (Outcome.PERMANENT, 0.0),
        (Outcome.TRANSIENT, 0.0),
        (Outcome.TRANSIENT, 0.0),  # our token is ours to fix: the message waits
        (Outcome.SENT, 0.0),
    ]
    await fake.stop()  # nobody answers: a network failure is transient
    assert (await transport.send(dm, "hi", None)).outcome is Outcome.TRANSIENT


async def test_transport_answers_in_a_thread_and_edits_in_place(fake: FakeSlack) -> None:
    dm = fake.add_user("U1", "Ada")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    transport = SlackTransport(client, Renderer(build_registry()))
    root = await transport.send(dm, "Ada is interested.\nStatus: New", [[["Invite", "emp:1:inv"]]])
    assert root.outcome is Outcome.SENT and root.ref is not None
    assert (root.ref.chat, root.ref.message) == (dm, fake.posted(dm)[0].ts)
    answer = await transport.send(dm, "Ada replies: yes", None, thread=root.ref)
    assert answer.outcome is Outcome.SENT
    (_, posted) = fake.calls_to("chat.postMessage")
    assert posted.params["thread_ts"] == root.ref.message
    edited = await transport.edit(root.ref, "Ada is interested.\nStatus: Invited", None)
    assert edited.outcome is Outcome.SENT
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (dm, root.ref.message)
    first = fake.posted(dm)[0]
    assert "Status: Invited" in first.section_text and first.buttons == []
    gone = MessageRef(dm, "1.000001")
    assert (await transport.edit(gone, "x", None)).outcome is Outcome.PERMANENT


def test_rendering_stays_within_block_kit_limits() -> None:
    renderer = Renderer(build_registry())
    text = "\n\n".join(f"Part {n}: <tag> & " + "word " * 200 for n in range(30))
    rows = ((Button("x" * 100, "mine"),), tuple(Button(str(n), f"opp:{n}") for n in range(30)))
    messages = renderer.render(text, rows)
    assert len(messages) > 1
    sections = [b for m in messages for b in m.blocks if b["type"] == "section"]
    assert all(len(s["text"]["text"]) <= MAX_SECTION_TEXT for s in sections)
    assert all(len(m.blocks) <= 50 and len(m.text) <= MAX_SECTION_TEXT for m in messages)
    joined = "".join(s["text"]["text"] for s in sections)
    assert joined.count("&lt;tag&gt; &amp;") == 30 and "<tag>" not in joined
    # The buttons come once, under the last part; 30 in a row become actions blocks of 25 + 5.
    actions = [b for b in messages[-1].blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [1, 25, 5]
    assert len(actions[0]["elements"][0]["text"]["text"]) == 75
    assert not any(b["type"] == "actions" for m in messages[:-1] for b in m.blocks)


def test_escaping_splitting_and_command_words() -> None:
    assert to_mrkdwn("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    # Escaping lengthens the text; the pieces are measured after it, and no entity is cut.
    pieces = split_escaped("&" * 2000, limit=3000)
    assert [len(p) for p in pieces] == [3000, 3000, 3000, 1000]
    assert all(p.endswith("&amp;") for p in pieces)
    assert from_mrkdwn("hi <@U1|ada> &lt;3 <https://x.org/a?b=1&amp;c=2|site> <!here>") == (
        "hi @ada <3 site @here"
    )
    assert from_mrkdwn("<mailto:a@b.org|a@b.org> <#C1|general> a &amp;lt; b") == (
        "a@b.org #general a &lt; b"
    )
    renderer = Renderer(build_registry())
    assert renderer.wording("Send /browse, /join CODE or /nosuch; see a/browse") == (
        "Send /oppbot browse, /oppbot join CODE or /nosuch; see a/browse"
    )
    assert command_text("/oppbot", "invite employer Acme &amp; Co") == "/invite employer Acme & Co"
    assert command_text("/oppbot", "") == "/help"
    assert command_text("/oppbot", "/browse") == "/browse"
    assert command_text("/announce", "") == "/announce"


def test_settings_need_a_mode_for_slack() -> None:
    with pytest.raises(ValueError, match="OPPBOT_SLACK_APP_TOKEN"):
        Settings(slack_bot_token=BOT_TOKEN)
    assert Settings(slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1").slack_mode == "socket"
    assert Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret="s").slack_mode == "http"


async def test_socket_mode_takes_the_same_requests_over_a_websocket(
    fake: FakeSlack, core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title=HOSTILE)
    dm = _slack_student(core, fake)
    settings = _settings(fake, slack_signing_secret=None, slack_app_token=APP_TOKEN)
    adapter = SlackAdapter(core, settings)
    await adapter.start()
    try:
        assert adapter.port is None  # no HTTP endpoint in Socket Mode
        event = json.loads(fake.event_body(fake.message_event("U1", "browse"), event_id="Ev1"))
        first = await fake.socket_request("events_api", event)
        again = await fake.socket_request("events_api", event, retry_attempt=1)
        assert first["envelope_id"] != again["envelope_id"]  # each envelope acknowledged
        await adapter.idle()
        (listing,) = fake.posted(dm)  # the retry changed nothing
        assert ESCAPED in listing.section_text
        await fake.socket_request("slash_commands", fake.command_form("U1", "mine"))
        message, button = fake.button(dm, "1")
        await fake.socket_request("interactive", fake.click_payload("U1", message, button))
        await adapter.idle()
    finally:
        await adapter.stop()
    assert len(fake.posted(dm)) == 2 and fake.posted(dm)[0].updates == 1
    assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN


def test_the_app_manifest_points_slack_at_the_adapter() -> None:
    manifest = (Path(__file__).parents[1] / "slack-app-manifest.yml").read_text()
    commands = re.findall(r"- command: (\S+)", manifest)
    assert commands[:2] == [SLASH_COMMAND, f"/{ANNOUNCE}"]
    # Any other slash command reaches the core as itself ("/report term" is /report term).
    registry = build_registry()
    assert all(registry.find(c.removeprefix("/")) is not None for c in commands[2:])
    expected = {"/publish", "/edit", "/report", "/objective", "/objectives", "/delivery"}
    assert expected <= set(commands)
    assert re.search(r"^\s+- files:read\b", manifest, re.MULTILINE)
    urls = re.findall(
        r"^\s+(?:url|request_url|message_menu_options_url): (\S+)", manifest, re.MULTILINE
    )
    assert len(urls) == len(commands) + 3
    assert all(u == f"https://YOUR-HOST{EVENTS_PATH}" for u in urls)
    events = re.search(r"bot_events:\n((?:\s+- .+\n)+)", manifest)
    assert events is not None
    # Every event Slack is told to send has a listener (an unhandled one is answered 404).
    assert {e.split(".")[0] for e in re.findall(r"- (\S+)", events.group(1))} == {
        "app_home_opened",
        "message",
    }


async def test_a_teachers_report_comes_with_its_chart(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    add_opportunity(session_factory, clock.now, title="Robot builder")
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "report 30d")
    await slack.idle()
    report = fake.posted(dm)[-1].section_text
    assert report.startswith("Partnership report for Riverside High")
    assert "1 other employer published 1 opportunity" in report
    (chart,) = fake.files[dm]
    assert chart.filename == "partnership-report.png"
    assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", chart.content[16:24])
    assert (width, height) == (900, 520)


async def test_a_shared_file_redirected_away_from_slack_is_not_imported(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    elsewhere: list[str | None] = []

    async def serve(request: web.Request) -> web.Response:
        elsewhere.append(request.headers.get("Authorization"))
        return web.Response(body=LISTINGS_CSV, content_type="text/csv")

    app = web.Application()
    app.router.add_get("/listings.csv", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        add_school(session_factory, clock.now)
        dm = await _slack_teacher(slack, fake, session_factory, clock.now)
        shared = fake.file_share("UT", "listings.csv", LISTINGS_CSV)
        port = runner.addresses[0][1]
        fake.redirects[shared["files"][0]["id"]] = f"http://127.0.0.1:{port}/listings.csv"
        await fake.event(shared)
        await slack.idle()
    finally:
        await runner.cleanup()
    assert "couldn't fetch that file" in fake.posted(dm)[-1].section_text
    assert elsewhere == [None]  # the token stayed with Slack
    assert row_counts(session_factory)["opportunities"] == 0


# -- what Slack (or anyone else) sends that the bot must refuse -------------------------------

GARBAGE: list[tuple[bytes, str]] = [
    (b'{"type": "event_callback", "event": {not json', "application/json"),
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00user_id=\xc3", "application/x-www-form-urlencoded"),
    (b"[1, 2, 3]", "application/json"),
    (b"", "application/json"),
]


async def test_unsigned_garbage_is_refused_unread_with_one_quiet_log_line(
    slack: SlackAdapter,
    fake: FakeSlack,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    before = row_counts(session_factory)
    answers = [
        await fake.deliver(body, kind, secret=secret)
        for body, kind in GARBAGE
        for secret in (None, "forged")
    ]
    await slack.idle()
    assert [a.status for a in answers] == [401] * len(GARBAGE) * 2
    assert row_counts(session_factory) == before
    assert not any(r.exc_info for r in caplog.records)  # no traceback
    # However many arrive, they make one short line (until a minute has passed).
    (line,) = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert line.levelno == logging.WARNING and "signature" in line.getMessage()
    assert "not json" not in caplog.text


def test_refused_signatures_are_counted_in_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seconds = iter([0.0, 1.0, 30.0, 59.0, 61.0, 62.0])
    refusals = Refusals(every=60, monotonic=lambda: next(seconds))
    caplog.set_level(logging.INFO, logger="bot.slack")
    for _ in range(6):
        refusals.note()
    assert [r.getMessage().split(" Slack")[0] for r in caplog.records] == [
        "refused 1",
        "refused 4",  # the three since the first line, and this one
    ]
    assert refusals.count == 1


def _click(fake: FakeSlack, user: str, channel: str) -> dict[str, Any]:
    message = Message(channel=channel, ts="1790000000.000001", text="Pick one")
    button = {"action_id": "oppbot.0.0", "text": {"type": "plain_text", "text": "1"}, "value": "1"}
    return fake.click_payload(user, message, button)


def _incomplete_requests(fake: FakeSlack, dm: str) -> list[tuple[str, dict[str, Any]]]:
    """Signed requests with a part missing or of the wrong kind, as (Socket Mode type, payload);
    each would have reached a listener that reads the part."""
    command = fake.command_form("U1", "browse")
    click = _click(fake, "U1", dm)
    view = {
        "type": "view_submission",
        "team": {"id": "T0TEST"},
        "user": {"id": "U1"},
        "view": {"id": "V1", "callback_id": "oppbot_modal:announce", "state": {"values": {}}},
    }
    home = {"type": "app_home_opened", "user": "U1", "channel": dm, "tab": "home"}
    event = json.loads(fake.event_body(fake.message_event("U1", "browse")))
    without = [
        ("slash_commands", {k: v for k, v in command.items() if k != "user_id"}),
        ("slash_commands", {k: v for k, v in command.items() if k != "trigger_id"}),
        ("slash_commands", {k: v for k, v in command.items() if k != "team_id"}),
        ("interactive", {k: v for k, v in click.items() if k != "user"}),
        ("interactive", {**click, "user": "U1"}),
        ("interactive", {**click, "actions": []}),
        ("interactive", {k: v for k, v in click.items() if k != "trigger_id"}),
        ("interactive", {**view, "view": {k: v for k, v in view["view"].items() if k != "state"}}),
        ("interactive", {**view, "view": {**view["view"], "state": {"values": ["x"]}}}),
        ("interactive", {k: v for k, v in view.items() if k != "user"}),
        ("events_api", {**event, "event": {k: v for k, v in home.items() if k != "user"}}),
        ("events_api", {k: v for k, v in event.items() if k != "event_id"}),
        ("events_api", {**event, "event": {**event["event"], "user": {"id": "U1"}}}),
        (
            "events_api",
            {**event, "event": {**event["event"], "files": "x", "subtype": "file_share"}},
        ),
        ("events_api", {**event, "type": "nonsense"}),
        # Parts that only Bolt reads are read safely too.
        ("events_api", {**event, "authorizations": [5]}),
        ("interactive", {**click, "enterprise": 5}),
    ]
    return without


async def test_malformed_or_incomplete_signed_requests_get_400_and_one_log_line(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    before = row_counts(session_factory)
    caplog.set_level(logging.DEBUG)
    answers = [await fake.deliver(body, kind) for body, kind in GARBAGE]
    for kind, payload in _incomplete_requests(fake, dm):
        if kind == "slash_commands":
            answers.append(
                await fake.deliver(urlencode(payload), "application/x-www-form-urlencoded")
            )
        elif kind == "interactive":
            answers.append(await fake.interaction(payload))
        else:
            answers.append(await fake.deliver(json.dumps(payload), "application/json"))
    await slack.idle()
    assert [a.status for a in answers] == [400] * len(answers)
    assert not any(r.exc_info for r in caplog.records)
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == len(answers)
    assert all(r.name.startswith("bot.slack.") and "\n" not in r.getMessage() for r in lines)
    assert row_counts(session_factory) == before
    assert not fake.posted() and not fake.calls_to("views.open")
    # And the bot still answers a good one.
    assert (await fake.dm_message("U1", "mine")).status == 200
    await slack.idle()
    assert fake.posted(dm)


async def test_socket_mode_acknowledges_incomplete_requests_with_one_log_line(
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_school(session_factory, clock.now)
    dm = _slack_student(core, fake)
    settings = _settings(fake, slack_signing_secret=None, slack_app_token=APP_TOKEN)
    adapter = SlackAdapter(core, settings)
    await adapter.start()
    before = row_counts(session_factory)
    try:
        caplog.set_level(logging.DEBUG)
        requests = _incomplete_requests(fake, dm)
        acks = [await fake.socket_request(kind, payload) for kind, payload in requests]
        await adapter.idle()
        assert all("envelope_id" in ack for ack in acks)  # Slack does not send them again
        assert not any(r.exc_info for r in caplog.records)
        lines = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert len(lines) == len(requests) and all(r.name.startswith("bot.slack.") for r in lines)
        assert row_counts(session_factory) == before and not fake.posted()
        await fake.socket_request("slash_commands", fake.command_form("U1", "mine"))
        await adapter.idle()
    finally:
        await adapter.stop()
    assert fake.posted(dm)


async def test_a_modal_opens_at_once_whatever_that_person_has_waiting(
    slack: SlackAdapter, fake: FakeSlack, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    answered = len(fake.posted(dm))
    # Slack is slow to take the answers: the teacher's requests queue up behind the first.
    released = fake.hold("chat.postMessage")
    try:
        for period in ("30d", "week", "year"):
            assert (await fake.slash("UT", f"report {period}")).status == 200
        await fake.called("chat.postMessage", answered + 1)
        assert (await fake.slash("UT", "", command="/announce")).status == 200
        assert (await fake.slash("UT", "publish")).status == 200
        # A trigger is valid for 3 seconds: both modals open while the first report waits.
        await fake.called("views.open", 2)
        assert len(fake.calls_to("chat.postMessage")) == answered + 1
    finally:
        released.set()
    await slack.idle()
    assert sorted(v["callback_id"] for v in fake.views.values()) == [
        "oppbot_modal:announce",
        "oppbot_modal:publish",
    ]
    # The chat answers keep their order.
    reports = [re.findall(r"in the (\d+) days before", t) for t in _texts(fake.posted(dm))]
    assert reports[answered:] == [["30"], ["7"], ["365"]]


async def test_the_home_tab_speaks_in_slack_terms_and_its_shortcuts_are_the_roles_commands(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    await _slack_teacher(slack, fake, session_factory, clock.now)
    add_opportunity(session_factory, clock.now)  # Acme Ltd's
    fake.add_user("UE", "Maya Boss")
    make_employer(session_factory, clock.now, Chat(core, "UE", platform="slack"), "Acme Ltd")
    _slack_student(core, fake, "U1")
    for user, role in (("UT", Role.TEACHER), ("UE", Role.EMPLOYER), ("U1", Role.STUDENT)):
        await fake.open_home(user)
        await slack.idle()
        home = _home_text(fake.home[user])
        assert "Everything else: /oppbot help" in home
        assert not re.search(r"(?<![\w/])/(?!oppbot )\w", home)  # no bare "/invite" left
        for value in _home_buttons(fake.home[user]).values():
            if ":" not in value:  # a shortcut: a command this person may run
                command = core.registry.find(value)
                assert command is not None and role in command.roles, value


def _home_buttons(view: dict[str, Any]) -> dict[str, str]:
    """The App Home's buttons: label -> value (the first of each label)."""
    found: dict[str, str] = {}
    for block in view["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            found.setdefault(element["text"]["text"], element["value"])
    return found


def _home_text(view: dict[str, Any]) -> str:
    texts = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header"):
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return "\n".join(texts)


async def test_a_teachers_home_is_a_dashboard_whose_buttons_do_the_work(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    proposal = add_opportunity(
        session_factory, clock.now, title="Robot lab <week>", status=OpportunityStatus.PENDING
    )
    opportunity = add_opportunity(session_factory, clock.now, title="Bakery helper")
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=True)
    ada.press_payload(f"intn:{opportunity}")
    await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.open_home("UT")
    await slack.idle()
    (call,) = fake.calls_to("views.publish")
    assert call.params["user_id"] == "UT"
    home = fake.home["UT"]
    text = _home_text(home)
    assert f"Proposal #{proposal}: Robot lab &lt;week&gt;" in text
    assert "an application waits for consent" in text
    assert "1 interested" in text and "0 placed" in text
    buttons = _home_buttons(home)
    with session_factory() as session:
        ada_id = session.scalars(
            select(Account.person_id).where(Account.external_id == "501")
        ).one()
    assert buttons["Approve"] == f"opa:{proposal}" and buttons["Reject"] == f"opr:{proposal}"
    assert buttons["Consent on file"] == f"cf:{ada_id}"
    assert [buttons[label] for label in ("New announcement", "Publish", "Pending", "Report")] == [
        "announce",
        "publish",
        "pending",
        "report",
    ]
    assert buttons["Invite"] == "invite"
    # Approving on the Home answers in the DM and shows the Home without the proposal.
    await fake.click_home("UT", "Approve")
    await slack.idle()
    with session_factory() as session:
        assert session.get_one(Opportunity, proposal).status == OpportunityStatus.OPEN
    assert "Approved: Robot lab" in fake.posted(fake.dm("UT"))[-1].section_text
    assert len(fake.calls_to("views.publish")) == 2
    assert "Nothing to review." in _home_text(fake.home["UT"])
    # A shortcut opens the command's modal, as the command does.
    await fake.click_home("UT", "New announcement")
    await slack.idle()
    (opened,) = fake.calls_to("views.open")
    assert opened.params["view"]["callback_id"] == "oppbot_modal:announce"
    # One without a modal runs the command and answers in the DM.
    await fake.click_home("UT", "Pending")
    await slack.idle()
    assert "No proposals are waiting" in fake.posted(fake.dm("UT"))[-1].section_text


async def test_an_employers_home_refreshes_when_an_application_arrives_at_most_so_often(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    first = add_opportunity(session_factory, clock.now, title="Software intern")
    second = add_opportunity(session_factory, clock.now, title="Data intern")
    dm = fake.add_user("UE", "Maya Boss")
    make_employer(session_factory, clock.now, Chat(core, "UE", platform="slack"), "Acme Ltd")
    with transaction(session_factory) as session:
        session.scalars(select(Account).where(Account.external_id == "UE")).one().chat_id = dm
    # Long enough for the steps below to fit in it on a loaded machine (at 2 s, a CI run
    # under load took longer, and the refresh came at once).
    slack.home_every = 5.0
    await fake.open_home("UE")
    await slack.idle()
    assert "No application is waiting" in _home_text(fake.home["UE"])
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"intn:{first}")
    ada.press_payload(f"intn:{second}")
    fast = Pacing(per_chat_per_second=100)
    sender = OutboxSender(session_factory, slack.transport(), clock=clock, pacing=fast)
    await sender.drain()
    assert len(fake.posted(dm)) == 2
    assert len(fake.calls_to("views.publish")) == 1
    # Two messages, one refresh, once the interval since the home was opened has passed.
    calls = await fake.called("views.publish", times=2)
    await slack.idle()
    assert len(calls) == 2
    home = fake.home["UE"]
    text = _home_text(home)
    assert "Software intern" in text and "Data intern" in text
    with session_factory() as session:
        interest = session.scalars(select(Interest).where(Interest.opportunity_id == first)).one()
    values = [e["value"] for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert f"em:{interest.id}:inv" in values and f"em:{interest.id}:dec" in values
    # Someone who never opened their Home is not published to.
    assert set(fake.home) == {"UE"}


async def test_a_students_home_shows_their_applications_and_reminders(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(
        session_factory, clock.now, title="Lab week", deadline=date(2026, 12, 20)
    )
    _slack_student(core, fake, "U1")
    Chat(core, "U1", platform="slack").press_payload(f"intn:{opportunity}")
    await fake.open_home("U1")
    await slack.idle()
    home = fake.home["U1"]
    text = _home_text(home)
    assert "Your applications" in text and "Lab week" in text
    assert "Your reminders" in text
    buttons = _home_buttons(home)
    assert buttons["Browse"] == "browse"
    assert any(value.startswith("rmx:") for value in buttons.values())


def test_the_home_view_stays_within_block_kit_limits_however_much_waits() -> None:
    registry = build_registry()
    renderer = Renderer(registry)
    many = tuple(
        Item(f"Proposal #{n}: " + "<long> " * 700, (Button("Approve", f"opa:{n}"),))
        for n in range(40)
    )
    dashboard = Dashboard(
        "Riverside High",
        (
            Panel("Waiting for your review", many, more="pending", total=300),
            Panel("Consent pending", many, more="consent"),
            Panel("This term", (Item("3 published"),)),
        ),
        (("New announcement", "announce"),),
    )
    view = home_view(dashboard, renderer)
    blocks = view["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
            assert "<" not in block["text"]["text"]
    text = _home_text(view)
    shown = text.count("Proposal #")
    assert "This term" in text and "3 published" in text  # the last panel is never crowded out
    assert (
        f"and {300 - text.split('Consent pending')[0].count('Proposal #')} more: /oppbot pending"
        in text
    )
    assert shown < 80 and "more: /oppbot consent" in text


def test_forms_stay_within_block_kit_limits() -> None:
    # An external select's answer: at most 100 options, labels cut to 75 characters, and a
    # value too long to send whole left out rather than cut into another value.
    many = [(f"#{n}", f"Organisation {n} " + "x" * 100) for n in range(150)]
    answer = option_list([("v" * 151, "Too long a value"), *many])
    assert len(answer) == 100 and answer[0]["value"] == "#0"
    assert all(len(o["text"]["text"]) == 75 for o in answer)
    # Up to 25 choices are a menu; beyond, the field's own choices are searched as typed.
    few = Field("pick", "Pick", "choice", options=tuple((str(n), f"N{n}") for n in range(25)))
    more = Field("pick", "Pick", "choice", options=tuple((str(n), f"N{n}") for n in range(26)))
    assert form_view("cmd", Form("T", "Go", (few,)))["blocks"][0]["element"]["type"] == (
        "static_select"
    )
    element = form_view("cmd", Form("T", "Go", (more,)))["blocks"][0]["element"]
    assert element["type"] == "external_select" and "options" not in element
    assert element["action_id"] == "oppbot_options:form:cmd.pick"
    assert own_choices(Form("T", "Go", (more,)), "pick", "n2") == [
        (str(n), f"N{n}") for n in (2, 20, 21, 22, 23, 24, 25)
    ]
    # A summary longer than a context's text is cut to 3,000 characters.
    live = Form("T", "Go", (replace(few, live=True),), summary="s")
    (_, note) = form_view("cmd", live, summary="y" * 5000)["blocks"]
    assert note["block_id"] == "summary" and len(note["elements"][0]["text"]) == 3000


async def test_one_thread_per_application_with_its_status_line_edited(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    maya_dm, raj_dm = fake.add_user("UE", "Maya Boss"), fake.add_user("UF", "Raj Colleague")
    for user, dm, name in (("UE", maya_dm, "Maya"), ("UF", raj_dm, "Raj")):
        chat = Chat(core, user, platform="slack", name=name)
        make_employer(session_factory, clock.now, chat, "Acme Ltd")
        with transaction(session_factory) as session:
            session.scalars(select(Account).where(Account.external_id == user)).one().chat_id = dm
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"intn:{opportunity}")
    sender = OutboxSender(session_factory, slack.transport(), clock=clock)
    await sender.drain()
    roots = {dm: fake.posted(dm)[0] for dm in (maya_dm, raj_dm)}
    assert all(r.section_text.endswith("Status: New") for r in roots.values())

    maya_root = roots[maya_dm].ts
    await fake.click("UE", "Ask a question")
    await slack.idle()
    # Maya answers in the thread the prompt was posted in.
    await fake.dm_message("UE", "Can you do Tuesdays?", thread_ts=maya_root)
    await slack.idle()
    await sender.drain()
    with session_factory() as session:
        iid = session.scalars(select(Interest.id)).one()
    (reply,) = last_message(session_factory, ada)[1]  # the question's Reply button
    ada.press_payload(reply.payload)
    ada.send("Yes, Tuesdays suit me.")
    await sender.drain()
    await fake.click("UE", "Invite")
    await slack.idle()
    await fake.dm_message("UE", "Come on Tuesday at 10:00.", thread_ts=maya_root)
    await slack.idle()
    await sender.drain()
    await fake.click("UE", "Mark as placed")
    await slack.idle()
    await sender.drain()

    # Raj's thread holds the whole conversation under the notification, and so does Maya's,
    # with the bot's answers to what she pressed and typed there.
    threaded = {
        dm: [
            c.params["text"]
            for c in fake.calls_to("chat.postMessage")
            if c.params["channel"] == dm and c.params.get("thread_ts") == roots[dm].ts
        ]
        for dm in roots
    }
    assert [t.split(":")[0] for t in threaded[raj_dm]] == [
        "Maya asked Ada about Software intern",
        "Ada replies about Software intern",
        "Maya invited Ada for Software intern",
        "Maya marked Ada as placed for Software intern. Set the dates and supervisor with "
        "/oppbot placements 1.",
    ]
    assert [t.split(".")[0].split(":")[0] for t in threaded[maya_dm]] == [
        "Type your question for Ada about Software intern",
        "Question sent to Ada",
        "Ada replies about Software intern",
        "Type your invitation for Ada (for example an interview time and place for Software "
        "intern)",
        "Invitation sent to Ada",
        "Marked Ada as placed for Software intern",
    ]
    # Each root's status line moved on in place: chat.update on its own channel and ts.
    for dm, root in roots.items():
        updates = [c for c in fake.calls_to("chat.update") if c.params["ts"] == root.ts]
        assert {c.params["channel"] for c in updates} == {dm}
        assert [c.params["text"].splitlines()[-1] for c in updates] == [
            "Status: Asked",
            "Status: Invited",
            "Status: Placed",
        ]
        assert root.section_text.endswith("Status: Placed")
        assert [b["text"]["text"] for b in root.buttons] == ["Message"]

    # The student's teacher reads the same conversation, with the same status.
    with transaction(session_factory) as session:
        school = session.scalars(select(School)).one()
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    tess = Chat(core, "tess", name="Tess Teacher")
    tess.send(f"/join {code}")
    tess.send(f"/thread {iid}")
    assert "Status: Placed" in tess.text
    for said in ("Can you do Tuesdays?", "Yes, Tuesdays suit me.", "Come on Tuesday at 10:00."):
        assert said in tess.text
        assert any(said in t for t in threaded[raj_dm])


async def test_a_withdrawal_lands_in_the_thread_and_clears_the_notification(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    opportunity = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 20))
    dm = fake.add_user("UE", "Maya Boss")
    maya = Chat(core, "UE", platform="slack", name="Maya")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    with transaction(session_factory) as session:
        session.scalars(select(Account).where(Account.external_id == "UE")).one().chat_id = dm
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada, under_18=False)
    ada.press_payload(f"intn:{opportunity}")
    sender = OutboxSender(session_factory, slack.transport(), clock=clock)
    await sender.drain()
    root = fake.posted(dm)[0]
    assert "Ada" in root.section_text and root.buttons

    ada.send("/mine")
    ada.press("Withdraw 1")
    ada.press("Yes, withdraw")
    await sender.drain()

    (notice,) = [c for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert notice.params["thread_ts"] == root.ts
    assert notice.params["text"] == "A student has withdrawn their interest in Software intern."
    (update,) = fake.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (dm, root.ts)
    # The student asked that the employer learn only that they withdrew: the root keeps no name.
    assert root.section_text.splitlines() == [
        "A student has withdrawn their interest in Software intern.",
        "Status: Withdrawn",
    ]
    assert root.buttons == []


async def test_sending_to_n_students_becomes_the_delivery_outcome_in_place(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    for user in ("UA", "UB", "UC"):
        onboard(Chat(core, user, platform="slack", name=f"Student {user}"), under_18=False)
        with transaction(session_factory) as session:
            account = session.scalars(select(Account).where(Account.external_id == user)).one()
            account.chat_id = fake.add_user(user, f"Student {user}")
    fake.forget_channel(fake.dm("UC"))  # left the workspace
    dm = await _slack_teacher(slack, fake, session_factory, clock.now)
    await fake.slash("UT", "announce Careers fair on Friday")
    await slack.idle()
    await fake.click("UT", "Everyone at")
    await slack.idle()
    await fake.click("UT", "Send now")
    await slack.idle()
    # The preview the teacher pressed became "Sending to ..." (chat.update on its ts).
    status = fake.posted(dm)[-1]
    assert status.section_text.startswith("Sending to 3 students.")

    def posts_to_teacher() -> int:
        return sum(c.params["channel"] == dm for c in fake.calls_to("chat.postMessage"))

    before = posts_to_teacher()

    sender = OutboxSender(session_factory, slack.transport(), clock=clock)
    await sender.drain()
    assert [bool(fake.posted(fake.dm(u))) for u in ("UA", "UB", "UC")] == [True, True, False]
    assert report_deliveries(session_factory, clock.now, Timing()) == 1
    await sender.drain()

    # No follow-up message: the same message now says how it went, one button from the report.
    assert posts_to_teacher() == before
    *_, outcome = fake.calls_to("chat.update")
    assert (outcome.params["channel"], outcome.params["ts"]) == (dm, status.ts)
    assert status.section_text == (
        "Announcement #1 delivered to 2 students, 1 unreachable: Careers fair on Friday"
    )
    assert [b["text"]["text"] for b in status.buttons] == ["Delivery report"]
    await fake.click("UT", "Delivery report")
    await slack.idle()
    assert "Delivered: 2\nPending: 0\nUnreachable: 1" in fake.posted(dm)[-1].section_text


async def test_a_modal_s_own_words_are_in_the_person_s_language(
    slack: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    add_school(session_factory, clock.now)
    onboard(Chat(core, "bob", platform="console", name="Bob Brown"))
    await _slack_teacher(slack, fake, session_factory, clock.now)
    with transaction(session_factory) as session:
        teacher = session.scalars(
            select(Person).join(Account).where(Account.external_id == "UT")
        ).one()
        teacher.language = "pl"
    await fake.slash("UT", "", command="/announce")
    await slack.idle()
    view_id = fake.view_named("oppbot_modal:announce")
    assert fake.views[view_id]["close"]["text"] == "Anuluj"
    values = {"text": "Targi pracy w piątek", "audience": "school"}
    answer = await fake.submit_view("UT", view_id, values)
    assert json.loads(answer.body)["response_action"] == "push"
    preview = fake.views[fake.view_named("oppbot_preview:announce")]
    assert (preview["submit"]["text"], preview["close"]["text"]) == ("Wyślij", "Wstecz")
