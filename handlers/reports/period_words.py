"""A report's period in the teacher's own words: each language's phrases as the English ones
``parse_period`` reads ("el mes pasado" is "last month"), so "/report este mes" works as
"/report this month" does. English always works too: a phrase not in the table is kept."""

from __future__ import annotations

import re

from handlers.common import plain

# The phrases a teacher types, in lower case and as ``plain`` leaves them (Arabic's alef
# without hamza, no short vowels).
_PHRASES: dict[str, dict[str, str]] = {
    "es": {
        **dict.fromkeys(("esta semana", "semana actual"), "this week"),
        **dict.fromkeys(("la semana pasada", "semana pasada"), "last week"),
        **dict.fromkeys(("este mes", "mes actual"), "this month"),
        **dict.fromkeys(("el mes pasado", "mes pasado"), "last month"),
        **dict.fromkeys(("este año", "año actual"), "this year"),
        **dict.fromkeys(("el año pasado", "año pasado"), "last year"),
        **dict.fromkeys(("semana", "la semana"), "week"),
        **dict.fromkeys(("mes", "el mes"), "month"),
        **dict.fromkeys(("trimestre", "este trimestre", "el trimestre"), "term"),
        **dict.fromkeys(("el trimestre pasado", "trimestre pasado"), "last term"),
        **dict.fromkeys(("año", "el año", "curso", "este curso"), "year"),
    },
    "pl": {
        **dict.fromkeys(("ten tydzień", "bieżący tydzień", "w tym tygodniu"), "this week"),
        **dict.fromkeys(
            ("zeszły tydzień", "ubiegły tydzień", "poprzedni tydzień", "w zeszłym tygodniu"),
            "last week",
        ),
        **dict.fromkeys(("ten miesiąc", "bieżący miesiąc", "w tym miesiącu"), "this month"),
        **dict.fromkeys(
            ("zeszły miesiąc", "ubiegły miesiąc", "poprzedni miesiąc", "w zeszłym miesiącu"),
            "last month",
        ),
        **dict.fromkeys(("ten rok", "bieżący rok", "w tym roku"), "this year"),
        **dict.fromkeys(
            ("zeszły rok", "ubiegły rok", "poprzedni rok", "w zeszłym roku"), "last year"
        ),
        "tydzień": "week",
        "miesiąc": "month",
        **dict.fromkeys(("semestr", "ten semestr"), "term"),
        **dict.fromkeys(("zeszły semestr", "poprzedni semestr"), "last term"),
        **dict.fromkeys(("rok", "rok szkolny"), "year"),
    },
    "uk": {
        **dict.fromkeys(("цей тиждень", "цього тижня"), "this week"),
        **dict.fromkeys(("минулий тиждень", "минулого тижня"), "last week"),
        **dict.fromkeys(("цей місяць", "цього місяця"), "this month"),
        **dict.fromkeys(("минулий місяць", "минулого місяця"), "last month"),
        **dict.fromkeys(("цей рік", "цього року"), "this year"),
        **dict.fromkeys(("минулий рік", "минулого року"), "last year"),
        "тиждень": "week",
        "місяць": "month",
        **dict.fromkeys(("семестр", "цей семестр", "чверть", "ця чверть"), "term"),
        **dict.fromkeys(
            ("минулий семестр", "минулого семестру", "минула чверть", "минулої чверті"),
            "last term",
        ),
        **dict.fromkeys(("рік", "навчальний рік"), "year"),
    },
    "ar": {
        "هذا الاسبوع": "this week",
        "الاسبوع الماضي": "last week",
        "هذا الشهر": "this month",
        "الشهر الماضي": "last month",
        **dict.fromkeys(("هذه السنة", "هذا العام"), "this year"),
        **dict.fromkeys(("السنة الماضية", "العام الماضي"), "last year"),
        **dict.fromkeys(("اسبوع", "الاسبوع"), "week"),
        **dict.fromkeys(("شهر", "الشهر"), "month"),
        **dict.fromkeys(("فصل", "الفصل", "الفصل الدراسي", "هذا الفصل"), "term"),
        **dict.fromkeys(("الفصل الماضي", "الفصل الدراسي الماضي"), "last term"),
        **dict.fromkeys(("سنة", "السنة", "عام", "العام", "العام الدراسي"), "year"),
    },
}
# "30 días", "30 dni", "30 днів", "30 يوما": a number of days.
_DAYS: dict[str, re.Pattern[str]] = {
    "es": re.compile(r"(\d{1,5}) ?(?:días?|dias?)"),
    "pl": re.compile(r"(\d{1,5}) ?(?:dni|dzień|dzien)"),
    "uk": re.compile(r"(\d{1,5}) ?(?:днів|дні|день|дн)"),
    "ar": re.compile(r"(\d{1,5}) ?(?:يوما|يوم|ايام)"),
}


def period_in_english(words: str, lang: str) -> str:
    """``words`` (lower case, spaced once) as the English period they mean in ``lang``."""
    typed = plain(words)
    if phrase := _PHRASES.get(lang, {}).get(typed):
        return phrase
    if (days := _DAYS.get(lang)) and (match := days.fullmatch(typed)):
        return f"{match[1]} days"
    return words
