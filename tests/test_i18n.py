"""Languages: catalogues, the person's language, right to left, the pseudo-language check."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog, Message
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core, Reply
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
from handlers.people.onboarding import COMMON_ZONES
from storage.models import Person
from tests.conftest import FakeClock
from tests.helpers import Chat, add_school, person_id
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
