"""Languages: catalogues, the person's language, right to left, the pseudo-language check."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog, Message
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Reply, Timing
from bot.i18n import (
    FSI,
    LANGUAGES,
    PDI,
    PSEUDO,
    _,
    _n,
    fmt_date,
    fmt_datetime,
    fmt_list,
    language,
    pseudo,
    supported,
)
from bot.i18n_tools import _check, extract, problems
from handlers import actions
from handlers.common import KIND_LABELS, STATUS_LABELS
from handlers.messaging.alerts import send_alerts
from handlers.messaging.announcements import report_deliveries
from handlers.messaging.digest import send_digests
from handlers.messaging.reminders import queue_due_reminders
from handlers.people.onboarding import COMMON_ZONES
from storage.models import (
    Account,
    Announcement,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
)
from tests.conftest import FakeClock
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    make_employer,
    onboard,
    person_id,
)
from tests.pseudo import leaks, untranslated

# What an onboarding journey types, and the values of the demo data it sees.
TYPED = ("Ada", "Lovelace", "RIVER-11", "Year 11", "Riverside High", "Europe/London", "London")
LANGUAGE_NAMES = tuple(LANGUAGES.values())
# The time zone buttons are named after their cities.
CITIES = tuple(zone.rpartition("/")[2].replace("_", " ") for zone in COMMON_ZONES)


@pytest.fixture
def school(session_factory: sessionmaker[Session], clock: FakeClock) -> int:
    return add_school(session_factory, clock.now)


def test_every_catalogue_has_every_marked_message_with_its_placeholders() -> None:
    assert problems() == []


def test_the_check_finds_a_missing_message_and_broken_translations() -> None:
    template = extract()
    template.add("A message nobody translated, {name}")
    missing = problems(template, langs=["es"])
    assert missing == ["es: 'A message nobody translated, {name}' is missing"]

    assert _check("es", Message("Hi {name}", "Hola {nombre}"), 2) == [
        "has unknown placeholders ['nombre'] in 'Hola {nombre}'",
        "lacks placeholders ['name'] in 'Hola {nombre}'",
    ]
    assert _check("es", Message("Hi", ""), 2) == ["has no translation"]
    assert _check("en", Message("Hi", ""), 2) == []
    plural = Message(("{n} day", "{n} days"), ("{n} día", "{n} días"))
    assert _check("es", plural, 2) == []
    assert _check("ar", plural, 6) == ["has 2 plural forms, the language has 6"]
    # A form may leave out the count ("one day"), nothing else.
    one = Message(("{n} day for {name}", "{n} days for {name}"), ("un día", "{n} días, {name}"))
    assert _check("es", one, 2) == ["lacks placeholders ['name'] in 'un día'"]
    fuzzy = Message("Hi", "Hola", flags=["fuzzy"])
    assert _check("es", fuzzy, 2) == ["is marked fuzzy: check the translation and remove the flag"]
    assert isinstance(template, Catalog)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es-MX", "es"),
        ("es", "es"),
        ("uk", "uk"),
        ("ar", "ar"),
        ("pl-PL", "pl"),
        ("pt-BR", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("en_XA", PSEUDO),
    ],
)
def test_platform_language_codes_map_to_ours(code: str | None, expected: str) -> None:
    assert supported(code) == expected


def test_plural_forms_follow_each_language() -> None:
    done = "Done ({n} chosen)"
    with language("pl"):
        assert [_n(done, done, n) for n in (1, 3, 5, 22, 25)] == [
            "Gotowe (wybrano 1)",
            "Gotowe (wybrano 3)",
            "Gotowe (wybrano 5)",
            "Gotowe (wybrano 22)",
            "Gotowe (wybrano 25)",
        ]
    with language("ar"):
        forms = [_n(done, done, n) for n in (0, 1, 2, 3, 11, 100)]
    assert forms[1:3] == ["تم (مجال واحد)", "تم (مجالان)"]
    assert forms[3] == f"تم ({FSI}3{PDI} مجالات)"
    assert forms[4] == f"تم ({FSI}11{PDI} مجالًا)"
    assert forms[5] == f"تم ({FSI}100{PDI} مجال)"
    with language("es"):
        assert _n(done, done, 1) == "Listo (1 elegida)"
        assert _n(done, done, 2) == "Listo (2 elegidas)"


def test_values_are_isolated_only_in_right_to_left_languages() -> None:
    with language("ar"):
        text = _("Welcome, {name}!", name="Ada Lovelace")
    assert text == f"أهلًا بك يا {FSI}Ada Lovelace{PDI}!"
    with language("es"):
        assert _("Welcome, {name}!", name="Ada") == "¡Bienvenido/a, Ada!"
    assert _("Welcome, {name}!", name="Ada") == "Welcome, Ada!"


def test_dates_times_numbers_and_lists_in_the_language() -> None:
    day = date(2026, 12, 3)
    moment = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    assert fmt_date(day) == "3 Dec 2026"
    assert fmt_datetime(moment, ZoneInfo("Europe/London")) == "3 Dec 2026 17:00"
    with language("es"):
        assert fmt_date(day) == "3 dic 2026"
        assert fmt_datetime(moment, ZoneInfo("Europe/Madrid")) == "3 dic 2026 18:00"
        assert fmt_list(["a", "b", "c"]) == "a, b y c"
    with language("pl"):
        assert fmt_list(["a", "b"], style="or") == "a lub b"


def test_the_pseudo_language_marks_known_messages_and_leaves_the_rest_alone() -> None:
    assert pseudo("Send /help to {name}") == "⟦Šéñđ /help ţö {name}⟧"
    with language(PSEUDO):
        assert _("Welcome, {name}!", name="Ada") == "⟦Ŵéļçöɱé, Ada!⟧"
        unknown = _("Nobody marked this")
    assert unknown == "Nobody marked this"
    assert untranslated(unknown) == ["Nobody", "marked", "this"]
    assert untranslated("⟦Ŵéļçöɱé, Ada!⟧ ⟦ṼéŕŷÎ⟧") == []
    assert untranslated("Send /browse to RIVER-11 at https://x.example/a") == ["Send", "to", "at"]


def test_onboarding_in_the_pseudo_language_lets_no_english_through(core: Core, school: int) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language=PSEUDO)
    seen: list[Reply] = []
    for step in (
        lambda: ada.send("/start"),
        lambda: ada.send("Ada"),
        lambda: ada.send("Lovelace"),
        lambda: ada.send("NOPE-00"),
        lambda: ada.send("RIVER-11"),
        lambda: ada.send("99"),
        lambda: ada.send("11"),
        lambda: ada.press_payload("onb:age:u18"),
        lambda: ada.press_payload("onb:tag:technology"),
        lambda: ada.press_payload("onb:tags_done"),
        lambda: ada.send("Nowhere"),
        lambda: ada.press_payload("onb:stale"),
        lambda: ada.send("London"),
        lambda: ada.send("/start"),
        lambda: ada.send("/cancel"),
        lambda: ada.send("/nonsense"),
        lambda: ada.send("/language"),
    ):
        seen += step()
    assert "Welcome" not in "\n".join(r.text for r in seen)
    assert leaks(seen, allowed=(*TYPED, *LANGUAGE_NAMES, *CITIES)) == []


def test_help_in_the_pseudo_language_for_the_converted_commands(core: Core) -> None:
    guest = Chat(core, "guest", language=PSEUDO)
    guest.send("/help")
    converted = ("/help", "/cancel", "/language", "/start", "/consent")
    lines = [li for li in guest.text.splitlines() if li.lstrip("⟦").startswith(converted)]
    assert len(lines) == len(converted)
    assert leaks([Reply("\n".join(lines))]) == []


def _onboard(chat: Chat) -> None:
    """Onboarding by buttons' payloads (their labels are in the chat's language)."""
    for text in ("/start", chat.name.split()[0], chat.name.split()[1], "RIVER-11", "11"):
        chat.send(text)
    for payload in (
        "onb:age:u18",
        "onb:tag:technology",
        "onb:tags_done",
        "onb:tz:Europe/London",
        "onb:noplace",
    ):
        chat.press_payload(payload)


def test_onboarding_speaks_the_platforms_language(core: Core, school: int) -> None:
    ana = Chat(core, "ana", name="Ana García", language="es-MX")
    ana.send("/start")
    assert "¿Cómo te llamas?" in ana.text
    assert [b.label for b in ana.buttons] == ["Soy Ana"]
    _onboard(ana)
    assert ana.text.startswith("¡Bienvenido/a, Ana! Estás en Year 11 (Riverside High), curso 11.")
    assert "Áreas: Tecnología e informática." in ana.text


def test_arabic_onboarding_isolates_names_and_numbers(core: Core, school: int) -> None:
    sami = Chat(core, "sami", name="Sami Haddad", language="ar")
    _onboard(sami)
    text = sami.text
    assert text.startswith(f"أهلًا بك يا {FSI}Sami{PDI}! أنت في {FSI}Year 11{PDI}")
    assert f"الصف {FSI}11{PDI}" in text
    assert f"{FSI}Europe/London{PDI}" in text


def test_language_changes_with_buttons_in_each_languages_own_name(
    core: Core, session_factory: sessionmaker[Session]
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language="en-GB")
    ada.send("/language")
    assert ada.text == "I'm speaking English with you. Which language would you like?"
    assert [b.label for b in ada.buttons] == list(LANGUAGE_NAMES)
    ada.press("Українська")
    assert ada.text == "Готово! Відтепер я розмовлятиму з вами мовою: Українська."
    ada.send("/cancel")
    assert ada.text == "Немає чого скасовувати. Надішліть /help, щоб побачити, що я вмію."
    ada.send("/language polish")
    assert ada.text == "Gotowe! Od teraz będę z Tobą rozmawiać w języku: Polski."
    ada.send("/language klingon")
    assert ada.text == "Jeszcze nie mówię w tym języku. Wybierz jeden z tych:"
    with session_factory() as session:
        person = session.get(Person, person_id(session_factory, ada))
        assert person is not None and person.language == "pl"
    # The platform's language later on doesn't undo the choice.
    ada.language = "es"
    ada.send("/mydata")
    assert "Język: Polski (zmienisz go przez /language)" in ada.text


# What handlers/common shows around the listings' own messages (the card, kind and status
# labels): checked where handlers/common is, so these journeys judge only their own words.
COMMON_WORDS = (
    *KIND_LABELS.values(),
    *(text for pair in STATUS_LABELS.values() for text in pair),
)
DEMO = ("Robot builder", "Robot", "Acme Ltd", "Other Org", "London", "Bob", "Smith", "Raj")


def _own(replies: list[Reply]) -> list[Reply]:
    """The replies, with an opportunity's card (handlers/common's) cut down to its note."""
    back = actions.BACK_TO_LIST.payload()
    own = []
    for reply in replies:
        if any(b.payload == back for row in reply.buttons for b in row):
            note, _sep, _card = reply.text.partition("\n\n")
            own.append(Reply(note if _card else ""))
        else:
            own.append(reply)
    return own


def _queued(session_factory: sessionmaker[Session], chat: Chat, kind: str) -> list[Reply]:
    return [Reply(text, ((*buttons,),)) for text, buttons in inbox(session_factory, chat, kind)]


def _speaks(session_factory: sessionmaker[Session], chat: Chat, lang: str) -> None:
    """``chat``'s person now speaks ``lang`` (as /language would set it)."""
    with session_factory.begin() as session:
        person = session.get(Person, person_id(session_factory, chat))
        assert person is not None
        person.language = lang


