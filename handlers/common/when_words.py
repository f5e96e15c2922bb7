"""The reminder parser's words in Spanish, Arabic, Polish and Ukrainian, as its English.

``handlers.common.when`` reads English ("tomorrow 5pm", "next friday", "in 3 days", "3 dec");
``in_english`` rewrites the common forms of the person's own language into those words first
("mañana a las 17:00" is "tomorrow at 17:00"), so every language keeps the same strict rules:
one definite moment, or a polite refusal, and a bare hour from 1 to 12 is asked about (am or
pm?) rather than guessed. English words pass through unchanged, so either language works.

Small tables rather than ``dateparser``: measured here, it left "el viernes", "у пʼятницю" and
"بعد 3 أيام" unread and took "mañana a las 5" and "jutro o 17" for 10:00 (the time of asking).
"""

from __future__ import annotations

import re

Rules = tuple[tuple[re.Pattern[str], str], ...]

_WEEKDAYS_EN = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS_EN = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_CLOCK = r"(\d{1,2}(?:[:.]\d{2})?)"


def _rules(*pairs: tuple[str, str]) -> Rules:
    """Patterns (whole words) and their English, applied in order."""
    return tuple(
        (re.compile(rf"(?<!\w)(?:{pattern})(?!\w)"), english) for pattern, english in pairs
    )


def _months(*names: str) -> tuple[tuple[str, str], ...]:
    """A day of a month ("3 de diciembre", "3 grudnia") as the English parser reads it."""
    return tuple(
        (rf"(\d{{1,2}})\s+(?:de\s+)?(?:{name})", rf"\1 {month}")
        for name, month in zip(names, _MONTHS_EN, strict=True)
    )


