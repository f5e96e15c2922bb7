"""Short answers typed in each of our languages: yes, no, skip, done, stop, not sure, and the
units of /hours; and a day then a duration ("2026-12-01 90m") read as the two they are.

Every language's words reach the same handlers as the English ones, through the core, with the
person speaking that language (the questions they answer are asked in it).
"""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.core import Core, UserError
from bot.i18n import _, language
from handlers.common import DONE, NO, NOT_SURE, SKIP, STOP, YES, means
from handlers.listings.schema import FieldProblems, check_one
from handlers.placements.hours import example, parse_log
from storage.models import Account, HoursStatus, Person
from tests.conftest import FakeClock
from tests.helpers import Chat, add_school
from tests.test_placements import START, World, place
from tests.test_placements import world as world

# Per language: yes, no, done, skip, remote, as people type them.
WORDS = {
    "en": ("Yes", "no", "done", "skip", "remote only"),
    "es": ("Sí", "no", "listo", "omitir", "a distancia"),
    "ar": ("نعم", "لا", "تم", "تخطي", "عن بعد"),
    "pl": ("tak", "Nie", "gotowe", "pomiń", "zdalnie"),
    "uk": ("так", "ні", "готово", "пропустити", "дистанційно"),
}
LANGS = sorted(WORDS)
TODAY = date(2026, 12, 10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def test_the_tables_say_each_word_once() -> None:
    """A word that meant yes and no (or yes and skip) would be read as the first one checked."""
    for words in (NO, SKIP, STOP, NOT_SURE):
        assert not YES & words
    assert not NO & DONE
    for lang, (yes, no, done, skip, _remote) in WORDS.items():
        assert means(yes, YES) and means(no, NO), lang
        assert means(done, DONE) and means(skip, SKIP), lang
        assert not means(yes, NO) and not means(no, YES), lang
    # Case, spaces and a closing stop don't matter; a word inside a sentence is not an answer.
    assert means("  SÍ! ", YES) and means("Tak.", YES) and means("نعم؟", YES)
    assert not means("yes please send it", YES)


def _student(core: Core, user: str, lang: str) -> Chat:
    """A student in the middle of /start, at the under-18 question, speaking ``lang``."""
    chat = Chat(core, user, name="Ada Lovelace", language=lang)
    for text in ("/start", "Ada", "Lovelace", "RIVER-11", "11"):
        chat.send(text)
    return chat


def _person(factory: sessionmaker[Session], chat: Chat) -> Person:
    with factory() as session:
        return session.scalars(
            select(Person)
            .join(Account)
            .where(Account.external_id == chat.user)
            .options(selectinload(Person.tags))
        ).one()


@pytest.mark.parametrize("lang", LANGS)
def test_onboarding_takes_no_done_and_skip_in_the_students_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, lang: str
) -> None:
    add_school(session_factory, clock.now)
    _yes, no, done, skip, _remote = WORDS[lang]
    chat = _student(core, f"s-{lang}", lang)
    chat.send(no)  # under 18? no
    chat.send(done)  # no fields, thanks
    chat.send("Europe/London")
    chat.send(skip)  # where can you get to? not saying
    person = _person(session_factory, chat)
    assert person.onboarded_at is not None, chat.text
    assert person.under_18 is False and person.tag_names == []
    assert (person.place, person.wants_remote) == (None, None)


@pytest.mark.parametrize("lang", LANGS)
def test_yes_asks_which_age_and_remote_is_remote_in_the_students_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, lang: str
) -> None:
    add_school(session_factory, clock.now)
    yes, _no, done, _skip, remote = WORDS[lang]
    chat = _student(core, f"y-{lang}", lang)
    chat.send(yes)
    with language(lang):
        asked = _("Are you under 16, or 16 or 17? Tap one of the buttons, or type your age.")
    assert chat.text == asked
    for text in ("16", done, "Europe/London", remote):
        chat.send(text)
    person = _person(session_factory, chat)
    assert person.under_18 is True and person.onboarded_at is not None
    assert (person.place, person.wants_remote) == (None, True)


@pytest.mark.parametrize(
    ("name", "typed", "value"),
    [
        ("paid", "sí", True),
        ("paid", "Remunerada", True),
        ("paid", "nie", False),
        ("paid", "Bezpłatna", False),
        ("paid", "ні", False),
        ("paid", "لست متأكدًا", None),
        ("paid", "no lo sé", None),
        ("paid", "не знаю", None),
        ("remote", "نعم", True),
        ("remote", "Zdalnie", True),
        ("remote", "Presencial", False),
        ("remote", "очно", False),
        ("deadline", "sin fecha límite", None),
        ("deadline", "bez terminu", None),
        ("deadline", "без терміну", None),
        ("deadline", "بلا موعد نهائي", None),
        ("deadline", "2026-12-20", date(2026, 12, 20)),
    ],
)
def test_a_listings_typed_answers_in_any_language(name: str, typed: str, value: object) -> None:
    assert check_one(name, typed, today=TODAY) == value