def test_browse_search_and_interest_in_the_pseudo_language_let_no_english_through(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    today = clock.now.date()
    ids = []
    for title, days in (("Robot builder", 3), ("Robot tester", 1), ("Robot painter", 0)):
        listing = add_opportunity(
            session_factory,
            clock.now,
            title=title,
            deadline=today + timedelta(days=days),
            tags=("technology",),
            location="London",
            paid=True,
        )
        ids.append(listing)
    first = ids[0]
    add_opportunity(session_factory, clock.now, title="Robot builder", location="Leeds")
    add_opportunity(session_factory, clock.now, title="Robot builder", location="York")
    add_opportunity(session_factory, clock.now, title="Robot builder", location="Bath")
    ada = Chat(core, "ada", name="Ada Lovelace")
    onboard(ada, place="London")
    _speaks(session_factory, ada, PSEUDO)
    seen: list[Reply] = []
    for step in (
        lambda: ada.send("/browse"),
        lambda: ada.send("hello"),
        lambda: ada.send("thanks"),
        lambda: ada.send("/browse soonest"),
        lambda: ada.press_payload(actions.ORDER.payload("newest")),
        lambda: ada.send("/filter"),
        lambda: ada.press_payload(actions.FILTER.payload("tag")),
        lambda: ada.press_payload(actions.FILTER_TAG.payload("health")),
        lambda: ada.press_payload(actions.FILTER_REMOTE.payload(1)),
        lambda: ada.press_payload(actions.FILTER_PAID.payload(1)),
        lambda: ada.press_payload(actions.FILTER.payload("where")),
        lambda: ada.send("Leeds"),
        lambda: ada.send("/filter"),
        lambda: ada.press_payload(actions.FILTER.payload("nonsense")),
        lambda: ada.send("/clear"),
        lambda: ada.send("/search"),
        lambda: ada.send("robot"),
        lambda: ada.send("/search " + "x" * 101),
        lambda: ada.send("/search zebra"),
        lambda: ada.send("/clear"),
        lambda: ada.send("1"),
        lambda: ada.press_payload(actions.SAVE.payload(first)),
        lambda: ada.press_payload(actions.SAVE.payload(first)),
        lambda: ada.send("/saved"),
        lambda: ada.press_payload(actions.OPEN_LISTING.payload(first)),
        lambda: ada.press_payload(actions.INTEREST.payload(first)),
        lambda: ada.send("x" * 501),
        lambda: ada.send("I love robots"),
        lambda: ada.press_payload(actions.INTEREST.payload(first)),
        lambda: ada.send("/mine"),
        lambda: ada.press_payload(actions.UNSAVE.payload(first)),
        lambda: ada.send("/saved"),
    ):
        seen += _own(step())
    text = "\n".join(r.text for r in seen)
    for english in ("open opportunities", "closes in", "apply by", "Filters now", "also in"):
        assert english not in text
    assert leaks(seen, allowed=(*DEMO, *COMMON_WORDS, "I love robots", "Leeds", "zebra")) == []


def test_the_employers_answers_reach_each_person_in_their_own_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    opportunity = add_opportunity(
        session_factory, clock.now, title="Robot builder", deadline=clock.now.date() + timedelta(9)
    )
    maya = Chat(core, "maya", name="Maya Jones", language=PSEUDO)
    raj = Chat(core, "raj", name="Raj")
    for employer in (maya, raj):
        make_employer(session_factory, clock.now, employer, "Acme Ltd")
    bob = Chat(core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    _speaks(session_factory, bob, PSEUDO)
    bob.press_payload(actions.INTEREST.payload(opportunity))
    bob.send("I love robots")

    (match, buttons), *_rest = inbox(session_factory, raj, "match")
    assert match.startswith("Bob (Year 11, Riverside High) is interested in Robot builder.")
    assert [b.label for b in buttons] == ["Invite", "Ask a question", "Decline"]
    typed = ("I love robots", "Can you start at 9?", "Yes I can", "Come on Friday", "Sorry")
    allowed = (*DEMO, *TYPED, *typed, "Year 11", "Riverside High")
    seen = _queued(session_factory, maya, "match")
    interest = next(b.payload for r in seen for row in r.buttons for b in row).split(":")[1]

    def answer(verb: str, text: str | None = None) -> None:
        nonlocal seen
        seen += maya.press_payload(actions.EMPLOYER_ANSWER.payload(interest, verb))
        if text is not None:
            seen += maya.send(text)

    answer("ask", typed[1])
    bob.press_payload(actions.STUDENT_REPLY.payload(interest))
    student = list(bob.replies)
    student += bob.send(typed[2])
    answer("inv", typed[3])
    seen += maya.send("/matches")
    answer("dec", typed[4])
    seen += _queued(session_factory, maya, "relay")
    student += _queued(session_factory, bob, "relay")
    assert len(student) == 5 and len(seen) > 8
    assert leaks(seen, allowed=allowed) == []
    assert leaks(_own(student), allowed=allowed) == []
    # Raj, who speaks English, reads his colleague's answers in English.
    copies = [text for text, _buttons in inbox(session_factory, raj, "relay")]
    assert copies[0] == "Maya asked Bob about Robot builder: Can you start at 9?"
    assert copies[1] == "Bob replies about Robot builder: Yes I can"


def test_the_for_you_reasons_are_in_the_students_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    add_opportunity(
        session_factory,
        clock.now,
        title="Robot builder",
        deadline=clock.now.date() + timedelta(days=3),
        tags=("technology",),
        location="London",
        paid=True,
    )
    ana = Chat(core, "ana", name="Ana García")
    onboard(ana, place="London")
    for lang, line in (
        ("es", "Tecnología · cerca de London · cierra en 3 días · remunerada · nueva"),
        ("pl", "Technologia · blisko: London · kończy się za 3 dni · płatne · nowa"),
        ("uk", "Технології · поблизу London · закривається через 3 дні · оплачувана · нова"),
    ):
        _speaks(session_factory, ana, lang)
        ana.send("/browse")
        assert f"   {line}" in ana.text.splitlines()
    _speaks(session_factory, ana, "ar")
    ana.send("/browse")
    assert f"قرب {FSI}London{PDI} · تُغلق بعد {FSI}3{PDI} أيام" in ana.text


def test_proposals_and_reports_reach_each_teacher_in_their_own_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    maya = Chat(core, "maya", name="Maya Jones", language=PSEUDO)
    listing = add_opportunity(session_factory, clock.now, title="Robot builder")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    tina, tom = Chat(core, "tina", name="Tina Teacher"), Chat(core, "tom", name="Tom")
    for teacher in (tina, tom):
        join_with_invite(session_factory, clock.now, teacher, Role.TEACHER)
    _speaks(session_factory, tina, "es")
    typed = ("Robot lab internship", "Build and test robots with our team.", "Leeds")
    seen: list[Reply] = []
    for step in (
        lambda: maya.send("/propose"),
        lambda: maya.send(typed[0]),
        lambda: maya.press_payload(actions.FORM.payload("title", "x")),
        lambda: maya.press_payload(actions.FORM.payload("kind", "internship")),
        lambda: maya.send(typed[1]),
        lambda: maya.send(typed[2]),
        lambda: maya.send("31/03/2027"),
        lambda: maya.press_payload(actions.FORM.payload("deadline", "none")),
        lambda: maya.press_payload(actions.FORM.payload("paid", "yes")),
        lambda: maya.press_payload(actions.FORM.payload("remote", "no")),
    ):
        seen += step()
    # The preview's card is handlers/common's: its first line, the question, is ours.
    preview = seen.pop()
    seen.append(Reply(preview.text.partition("\n\n")[0], preview.buttons))
    seen += maya.press_payload(actions.FORM.payload("done"))
    (proposal, buttons), *_more = inbox(session_factory, tina, "proposal")
    assert proposal.startswith("Acme Ltd propone una nueva oportunidad (#")
    assert [b.label for b in buttons] == ["Aprobar", "Rechazar"]
    (english, _buttons), *_more = inbox(session_factory, tom, "proposal")
    assert english.startswith("Acme Ltd proposes a new opportunity (#")
    tina.press_payload(buttons[0].payload)
    assert tina.text.startswith("Aprobada: Robot lab internship")
    seen += _queued(session_factory, maya, "proposal")
    assert len(seen) == 12
    allowed = (*DEMO, *typed, *COMMON_WORDS, "31/03/2027", "YYYY-MM-DD", "Robot lab internship")
    assert leaks(seen, allowed=allowed) == []

    # Two students report the listing: each teacher hears of it in their own language.
    for name in ("ada", "bob"):
        student = Chat(core, name, name=f"{name.title()} Smith")
        onboard(student, under_18=False)
        student.press_payload(actions.REPORT_PROBLEM.payload(listing, "link"))
    (reported, _buttons), *_more = inbox(session_factory, tina, "listing_reported")
    assert reported.startswith(
        f"Algunos estudiantes avisan de un problema con #{listing} Robot builder"
    )
    assert "(enlace roto: 2)" in reported
    (english, _buttons), *_more = inbox(session_factory, tom, "listing_reported")
    assert "(link broken: 2)" in english


def test_help_in_the_pseudo_language_for_listings_and_applications(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, school: int
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace")
    onboard(ada)
    _speaks(session_factory, ada, PSEUDO)
    maya = Chat(core, "maya", name="Maya Jones", language=PSEUDO)
    add_opportunity(session_factory, clock.now)
    make_employer(session_factory, clock.now, maya, "Acme Ltd")
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    _speaks(session_factory, tina, PSEUDO)
    for chat, commands in (
        (ada, ("/browse", "/search", "/clear", "/filter", "/saved", "/mine")),
        (maya, ("/propose", "/matches")),
        (tina, ("/publish", "/pending", "/listings", "/close", "/edit", "/place", "/sources")),
    ):
        chat.send("/help")
        lines = [li for li in chat.text.splitlines() if li.lstrip("⟦").split(" ")[0] in commands]
        assert len(lines) == len(commands), chat.text
        assert leaks([Reply("\n".join(lines))]) == []


# Days and months as the pseudo-language formats them (British English): values, not words.
DATE_WORDS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Nov", "Dec", "Jan")


def _reminder_texts(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage.text)
                .where(OutboxMessage.kind == "reminder")
                .order_by(OutboxMessage.id)
            )
        )


def test_reminders_in_the_pseudo_language_let_no_english_through(
    core: Core, school: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language=PSEUDO)
    _onboard(ada)
    oid = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 10))
    ada.press_payload(actions.SAVE.payload(oid))  # (saving is another area's reply)
    seen: list[Reply] = []
    for step in (
        lambda: ada.send("/remind"),
        lambda: ada.send("/remind tomorrow 5pm to call Acme"),
        lambda: ada.send("/remind tomorrow 5pm to call Acme"),
        lambda: ada.send("/remind tomorrow 3am to call Acme"),
        lambda: ada.send("/remind tomorrow at 5 to call"),
        lambda: ada.send("/remind 31 feb to call"),
        lambda: ada.send("/remind soon to call"),
        lambda: ada.send("/remind tomorrow 5pm"),
        lambda: ada.send("/remind 2025-01-01 10:00 to call"),
        lambda: ada.send("/remind 2028-01-01 10:00 to call"),
        lambda: ada.press_payload(actions.REMIND.payload(oid)),
        lambda: ada.send("friday 8:30"),
        lambda: ada.send("/reminders"),
    ):
        seen += step()
    seen += ada.press_payload(ada.buttons[0].payload)  # Cancel 1
    seen += ada.press_payload(actions.REMINDER_CANCEL.payload(999))
    # Saving the opportunity set deadline reminders; each goes out worded for Ada.
    for moment in ((11, 24, 17, 0), (11, 27, 8, 30), (12, 3, 9, 0)):
        clock.now = datetime(2026, *moment, tzinfo=UTC)
        queue_due_reminders(session_factory, clock.now, Timing())
    sent = _reminder_texts(session_factory)
    assert len(sent) == 3  # call Acme; the opportunity on Friday; its deadline a week ahead
    allowed = ("Software intern", "Acme Ltd", "call Acme", *DATE_WORDS)
    assert leaks([*seen, *(Reply(text) for text in sent)], allowed=allowed) == []