def _weekdays(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(zip(names, _WEEKDAYS_EN.split("|"), strict=True))


_ES = _rules(
    (r"pasado\s+ma[ñn]ana", "day after tomorrow"),
    (rf"{_CLOCK}\s+(?:de\s+la\s+ma[ñn]ana|de\s+la\s+madrugada)", r"\1am"),
    (rf"{_CLOCK}\s+(?:de\s+la\s+tarde|de\s+la\s+noche|del\s+mediod[ií]a)", r"\1pm"),
    (r"(?:por|en)\s+la\s+ma[ñn]ana", "morning"),
    (r"(?:por|en)\s+la\s+tarde", "afternoon"),
    (r"esta\s+noche", "tonight"),
    (r"(?:por|en)\s+la\s+noche", "evening"),
    (r"(?:al\s+)?mediod[ií]a", "noon"),
    (r"ma[ñn]ana", "tomorrow"),
    (r"hoy", "today"),
    (r"ayer", "yesterday"),
    (r"la\s+semana\s+que\s+viene|la\s+pr[oó]xima\s+semana", "next week"),
    *_weekdays("lunes", "martes", r"mi[ée]rcoles", "jueves", "viernes", r"s[áa]bado", "domingo"),
    (rf"(?:el\s+)?pr[oó]ximo\s+({_WEEKDAYS_EN})", r"next \1"),
    (rf"(?:el\s+)?({_WEEKDAYS_EN})\s+que\s+viene", r"next \1"),
    (rf"(?:el\s+)?({_WEEKDAYS_EN})\s+pasado", r"last \1"),
    (rf"este\s+({_WEEKDAYS_EN})", r"this \1"),
    (r"dentro\s+de|en(?=\s+(?:\d|una?\b|dos\b|tres\b))", "in"),
    (r"una?|uno", "a"),
    (r"dos", "2"),
    (r"tres", "3"),
    (r"cuatro", "4"),
    (r"cinco", "5"),
    (r"minutos?", "minutes"),
    (r"horas?", "hours"),
    (r"d[ií]as?", "days"),
    (r"semanas?", "weeks"),
    *_months(
        "enero|ene",
        "febrero|feb",
        "marzo|mar",
        "abril|abr",
        "mayo|may",
        "junio|jun",
        "julio|jul",
        "agosto|ago",
        "septiembre|setiembre|sept?",
        "octubre|oct",
        "noviembre|nov",
        "diciembre|dic",
    ),
    (r"de(?=\s+\d{4})", ""),
    (r"a\s+las?|a\s+eso\s+de\s+las?", "at"),
    (r"el|la|los|las", ""),
)

_PL = _rules(
    (r"pojutrze", "day after tomorrow"),
    (rf"{_CLOCK}\s+rano", r"\1am"),
    (rf"{_CLOCK}\s+(?:po\s+po[łl]udniu|wieczorem)", r"\1pm"),
    (r"dzi[śs]\s+wieczorem|dzisiaj\s+wieczorem", "tonight"),
    (r"rano", "morning"),
    (r"po\s+po[łl]udniu", "afternoon"),
    (r"wieczorem", "evening"),
    (r"w\s+po[łl]udnie", "noon"),
    (r"jutro", "tomorrow"),
    (r"dzi[śs]|dzisiaj", "today"),
    (r"wczoraj", "yesterday"),
    (r"w\s+przysz[łl]ym\s+tygodniu|przysz[łl]y\s+tydzie[ńn]", "next week"),
    *_weekdays(
        r"poniedzia[łl]ek",
        "wtorek",
        r"[śs]rod[ęae]",
        "czwartek",
        r"pi[ąa]tek",
        r"sobot[ęae]",
        r"niedziel[ęae]",
    ),
    (rf"(?:we?\s+)?(?:przysz[łl][yąa]|nast[ęe]pn[yąa])\s+({_WEEKDAYS_EN})", r"next \1"),
    (rf"(?:we?\s+)?(?:zesz[łl][yąa]|ostatni[ąa]?)\s+({_WEEKDAYS_EN})", r"last \1"),
    (rf"we?(?=\s+(?:{_WEEKDAYS_EN}))", ""),
    (rf"w\s+t[ęe]n\s+({_WEEKDAYS_EN})|w\s+t[ęe]\s+({_WEEKDAYS_EN})", r"this \1\2"),
    (r"za(?=\s+(?:minut[ęe]|godzin[ęe]|dzie[ńn]|tydzie[ńn])(?!\w))", "in 1"),
    (r"za", "in"),
    (r"jeden|jedn[ąa]", "1"),
    (r"dwa|dwie", "2"),
    (r"trzy", "3"),
    (r"cztery", "4"),
    (r"pi[ęe][ćc]", "5"),
    (r"minut[yęe]?", "minutes"),
    (r"godzin[yęe]?", "hours"),
    (r"dni|dzie[ńn]", "days"),
    (r"tydzie[ńn]|tygodni[e]?", "weeks"),
    *_months(
        "stycznia|stycze[ńn]",
        "lutego|luty",
        "marca|marzec",
        "kwietnia|kwiecie[ńn]",
        "maja|maj",
        "czerwca|czerwiec",
        "lipca|lipiec",
        "sierpnia|sierpie[ńn]",
        "wrze[śs]nia|wrzesie[ńn]",
        "pa[źz]dziernika|pa[źz]dziernik",
        "listopada|listopad",
        "grudnia|grudzie[ńn]",
    ),
    (r"o\s+godz(?:inie|\.)?|o", "at"),
)

_UK = _rules(
    (r"післязавтра", "day after tomorrow"),
    (rf"{_CLOCK}\s+ранку", r"\1am"),
    (rf"{_CLOCK}\s+(?:дня|вечора)", r"\1pm"),
    (r"сьогодні\s+(?:ввечері|увечері)", "tonight"),
    (r"вранці|уранці|зранку", "morning"),
    (r"вдень|удень|після\s+обіду", "afternoon"),
    (r"ввечері|увечері", "evening"),
    (r"опівдні", "noon"),
    (r"завтра", "tomorrow"),
    (r"сьогодні", "today"),
    (r"вчора|учора", "yesterday"),
    (r"наступного\s+тижня|на\s+наступному\s+тижні", "next week"),
    *_weekdays(
        "понеділок|понеділка",
        "вівторок|вівторка",
        "середу|середа",
        "четвер|четверга",
        "пʼятницю|пʼятниця|пятницю|пятниця",
        "суботу|субота",
        "неділю|неділя",
    ),
    (rf"(?:[ув]\s+)?наступн(?:ого|ої|у|ий|а)\s+({_WEEKDAYS_EN})", r"next \1"),
    (rf"(?:[ув]\s+)?минул(?:ого|ої|у|ий|а)\s+({_WEEKDAYS_EN})", r"last \1"),
    (rf"(?:[ув]\s+)?ц(?:ю|ей|ього|ієї)\s+({_WEEKDAYS_EN})", r"this \1"),
    (rf"[ув](?=\s+(?:{_WEEKDAYS_EN}))", ""),
    (r"через(?=\s+(?:хвилину|годину|день|тиждень)(?!\w))", "in 1"),
    (r"через", "in"),
    (r"один|одну|одна", "1"),
    (r"два|дві", "2"),
    (r"три", "3"),
    (r"чотири", "4"),
    (r"пʼять", "5"),
    (r"хвилин[уи]?", "minutes"),
    (r"годин[уи]?", "hours"),
    (r"день|дні|днів", "days"),
    (r"тиждень|тижні|тижнів", "weeks"),
    *_months(
        "січня|січень",
        "лютого|лютий",
        "березня|березень",
        "квітня|квітень",
        "травня|травень",
        "червня|червень",
        "липня|липень",
        "серпня|серпень",
        "вересня|вересень",
        "жовтня|жовтень",
        "листопада|листопад",
        "грудня|грудень",
    ),
    (r"о\s+годині|об?", "at"),
)

# Written without hamza, tatweel or short vowels: ``plain`` takes them off what was typed.
_AR = _rules(
    (r"بعد\s+غد", "day after tomorrow"),
    (rf"{_CLOCK}\s*(?:صباحا|ص|فجرا)", r"\1am"),
    (rf"{_CLOCK}\s*(?:مساء|مساءا|م|ظهرا|عصرا|ليلا|بعد\s+الظهر)", r"\1pm"),
    (r"الليلة|الليله", "tonight"),
    (r"(?:في\s+)?الصباح|صباحا", "morning"),
    (r"بعد\s+الظهر|بعد\s+الظهيرة|العصر|عصرا", "afternoon"),
    (r"(?:في\s+)?المساء|مساء", "evening"),
    (r"الظهر|ظهرا", "noon"),
    (r"غدا|بكرة|بكره", "tomorrow"),
    (r"اليوم", "today"),
    (r"امس|البارحة|البارحه", "yesterday"),
    (r"الاسبوع\s+(?:القادم|المقبل|الجاي)", "next week"),
    *_weekdays(
        r"(?:يوم\s+)?الاثنين",
        r"(?:يوم\s+)?الثلاثاء",
        r"(?:يوم\s+)?الاربعاء",
        r"(?:يوم\s+)?الخميس",
        r"(?:يوم\s+)?الجمعة|(?:يوم\s+)?الجمعه",
        r"(?:يوم\s+)?السبت",
        r"(?:يوم\s+)?الاحد",
    ),
    (rf"({_WEEKDAYS_EN})\s+(?:القادم|القادمة|القادمه|المقبل|المقبلة|الجاي|الجاية)", r"next \1"),
    (rf"({_WEEKDAYS_EN})\s+(?:الماضي|الماضية|الماضيه|الفائت|الفائتة)", r"last \1"),
    (r"بعد(?=\s+(?:دقيقة|دقيقه|ساعة|ساعه|يوم|اسبوع)(?!\w))", "in 1"),
    (r"بعد", "in"),
    (r"دقيقتين", "2 minutes"),
    (r"ساعتين", "2 hours"),
    (r"يومين", "2 days"),
    (r"اسبوعين", "2 weeks"),
    (r"دقيقة|دقيقه|دقائق", "minutes"),
    (r"ساعة|ساعه|ساعات", "hours"),
    (r"يوم|ايام", "days"),
    (r"اسبوع|اسابيع", "weeks"),
    *_months(
        "يناير|كانون\\s+الثاني",
        "فبراير|شباط",
        "مارس|اذار",
        "ابريل|نيسان",
        "مايو|ايار",
        "يونيو|يونيه|حزيران",
        "يوليو|يوليه|تموز",
        "اغسطس|اب",
        "سبتمبر|ايلول",
        "اكتوبر|تشرين\\s+الاول",
        "نوفمبر|تشرين\\s+الثاني",
        "ديسمبر|كانون\\s+الاول",
    ),
    (r"(?:على|في)\s+الساعة|الساعة|الساعه", "at"),
    (r"في|يوم", ""),
)

RULES: dict[str, Rules] = {"es": _ES, "pl": _PL, "uk": _UK, "ar": _AR}

# A bare 24-hour hour after "at" ("jutro o 17"): 13 to 23 can only mean that hour.
_BARE_24 = re.compile(r"(?<!\w)at\s+(1[3-9]|2[0-3])(?![\w:.])")
# Arabic short vowels, tanwin, shadda, sukun and tatweel, and the direction marks and isolates
# that an Arabic message's values come in (copied back from an example).
_MARKS = re.compile("[\u064b-\u0652\u0640\u061c\u200e\u200f\u2066-\u2069]")
# The apostrophe of "пʼятниця" is typed three ways: as U+02BC, U+2019 or ASCII.
_TO_ASCII = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹أإآ\u060c'\u2019",
    "01234567890123456789ااا \u02bc\u02bc",
)


def plain(phrase: str) -> str:
    """Arabic-Indic digits as ASCII, no marks, one apostrophe for Ukrainian."""
    return _MARKS.sub("", phrase).translate(_TO_ASCII)


def in_english(phrase: str, lang: str) -> str:
    """``phrase`` (lower case) with the words of ``lang`` it uses for days and times in
    English; unchanged for English or a language without rules."""
    rules = RULES.get(lang)
    if rules is None:
        return phrase
    phrase = plain(phrase)
    for pattern, english in rules:
        phrase = pattern.sub(english, phrase)
    phrase = _BARE_24.sub(r"at \1:00", phrase)
    return " ".join(phrase.split())