def test_a_word_that_is_no_answer_is_still_refused() -> None:
    with pytest.raises(FieldProblems):
        check_one("paid", "quizás", today=TODAY)
    with pytest.raises(FieldProblems):
        check_one("remote", "tak i nie", today=TODAY)


@pytest.mark.parametrize(
    ("lang", "off"), [("es", "apagar"), ("ar", "إيقاف"), ("pl", "wyłącz"), ("uk", "вимкнути")]
)
def test_the_digest_is_turned_off_in_the_students_language(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock, lang: str, off: str
) -> None:
    add_school(session_factory, clock.now)
    chat = _student(core, f"d-{lang}", lang)
    for text in (WORDS[lang][1], WORDS[lang][2], "Europe/London", WORDS[lang][3]):
        chat.send(text)
    chat.send("/digest friday")
    assert _person(session_factory, chat).digest_day == 4
    chat.send(f"/digest {off}")
    assert _person(session_factory, chat).digest_day is None
    with language(lang):
        assert _("The weekly digest is off.") in chat.text


# What people type to /hours in each language, and the minutes it means (on 9 December when
# it says yesterday, the 10th when it says today or nothing).
HOURS = [
    ("en", "yesterday 3 hours", 180),
    ("en", "2.5 hrs", 150),
    ("en", "4h 30m", 270),
    ("en", "1h30 yesterday", 90),
    ("es", "ayer 3 horas", 180),
    ("es", "hoy 1,5 h", 90),
    ("es", "ayer 90 minutos", 90),
    ("ar", "أمس 3 ساعات", 180),
    ("ar", "اليوم ٢ ساعة", 120),
    ("ar", "أمس 45 دقيقة", 45),
    ("pl", "wczoraj 2 godz.", 120),
    ("pl", "dzisiaj 1 godzina 30 minut", 90),
    ("pl", "wczoraj 1,5 godziny", 90),
    ("uk", "вчора 3 години", 180),
    ("uk", "сьогодні 2 год 15 хв", 135),
    ("uk", "вчора 40 хвилин", 40),
]


@pytest.mark.parametrize(("lang", "typed", "minutes"), HOURS)
def test_hours_units_in_each_language(lang: str, typed: str, minutes: int) -> None:
    with language(lang):
        day, got = parse_log(typed, TODAY)
    yesterday = any(w in typed for w in ("yesterday", "ayer", "أمس", "wczoraj", "вчора"))
    assert (day, got) == (date(2026, 12, 9) if yesterday else TODAY, minutes)


@pytest.mark.parametrize(
    "typed", ["2026-12-01 90m", "2026-12-01 1h30", "2026-12-01 1.5h", "90 min 2026-12-01"]
)
def test_a_date_then_a_duration(typed: str) -> None:
    assert parse_log(typed, TODAY) == (date(2026, 12, 1), 90)


def test_a_day_in_figures_in_the_order_the_student_writes_it() -> None:
    assert parse_log("12/1 3h", TODAY, ZoneInfo("America/Chicago")) == (date(2026, 12, 1), 180)
    assert parse_log("1/12 3h", TODAY, ZoneInfo("Europe/London")) == (date(2026, 12, 1), 180)
    with language("pl"):
        assert parse_log("1.12 3 godz", TODAY, ZoneInfo("Europe/Warsaw")) == (
            date(2026, 12, 1),
            180,
        )


def test_a_duration_then_a_day_with_a_number_keeps_them_apart() -> None:
    assert parse_log("2h 3 dec", TODAY) == (date(2026, 12, 3), 120)
    assert parse_log("3 dec 2h", TODAY) == (date(2026, 12, 3), 120)
    with pytest.raises(UserError):
        parse_log("2026-12-01 90x", TODAY)


_CONJUNCTIONS = {"or", "o", "lub", "або", "أو"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_hours_example_reads_back_in_its_language(lang: str) -> None:
    """Each "/hours ..." of the example shown to a person logs hours when they type it."""
    with language(lang):
        shown = example(TODAY)
        said = []
        for part in shown.split("/hours")[1:]:
            words = part.strip().rstrip(",").split()
            said.append(" ".join(words[:-1] if words[-1] in _CONJUNCTIONS else words))
        assert len(said) == 3, shown
        for typed in said:
            _day, minutes = parse_log(typed, TODAY)
            assert minutes > 0, typed
    if lang != "en":
        assert not re.search(r"\b(today|yesterday)\b", shown), shown


def test_a_placed_student_logs_a_date_and_minutes_and_hours_in_polish(world: World) -> None:
    place(world, world.bob)
    world.bob.send("/hours 2026-11-30 90m")
    with world.factory.begin() as session:
        ids = select(Account.person_id).where(Account.external_id == world.bob.user)
        session.execute(update(Person).where(Person.id.in_(ids)).values(language="pl"))
    world.bob.send("/hours wczoraj 1 godz. 15 min")
    assert world.entries() == [
        (date(2026, 11, 30), 90, HoursStatus.PENDING, False),
        (date(2026, 12, 1), 75, HoursStatus.PENDING, False),
    ]