def test_reminders_in_spanish_from_asking_to_the_message_when_due(
    core: Core, school: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ana = Chat(core, "ana", name="Ana García", language="es")
    _onboard(ana)
    ana.send("/remind mañana a las 17:00 para llamar a Acme")
    assert ana.text == "Te lo recordaré el mar, 24 nov a las 17:00."
    ana.send("/remind mañana a las 5 para llamar")
    assert ana.text.startswith("¿Te refieres a las 5 de la mañana o de la tarde?")
    ana.send("/remind el 31 de febrero para llamar")
    assert ana.text.startswith("«el 31 de febrero» no es una fecha válida.")
    ana.send("/reminders")
    assert ana.text == "Tus recordatorios:\n1. mar, 24 nov a las 17:00: llamar a Acme"
    # Queued by the scheduler, outside any conversation: still in Ana's language.
    clock.now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    queue_due_reminders(session_factory, clock.now, Timing())
    assert _reminder_texts(session_factory) == ["Recordatorio: llamar a Acme"]


def _outbox(factory: sessionmaker[Session], kind: str) -> dict[str, str]:
    """The texts of the outbox's ``kind`` rows, by the platform user they go to."""
    with factory() as session:
        rows = session.execute(
            select(Account.external_id, OutboxMessage.text)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(OutboxMessage.kind == kind)
        )
        return {user: text for user, text in rows}


def test_an_announcement_reaches_each_student_in_their_language(
    core: Core, school: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language=PSEUDO)
    _onboard(ada)
    ana = Chat(core, "ana", name="Ana García", language="es")
    _onboard(ana)
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    _speaks(session_factory, tina, PSEUDO)
    message = "Careers fair on Friday in the hall!"
    seen = tina.send("/announce") + tina.send(message)
    with session_factory() as session:
        aid = session.scalars(select(Announcement.id)).one()
    seen += tina.press_payload(actions.ANNOUNCE_AUDIENCE.payload(aid, "school"))
    seen += tina.press_payload(actions.ANNOUNCE_SEND.payload(aid))
    seen += tina.send("/delivery")

    received = _outbox(session_factory, "announcement")
    assert received["ana"] == f"Anuncio de Riverside High:\n\n{message}"
    with session_factory.begin() as session:
        session.execute(update(OutboxMessage).values(status=OutboxStatus.SENT))
    report_deliveries(session_factory, clock.now, Timing())
    (told,) = _outbox(session_factory, "announcement_delivered").values()
    allowed = ("Riverside High", message, *DATE_WORDS)
    assert leaks([*seen, Reply(received["ada"]), Reply(told)], allowed=allowed) == []


def test_alerts_and_the_digest_in_the_pseudo_language_and_in_spanish(
    core: Core, school: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language=PSEUDO)
    _onboard(ada)
    ana = Chat(core, "ana", name="Ana García", language="es")
    _onboard(ana)
    seen: list[Reply] = []
    for step in (
        lambda: ada.send("/digest"),
        lambda: ada.send("/digest someday"),
        lambda: ada.send("/digest friday"),
        lambda: ada.press_payload(actions.DIGEST_DAY.payload("off")),
        lambda: ada.press_payload(actions.DIGEST_DAY.payload(4)),
        lambda: ada.send("/alerts"),
        lambda: ada.send("/alert"),
        lambda: ada.send("/alert"),
        lambda: ada.send("/alert software near London"),
        lambda: ada.press_payload(actions.ALERT.payload("every", 7)),
        lambda: ada.press_payload(actions.PAUSE_NEWS.payload("7")),
        lambda: ada.send("/alerts"),
        lambda: ada.press_payload(actions.PAUSE_NEWS.payload("off")),
        lambda: ada.press_payload(actions.ALERT.payload("every", 1)),
    ):
        seen += step()
    ana.send("/digest viernes")
    assert ana.text.startswith("Hecho: cada viernes a las 16:00 te enviaré las novedades")
    ana.send("/alert")
    clock.advance(minutes=5)
    add_opportunity(session_factory, clock.now, tags=("technology",))
    # Queued by the scheduler, each in its student's language.
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    send_alerts(session_factory, clock.now, Timing())
    clock.now = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    send_digests(session_factory, clock.now, Timing())
    alerts, digests = _outbox(session_factory, "alert"), _outbox(session_factory, "digest")
    assert alerts["ana"].startswith("Novedades para ti: 1 oportunidad que encaja con tus alertas.")
    assert digests["ana"].startswith("Tu resumen semanal: 1 oportunidad nueva en tus áreas")
    assert alerts["ada"].startswith("⟦Ñéŵ ƒöŕ ýöû") and digests["ada"].startswith("⟦Ýöûŕ ŵééķļý")
    sent = [Reply(alerts["ada"]), Reply(digests["ada"])]
    allowed = ("Software intern", "Acme Ltd", "software", "London", *DATE_WORDS)
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    assert leaks([*seen, *sent], allowed=(*allowed, *days)) == []


def test_a_students_dashboard_and_calendar_in_the_pseudo_language(
    core: Core, school: int, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    ada = Chat(core, "ada", name="Ada Lovelace", language=PSEUDO)
    _onboard(ada)
    assert leaks(ada.send("/calendar")) == []
    oid = add_opportunity(session_factory, clock.now, deadline=date(2026, 12, 10))
    ada.press_payload(actions.SAVE.payload(oid))
    ada.send("/remind tomorrow 5pm to call Acme")
    calendar = ada.send("/calendar")
    assert calendar[0].file is not None
    assert "⟦Ļàšţ đàý ţö àþþļý.⟧" in calendar[0].file.content.decode()
    dashboard = core.dashboard("console", "ada")
    assert dashboard is not None
    shown = [dashboard.title, *(label for label, _command in dashboard.shortcuts)]
    for panel in dashboard.panels:
        shown += [panel.title, panel.empty, *(item.text for item in panel.items)]
    allowed = ("Software intern", "Acme Ltd", "call Acme", *DATE_WORDS)
    assert leaks([*calendar, *(Reply(text) for text in shown)], allowed=allowed) == []
