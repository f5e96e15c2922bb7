"""Slack's own surfaces in the person's language: a modal a button opens, the App Home, and the
modals its shortcuts open, through the real slack-bolt app and signed requests against the
fake Slack on 127.0.0.1.

The words of a modal are the adapter's to say (the core never sees the view), so they must be
worded in the language of whoever pressed: a Spanish teacher answering from an English
colleague's world gets a Spanish form. The pseudo-language shows any word left in English.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.core import Core, Field, Form
from bot.delivery import OutboxSender
from bot.i18n import PSEUDO, _, language
from bot.slack import EVENTS_PATH, SlackAdapter
from bot.slack.forms import own_choices
from handlers.common import school_named
from handlers.people.invites import create_invite
from storage.db import transaction
from storage.models import Account, Person, Role
from storage.tags import TAGS
from tests.conftest import FakeClock
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers import Chat, add_school, onboard
from tests.pseudo import untranslated

QUESTION = "Can I wear trainers to the interview?"


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
        adapter = SlackAdapter(core, settings, home_every=0)
        await adapter.start()
        fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"
        try:
            yield adapter, fake
        finally:
            await adapter.stop()


def _teacher(core: Core, fake: FakeSlack, factory: sessionmaker[Session], clock: FakeClock) -> str:
    """Ms Lee, a teacher of Riverside High on Slack who speaks English for now; her DM."""
    dm = fake.add_user("UL", "Ms Lee")
    chat = Chat(core, "UL", platform="slack", name="Ms Lee")
    with transaction(factory) as session:
        school = school_named(session, "Riverside High", clock.now)
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    chat.send(f"/join {code}")
    with transaction(factory) as session:
        account = session.scalars(select(Account).where(Account.external_id == "UL")).one()
        account.chat_id = dm
    return dm


def _speaks(factory: sessionmaker[Session], user: str, lang: str) -> None:
    """``user`` chose ``lang`` (as /language stores it)."""
    with factory.begin() as session:
        ids = select(Account.person_id).where(Account.external_id == user)
        session.execute(update(Person).where(Person.id.in_(ids)).values(language=lang))


async def _asked(
    adapter: SlackAdapter,
    fake: FakeSlack,
    core: Core,
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """A student asks; the question reaches Ms Lee's DM with its Answer button."""
    ada = Chat(core, "501", platform="telegram", name="Ada Lovelace")
    onboard(ada)
    ada.send(f"/ask {QUESTION}")
    await OutboxSender(factory, adapter.transport(), clock=clock).drain()


def _words(view: dict[str, Any]) -> list[str]:
    """Every text of a modal that is the adapter's or the form's own (not the summary)."""
    found = [view["title"]["text"], view["close"]["text"]]
    found += [view["submit"]["text"]] if "submit" in view else []
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        found.append(block["label"]["text"])
        found += [block["hint"]["text"]] if "hint" in block else []
        element = block["element"]
        found += [element["placeholder"]["text"]] if "placeholder" in element else []
        found += [option["text"]["text"] for option in element.get("options", [])]
    return found


async def test_a_modal_opened_from_a_button_is_in_the_language_of_who_pressed(
    slack: tuple[SlackAdapter, FakeSlack],
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    adapter, fake = slack
    add_school(session_factory, clock.now)
    dm = _teacher(core, fake, session_factory, clock)
    await _asked(adapter, fake, core, session_factory, clock)
    # The question was queued while she spoke English; she reads Spanish by the time she
    # presses its Answer button.
    (asked,) = fake.posted(dm)
    assert [b["text"]["text"] for b in asked.buttons] == ["Answer"]
    _speaks(session_factory, "UL", "es")
    await fake.click("UL", "Answer")
    await adapter.idle()
    (opened,) = fake.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "oppbot_modal:answer"
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Responder una pregunta",
        "Enviar respuesta",
        "Cancelar",
    )
    (answer,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert answer["label"]["text"] == "Tu respuesta"
    # The summary is the core's, in her language too.
    (summary,) = [b for b in view["blocks"] if b["block_id"] == "summary"]
    with language("es"):
        asked_by = _("{student} asked: {question}", student="Ada Lovelace (Year 11)", question="")
    assert summary["elements"][0]["text"].startswith(asked_by.rstrip())
    # An empty answer is refused on its field, in Spanish.
    (view_id,) = fake.views
    refused = await fake.submit_view("UL", view_id, {"answer": " "})
    with language("es"):
        assert json.loads(refused.body)["errors"] == {"answer": _("Please type it.")}


async def test_the_home_and_its_modals_leave_no_english_in_the_pseudo_language(
    slack: tuple[SlackAdapter, FakeSlack],
    core: Core,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    adapter, fake = slack
    add_school(session_factory, clock.now)
    _teacher(core, fake, session_factory, clock)
    await _asked(adapter, fake, core, session_factory, clock)
    _speaks(session_factory, "UL", PSEUDO)
    await fake.open_home("UL")
    await adapter.idle()
    home = fake.home["UL"]
    texts = []
    for block in home["blocks"]:
        if block["type"] in ("section", "header"):
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
        elif block["type"] == "actions":
            texts += [e["text"]["text"] for e in block["elements"]]
    # Names, the school, what the student wrote and Babel's English dates are values.
    allowed = ("Ada Lovelace", "Year 11", "Riverside High", QUESTION, "Nov", "oppbot help")
    assert [t for t in texts if untranslated(t, allowed)] == []
    # Every modal the Home opens (its Answer button, then each shortcut with a form) is
    # worded through the catalogues, whoever declared its form.
    for label in ("Answer", "New announcement", "Publish"):
        with language(PSEUDO):
            pressed = _(label)
        await fake.click_home("UL", pressed)
        await adapter.idle()
    opened = [call.params["view"] for call in fake.calls_to("views.open")]
    assert [v["callback_id"] for v in opened] == [
        "oppbot_modal:answer",
        "oppbot_modal:announce",
        "oppbot_modal:publish",
    ]
    for view in opened:
        assert [w for w in _words(view) if untranslated(w)] == [], view["callback_id"]


def test_a_long_choice_fields_own_options_are_searched_in_the_persons_language() -> None:
    pick = Field("pick", "Pick", "choice", options=tuple(TAGS.items()))
    with language("es"):
        found = own_choices(Form("T", "Go", (pick,)), "pick", "ingen")
    assert found == [("engineering", "Ingeniería")]
