"""The phrase parser behind /remind: ordinary phrases, in the person's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import language
from handlers.common.when import (
    WhenError,
    day_examples,
    example_deadline,
    example_moment,
    example_range,
    examples,
    find_when,
    parse_day,
    parse_when,
    starts_with_a_moment,
)

LONDON = ZoneInfo("Europe/London")
LA = ZoneInfo("America/Los_Angeles")
# Monday 23 November 2026, 15:00 in London (GMT, the same as UTC then).
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def local(text: str, zone: ZoneInfo = LONDON, now: datetime = NOW) -> str:
    return f"{parse_when(text, now, zone).astimezone(zone):%a %Y-%m-%d %H:%M}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 5pm", "Tue 2026-11-24 17:00"),
        ("Tomorrow at 5 PM", "Tue 2026-11-24 17:00"),
        ("5pm tomorrow", "Tue 2026-11-24 17:00"),
        ("tmrw 8am", "Tue 2026-11-24 08:00"),
        ("tomorrow", "Tue 2026-11-24 09:00"),
        ("tomorrow morning", "Tue 2026-11-24 09:00"),
        ("tomorrow in the morning", "Tue 2026-11-24 09:00"),
        ("the day after tomorrow", "Wed 2026-11-25 09:00"),
        ("next friday", "Fri 2026-11-27 09:00"),
        ("friday 8:30", "Fri 2026-11-27 08:30"),
        ("on fri at 4.15pm", "Fri 2026-11-27 16:15"),
        ("sat noon", "Sat 2026-11-28 12:00"),
        ("monday 8:30", "Mon 2026-11-30 08:30"),
        ("monday", "Mon 2026-11-30 09:00"),
        ("next monday", "Mon 2026-11-30 09:00"),
        ("monday 6pm", "Mon 2026-11-23 18:00"),
        ("this friday", "Fri 2026-11-27 09:00"),
        ("next week", "Mon 2026-11-30 09:00"),
        ("in 3 days", "Thu 2026-11-26 15:00"),
        ("in 3 days at 5pm", "Thu 2026-11-26 17:00"),
        ("in two weeks", "Mon 2026-12-07 15:00"),
        ("in 2 hours", "Mon 2026-11-23 17:00"),
        ("in 2h", "Mon 2026-11-23 17:00"),
        ("in an hour", "Mon 2026-11-23 16:00"),
        ("in 30 mins", "Mon 2026-11-23 15:30"),
        ("5pm", "Mon 2026-11-23 17:00"),
        ("10am", "Tue 2026-11-24 10:00"),
        ("17:45", "Mon 2026-11-23 17:45"),
        ("this evening", "Mon 2026-11-23 18:00"),
        ("tonight", "Mon 2026-11-23 19:00"),
        ("2026-12-01 09:00", "Tue 2026-12-01 09:00"),
        ("2026-12-01T09:00", "Tue 2026-12-01 09:00"),
        ("2026-12-01", "Tue 2026-12-01 09:00"),
        ("1 dec", "Tue 2026-12-01 09:00"),
        ("1st December 5:30 p.m.", "Tue 2026-12-01 17:30"),
        ("dec 1st, 2pm", "Tue 2026-12-01 14:00"),
        ("1 jan", "Fri 2027-01-01 09:00"),
        ("december 1 2027 14:00", "Wed 2027-12-01 14:00"),
        ("12am tomorrow", "Tue 2026-11-24 00:00"),
        ("12pm tomorrow", "Tue 2026-11-24 12:00"),
    ],
)
def test_ordinary_phrases(text: str, expected: str) -> None:
    assert local(text) == expected


def test_phrases_are_read_in_the_persons_time_zone() -> None:
    # 15:00 UTC is 07:00 in Los Angeles: "5pm" is today there, and 17:00 there is 01:00 UTC.
    assert local("5pm", LA) == "Mon 2026-11-23 17:00"
    assert parse_when("5pm", NOW, LA) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert parse_when("tomorrow 9am", NOW, LA) == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_days_keep_the_wall_clock_across_a_dst_change_and_hours_do_not() -> None:
    before = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)  # Saturday, GMT
    assert local("in 1 day", now=before) == "Sun 2027-03-28 12:00"
    assert parse_when("in 1 day", before, LONDON) == datetime(2027, 3, 28, 11, 0, tzinfo=UTC)
    assert parse_when("in 24 hours", before, LONDON) == datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
    assert parse_when("monday 9am", before, LONDON) == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)


def test_a_time_already_past_today_means_tomorrow_but_an_explicit_day_stays_past() -> None:
    assert local("9am") == "Tue 2026-11-24 09:00"
    assert parse_when("today 9am", NOW, LONDON) < NOW
    assert parse_when("2026-11-01 10:00", NOW, LONDON) < NOW
    # Today's date without a time is 09:00 today, already gone: said, not moved a year on.
    assert parse_when("23 nov", NOW, LONDON) < NOW


def test_results_are_whole_minutes_in_utc() -> None:
    now = datetime(2026, 11, 23, 15, 0, 42, 123, tzinfo=UTC)
    result = parse_when("in 2 hours", now, LONDON)
    assert result == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "When should that be?"),
        ("   ", "When should that be?"),
        ("banana", 'I didn\'t understand "banana"'),
        ("soon", "I didn't understand"),
        ("next year", "I didn't understand"),
        ("in 2 hours at 5pm", "I didn't understand"),
        ("2026-02-30", "There's no such date as 2026-02-30"),
        ("31 june", "There's no such date"),
        ("25:00", "25:00 isn't a time of day"),
        ("13pm", "13pm isn't a time of day"),
        ("10:75", "10:75 isn't a time of day"),
        ("5pm 6pm", "two times"),
        ("friday at 5", "Do you mean 5am or 5pm?"),
        ("at 7", "Do you mean 7am or 7pm?"),
        ("tomorrow 11", "Do you mean 11am or 11pm?"),
        ("in 3 fortnights", "I didn't understand"),
        ("<b>tomorrow</b>", "I didn't understand"),
    ],
)
def test_what_is_not_understood_gets_a_reason_and_an_example(text: str, message: str) -> None:
    with pytest.raises(WhenError) as error:
        parse_when(text, NOW, LONDON)
    assert message in str(error.value)


def test_every_refusal_shows_how_to_say_it() -> None:
    with pytest.raises(WhenError) as error:
        parse_when("whenever", NOW, LONDON)
    assert "tomorrow 5pm" in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Interview on Tuesday 10:00 at our office?", "Tue 2026-11-24 10:00"),
        ("Shadowing day: 3 December, 9am sharp, at reception.", "Thu 2026-12-03 09:00"),
        ("See you tomorrow at 9.30!", "Tue 2026-11-24 09:30"),
        ("Come on Friday, 27 November at 2pm to the lab", "Fri 2026-11-27 14:00"),
        ("2026-12-01 09:00, room 12", "Tue 2026-12-01 09:00"),
        ("Call at 10:00 on Thursday please", "Thu 2026-11-26 10:00"),
    ],
)
def test_finding_the_moment_an_invitation_names(text: str, expected: str) -> None:
    found = find_when(text, NOW, LONDON)
    assert found is not None
    assert f"{found.astimezone(LONDON):%a %Y-%m-%d %H:%M}" == expected


@pytest.mark.parametrize(
    "text",
    [
        "Come in at 10:00",  # no day
        "Friday 2pm or Monday 3pm?",  # two times
        "We met on 2026-11-02 at 9am",  # in the past
        "Bring your CV and a smile",
        "",
    ],
)
def test_no_definite_moment_is_found_in_text_without_one(text: str) -> None:
    assert find_when(text, NOW, LONDON) is None


# Every day of two years (leap day and year ends included), in zones either side of UTC.
_TODAYS = [date(2027, 1, 1) + timedelta(days=n) for n in range(0, 731, 7)] + [
    date(2028, 2, 29),
    date(2027, 12, 31),
    date(2028, 11, 30),
]


@pytest.mark.parametrize("today", _TODAYS)
def test_example_dates_are_worked_out_from_today(today: date) -> None:
    for zone in (LONDON, LA, ZoneInfo("Pacific/Auckland")):
        # Noon of that day where the person lives.
        now = datetime.combine(today, time(12, 0), tzinfo=zone).astimezone(UTC)
        (moment,) = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", examples(today))
        assert parse_when(moment, now, zone) > now
        assert example_moment(today) == moment
        ahead = day_examples(today)
        assert parse_day(ahead.split(", ")[0], today) > today
        assert parse_day(ahead.split(", ")[1], today) > today
        gone = day_examples(today, past=True)
        assert parse_day(gone.split(", ")[0], today, past=True) < today
        assert parse_day(gone.split(", ")[1], today, past=True) < today
    deadline = example_deadline(today)
    assert today + timedelta(days=60) < deadline <= today + timedelta(days=124)
    assert (deadline + timedelta(days=1)).day == 1  # a month's last day
    start, end = (
        date.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2}", example_range(today))
    )
    assert today < start <= today + timedelta(days=7) and start.weekday() == 0
    assert end.weekday() == 4 and (end - start).days == 11
    short = re.search(r"\(or (.+) to (.+)\)", example_range(today))
    assert short is not None
    assert parse_day(short[1], today) == start
    assert parse_day(short[2], today, after=start) == end


# --- the person's own language ---------------------------------------------------------------
# Monday 23 November 2026, 15:00 in London, as above.


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "mañana a las 17:00", "Tue 2026-11-24 17:00"),
        ("es", "mañana a las 5 de la tarde", "Tue 2026-11-24 17:00"),
        ("es", "el viernes", "Fri 2026-11-27 09:00"),
        ("es", "el viernes a las 8:30", "Fri 2026-11-27 08:30"),
        ("es", "en 3 días", "Thu 2026-11-26 15:00"),
        ("es", "en 3 dias", "Thu 2026-11-26 15:00"),
        ("es", "en una hora", "Mon 2026-11-23 16:00"),
        ("es", "3 de diciembre", "Thu 2026-12-03 09:00"),
        ("es", "3 de diciembre a las 10:00", "Thu 2026-12-03 10:00"),
        ("es", "pasado mañana por la mañana", "Wed 2026-11-25 09:00"),
        ("es", "tomorrow 5pm", "Tue 2026-11-24 17:00"),
        ("pl", "jutro o 17", "Tue 2026-11-24 17:00"),
        ("pl", "jutro o 5 po południu", "Tue 2026-11-24 17:00"),
        ("pl", "w piątek", "Fri 2026-11-27 09:00"),
        ("pl", "we wtorek o 8:30", "Tue 2026-11-24 08:30"),
        ("pl", "za 3 dni", "Thu 2026-11-26 15:00"),
        ("pl", "za godzinę", "Mon 2026-11-23 16:00"),
        ("pl", "3 grudnia", "Thu 2026-12-03 09:00"),
        ("pl", "friday 8:30", "Fri 2026-11-27 08:30"),
        ("uk", "завтра о 17", "Tue 2026-11-24 17:00"),
        ("uk", "завтра о 5 вечора", "Tue 2026-11-24 17:00"),
        ("uk", "у пʼятницю", "Fri 2026-11-27 09:00"),
        ("uk", "у п'ятницю о 8:30", "Fri 2026-11-27 08:30"),
        ("uk", "через 3 дні", "Thu 2026-11-26 15:00"),
        ("uk", "через годину", "Mon 2026-11-23 16:00"),
        ("uk", "3 грудня", "Thu 2026-12-03 09:00"),
        ("uk", "in 3 days", "Thu 2026-11-26 15:00"),
        ("ar", "غدا الساعة 5 مساء", "Tue 2026-11-24 17:00"),
        ("ar", "غدًا الساعة ٥ مساءً", "Tue 2026-11-24 17:00"),
        ("ar", "الجمعة", "Fri 2026-11-27 09:00"),
        ("ar", "يوم الجمعة الساعة 8:30", "Fri 2026-11-27 08:30"),
        ("ar", "بعد 3 أيام", "Thu 2026-11-26 15:00"),
        ("ar", "بعد يومين", "Wed 2026-11-25 15:00"),
        ("ar", "بعد ساعة", "Mon 2026-11-23 16:00"),
        ("ar", "3 ديسمبر", "Thu 2026-12-03 09:00"),
        ("ar", "tomorrow 5pm", "Tue 2026-11-24 17:00"),
    ],
)
def test_the_persons_own_language_for_the_common_forms(lang: str, text: str, expected: str) -> None:
    with language(lang):
        assert local(text) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "mañana a las 5", "¿Te refieres a las 5 de la mañana o de la tarde?"),
        ("es", "31 de febrero", "«31 de febrero» no es una fecha válida."),
        ("es", "pronto", "Perdona, no he entendido «pronto»"),
        ("pl", "jutro o 5", "Chodzi o 5 rano czy po południu?"),
        ("pl", "31 lutego", "Nie ma takiej daty jak 31 lutego."),
        ("uk", "завтра о 5", "Ви маєте на увазі 5 ранку чи вечора?"),
        ("ar", "غدا الساعة 5", "هل تقصد"),
    ],
)
def test_an_unclear_phrase_is_refused_in_the_persons_language(
    lang: str, text: str, expected: str
) -> None:
    with language(lang), pytest.raises(WhenError) as refused:
        parse_when(text, NOW, LONDON)
    assert expected in str(refused.value)


def test_another_languages_words_mean_nothing_in_english() -> None:
    with pytest.raises(WhenError, match="didn't understand"):
        parse_when("mañana a las 17:00", NOW, LONDON)


@pytest.mark.parametrize(
    ("lang", "separators"),
    [
        ("es", (", ", " o ")),
        ("pl", (", ", " lub ")),
        ("uk", (", ", " або ")),
        ("ar", ("، ", " أو ")),
    ],
)
def test_each_languages_examples_read_back(lang: str, separators: tuple[str, str]) -> None:
    with language(lang):
        shown = examples(NOW.date())
        phrases = re.split("|".join(map(re.escape, separators)), shown)
        assert len(phrases) == 5, shown
        for phrase in phrases:
            assert parse_when(phrase, NOW, LONDON) > NOW, phrase
        for phrase in re.split(r", |، ", day_examples(NOW.date()))[:2]:
            assert parse_day(phrase, NOW.date()) == NOW.date() + timedelta(days=14)


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "ayer", date(2026, 11, 22)),
        ("es", "el viernes pasado", date(2026, 11, 20)),
        ("pl", "wczoraj", date(2026, 11, 22)),
        ("uk", "у минулу пʼятницю", date(2026, 11, 20)),
        ("ar", "امس", date(2026, 11, 22)),
    ],
)
def test_a_day_in_the_persons_language(lang: str, text: str, expected: date) -> None:
    with language(lang):
        assert parse_day(text, NOW.date(), past=True) == expected


WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize(
    ("lang", "zone", "text", "expected"),
    [
        ("pl", WARSAW, "24.12.", "Thu 2026-12-24 09:00"),
        ("pl", WARSAW, "24.12.2026 18:00", "Thu 2026-12-24 18:00"),
        ("pl", WARSAW, "24.12 o 18", "Thu 2026-12-24 18:00"),
        ("pl", WARSAW, "jutro 17.30", "Tue 2026-11-24 17:30"),  # a time of day, not 17 June
        ("uk", ZoneInfo("Europe/Kyiv"), "24.12 о 18:00", "Thu 2026-12-24 18:00"),
        ("es", ZoneInfo("Europe/Madrid"), "3/12 a las 17:00", "Thu 2026-12-03 17:00"),
        ("es", ZoneInfo("Europe/Madrid"), "24/12/26", "Thu 2026-12-24 09:00"),
        ("ar", ZoneInfo("Asia/Dubai"), "24/12", "Thu 2026-12-24 09:00"),
        ("en", LONDON, "1/2", "Mon 2027-02-01 09:00"),
        ("en", LA, "1/2", "Sat 2027-01-02 09:00"),
        ("en", LA, "12/24 5pm", "Thu 2026-12-24 17:00"),
        ("en", LA, "24/12", "Thu 2026-12-24 09:00"),  # only one order makes a date
        ("en", LONDON, "24-12-2026", "Thu 2026-12-24 09:00"),
    ],
)
def test_dates_in_figures_in_the_order_people_write_them(
    lang: str, zone: ZoneInfo, text: str, expected: str
) -> None:
    with language(lang):
        assert local(text, zone) == expected


def test_a_date_in_figures_that_does_not_exist_is_refused() -> None:
    with pytest.raises(WhenError, match="no such date as 31/11"):
        parse_when("31/11", NOW, LONDON)
    with pytest.raises(WhenError, match="didn't understand"):
        parse_when("13/13", NOW, LONDON)


def test_a_day_in_figures() -> None:
    today = NOW.date()
    with language("pl"):
        assert parse_day("1.11", today, past=True) == date(2026, 11, 1)  # a day, not 1:11
        assert parse_day("01.12.2026", today) == date(2026, 12, 1)
    assert parse_day("11/1", today, past=True, zone=LA) == date(2026, 11, 1)
    assert parse_day("11/1", today, past=True, zone=LONDON) == date(2026, 1, 11)


@pytest.mark.parametrize(
    ("lang", "text", "moment"),
    [
        ("en", "3 dec to call Acme", True),
        ("en", "3 tomorrow 5pm", False),  # the third listing
        ("es", "3 de diciembre para llamar a Acme", True),
        ("es", "3 mañana a las 17:00", False),
        ("pl", "3 grudnia zadzwonić", True),
        ("uk", "3 грудня подзвонити", True),
        ("ar", "3 ديسمبر", True),
    ],
)
def test_a_leading_number_is_a_day_when_a_month_follows_in_any_language(
    lang: str, text: str, moment: bool
) -> None:
    with language(lang):
        assert starts_with_a_moment(text) is moment
