"""Reading a moment from ordinary words: "tomorrow 5pm", "next friday", "in 3 days".

Small and strict on purpose: a phrase means one definite moment in the person's time zone, or
it is refused with an example. Nothing is guessed (a bare "at 5" asks whether that is am or
pm), and the reply always states the exact day and time, so a surprise is seen at once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot.i18n import _, current
from handlers.common.when_words import RULES, in_english

# Examples are worked out from the reader's today: a fixed date in a prompt is soon in the past.


def example_day(today: date, *, past: bool = False) -> date:
    """A day for an example: two weeks ahead, or (for a day already worked) two days ago."""
    return today + timedelta(days=-2 if past else 14)


def _short(day: date) -> str:
    """A day of a month as the reader's language says it, which the parser reads back."""
    if current() in RULES:
        return format_skeleton("MMMMd", day, locale=current()).lower()
    return f"{day.day} {day:%b}".lower()


def example_moment(today: date) -> str:
    """A date and time as "YYYY-MM-DD HH:MM", two weeks from ``today``."""
    return f"{example_day(today):%Y-%m-%d} 09:00"


def examples(today: date) -> str:
    """The ways to say a moment, as examples for someone whose day is ``today``."""
    return _(
        "tomorrow 5pm, friday 8:30, in 3 days, in 2 hours or {moment}",
        moment=example_moment(today),
    )


def day_examples(today: date, *, past: bool = False) -> str:
    """The ways to say a day: ahead of ``today``, or (``past``) a day already gone."""
    day = example_day(today, past=past)
    if past:
        return _(
            "{date}, {short}, today, yesterday or friday", date=day.isoformat(), short=_short(day)
        )
    return _("{date}, {short}, today, tomorrow or friday", date=day.isoformat(), short=_short(day))


def example_deadline(today: date) -> date:
    """A deadline for an example: the last day of the month three months from ``today``."""
    months = today.month + 3
    return date(today.year + months // 12, months % 12 + 1, 1) - timedelta(days=1)


def example_range(today: date) -> str:
    """Two weeks' dates for an example: from the next Monday a week or less away to the
    Friday of the week after, as "YYYY-MM-DD to YYYY-MM-DD (or 7 dec to 18 dec)"."""
    start = today + timedelta(days=7 - today.weekday())
    end = start + timedelta(days=11)
    return _(
        "{start} to {end} (or {start_short} to {end_short})",
        start=start.isoformat(),
        end=end.isoformat(),
        start_short=_short(start),
        end_short=_short(end),
    )


_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_UNITS = {
    **dict.fromkeys(("minute", "minutes", "min", "mins", "m"), timedelta(minutes=1)),
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "h"), timedelta(hours=1)),
    **dict.fromkeys(("day", "days", "d"), timedelta(days=1)),
    **dict.fromkeys(("week", "weeks", "wk", "wks", "w"), timedelta(weeks=1)),
}
_WEEKDAYS = {
    name: n
    for n, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed", "weds"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_RELATIVE_DAYS = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "tomorow": 1,
    "tmrw": 1,
    "tmr": 1,
    "day after tomorrow": 2,
}
_PARTS_OF_DAY = {
    "morning": time(9, 0),
    "noon": time(12, 0),
    "midday": time(12, 0),
    "afternoon": time(14, 0),
    "evening": time(18, 0),
    "tonight": time(19, 0),
}
_LEADING = {"at", "on", "the"}
_TRAILING = {"at", "on", "the", "in", "of"}

_number = "|".join([r"\d{1,3}", *_NUMBERS])
_unit = "|".join(sorted(_UNITS, key=len, reverse=True))
_RELATIVE = re.compile(rf"in\s+({_number})\s*({_unit})")
_CLOCK = re.compile(
    r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?!\w)|\b(\d{1,2})[:.](\d{2})\b"
)
_PART_OF_DAY = re.compile(r"\b(" + "|".join(_PARTS_OF_DAY) + r")\b")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ordinal = r"(\d{1,2})(?:st|nd|rd|th)?"
_month = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"{_ordinal}\s+({_month})\.?(?:\s+(\d{{4}}))?")
_MONTH_DAY = re.compile(rf"({_month})\.?\s+{_ordinal}(?:\s+(\d{{4}}))?")
_MONTH_WORDS = tuple(sorted((n, name) for name, n in _MONTHS.items() if len(name) == 3))
# Dates in figures: "24/12", "12/24" in the US, "24.12." and "24.12.2026" as much of Europe
# writes them, "24-12-2026". A dotted pair without a final dot ("17.30") is a time of day,
# unless no clock shows it ("24.12").
_SLASHED = re.compile(r"(?<![\d./:-])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_DOTTED = re.compile(r"(?<![\d./:-])(\d{1,2})\.(\d{1,2})(\.(\d{4}|\d{2})?)?(?![\d])")
_DASHED = re.compile(r"(?<![\d./:-])(\d{1,2})-(\d{1,2})-(\d{4})(?![\d-])")
_WEEKDAY = re.compile(r"(?:(next|this)\s+)?(" + "|".join(_WEEKDAYS) + r")")
_BARE_HOUR = re.compile(r"(.*?)\s*\b(\d{1,2})\b\s*(.*)")
_DAY_OR_HOUR_FIRST = re.compile(rf"\d{{1,2}}\s+(?:{_month}|[ap]\.?m)\b")


class WhenError(ValueError):
    """The phrase names no definite moment; the message says why, for the person."""


def starts_with_a_moment(text: str) -> bool:
    """Whether the number ``text`` starts with is a day of a month or an hour ("31 feb",
    "3 dec to call Acme", "5 pm"), not a count or the number of something."""
    phrase = in_english(" ".join(text.lower().split()), current())
    return _DAY_OR_HOUR_FIRST.match(phrase) is not None


# Long because it is one ordered list of the date and time forms people type, tried in turn.
def parse_when(text: str, now: datetime, zone: ZoneInfo, *, default: time = time(9, 0)) -> datetime:
    """The moment (aware, UTC, whole minutes) that ``text`` means to someone in ``zone``.

    A day without a time means ``default`` o'clock; a time without a day means the next time
    the clock shows it. Explicit moments in the past are returned as they are: the caller
    says so, with the date, which is clearer than a guess.
    """
    phrase = _normal(text, zone)
    phrase = re.sub(r"(\d)t(\d)", r"\1 \2", phrase)  # 2026-12-01T09:00
    local_now = now.astimezone(zone).replace(second=0, microsecond=0)
    today = local_now.date()
    if not phrase:
        raise WhenError(
            _("When should that be? For example: {examples}.", examples=examples(today))
        )
    clock, phrase = _take_clock(phrase, today)
    if clock is None:
        clock, phrase = _take_part_of_day(phrase)
    phrase = _drop_filler(phrase)

    relative = _RELATIVE.fullmatch(phrase)
    if relative:
        unit = _UNITS[relative.group(2)]
        step = unit * _amount(relative.group(1))
        # Hours are hours of real time; days and weeks keep the wall clock across a DST change.
        if unit < timedelta(days=1):
            if clock is not None:
                raise _not_understood(text, today)
            return local_now.astimezone(UTC) + step
        day = local_now.date() + step
        return _at(day, clock or local_now.time(), zone)

    if not phrase:
        if clock is None:
            raise _not_understood(text, today)
        moment = _at(local_now.date(), clock, zone)
        return moment if moment > now else _at(local_now.date() + timedelta(days=1), clock, zone)

    weekday = _WEEKDAY.fullmatch(phrase)
    if weekday:
        wanted = _WEEKDAYS[weekday.group(2)]
        first = 1 if weekday.group(1) == "next" else 0
        for ahead in range(first, first + 8):
            day = local_now.date() + timedelta(days=ahead)
            moment = _at(day, clock or default, zone)
            if day.weekday() == wanted and moment > now:
                return moment

    if phrase == "next week":
        monday = local_now.date() + timedelta(days=7 - local_now.weekday())
        return _at(monday, clock or default, zone)

    if phrase == "this" and clock is not None:  # "this evening"
        return _at(local_now.date(), clock, zone)

    if phrase in _RELATIVE_DAYS:
        day = local_now.date() + timedelta(days=_RELATIVE_DAYS[phrase])
        if phrase == "tonight":
            clock = clock or _PARTS_OF_DAY["tonight"]
        return _at(day, clock or default, zone)

    named = _calendar_date(phrase, local_now.date(), text)
    if named is not None:
        # "1 jan" said in November means next January; "23 nov" said on 23 Nov means today.
        if named < local_now.date() and not _has_year(phrase):
            named = _next_year(named, text)
        return _at(named, clock or default, zone)

    if clock is None:
        _ask_am_or_pm(phrase, text, now, zone)
    raise _not_understood(text, today)


# Words around a time of day that may name its day: "on Tuesday 3 December at 10:00".
_CONTEXT_WORDS = 4
_PUNCTUATION = ".,;:!?()[]\"'"


def find_when(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The one future moment, with both a day and a time of day, that free text mentions.

    For a message such as "Interview on Tuesday 10:00 at our office?". None unless exactly one
    time of day is written and the words around it name its day: a bare "at 10:00" or two
    times leave the message as it is rather than guess.
    """
    lowered = " ".join(text.lower().split())
    clocks = list(_CLOCK.finditer(lowered))
    if len(clocks) != 1:
        return None
    clock = clocks[0]
    before = [w.strip(_PUNCTUATION) for w in lowered[: clock.start()].split()]
    after = [w.strip(_PUNCTUATION) for w in lowered[clock.end() :].split()]
    reach = range(min(_CONTEXT_WORDS, len(before)) + 1), range(min(_CONTEXT_WORDS, len(after)) + 1)
    # The widest reading first: "3 December at 10:00" rather than "December at 10:00".
    for i, j in sorted(((i, j) for i in reach[0] for j in reach[1]), key=lambda w: -sum(w)):
        words_before, words_after = before[len(before) - i :], after[:j]
        if not _drop_filler(" ".join(w for w in (*words_before, *words_after) if w)):
            continue
        candidate = " ".join([*words_before, clock.group(0), *words_after])
        try:
            moment = parse_when(candidate, now, zone)
        except WhenError:
            continue
        return moment if moment > now else None
    return None


def _normal(text: str, zone: tzinfo | None, *, day_only: bool = False) -> str:
    """``text`` in lower case and English words, spaced once, without commas or a final dot,
    with dates in figures spelled as a day and a month's short name (with ``day_only``, a
    dotted pair such as "1.12" is a date even where a clock could show it)."""
    lang = current()
    phrase = in_english(text.lower(), lang)
    month_first = lang == "en" and _american(zone)
    phrase = _spell_numeric_dates(phrase, month_first=month_first, day_only=day_only)
    return " ".join(phrase.replace(",", " ").split()).removesuffix(".")


def _american(zone: tzinfo | None) -> bool:
    # Writing the month first is the United States' habit; the person's language and time
    # zone are all the bot knows of where they learned to write dates.
    return str(zone).startswith("America/")


def _spell_numeric_dates(phrase: str, *, month_first: bool, day_only: bool) -> str:
    """``phrase`` with each date in figures written as "24 dec" (or "24 dec 2026")."""

    def spelled(first: str, second: str, year: str | None) -> str | None:
        a, b = int(first), int(second)
        orders = [(b, a), (a, b)] if month_first else [(a, b), (b, a)]
        # The other order only where the usual one cannot be a date: "24/12" in the US too.
        day_month = next(((d, m) for d, m in orders if 1 <= m <= 12 and 1 <= d <= 31), None)
        if day_month is None:
            return None
        day, month = day_month
        words = f"{day} {_MONTH_WORDS[month - 1][1]}"
        if year is not None:
            words += f" {int(year) + 2000 if len(year) == 2 else int(year)}"
        return words

    def slashed(match: re.Match[str]) -> str:
        return spelled(match[1], match[2], match[3]) or match[0]

    def dotted(match: re.Match[str]) -> str:
        if not day_only and match[3] is None and int(match[1]) <= 23 and int(match[2]) <= 59:
            return match[0]  # a time of day: "17.30"
        return spelled(match[1], match[2], match[4]) or match[0]

    def dashed(match: re.Match[str]) -> str:
        return spelled(match[1], match[2], match[3]) or match[0]

    phrase = _SLASHED.sub(slashed, phrase)
    phrase = _DOTTED.sub(dotted, phrase)
    return _DASHED.sub(dashed, phrase)


def _take_clock(phrase: str, today: date) -> tuple[time | None, str]:
    found = list(_CLOCK.finditer(phrase))
    if not found:
        return None, phrase
    if len(found) > 1:
        raise WhenError(
            _(
                "That has two times in it. Please give one, like {examples}.",
                examples=examples(today),
            )
        )
    match = found[0]
    if match.group(4) is not None:
        hour, minute, half = int(match.group(4)), int(match.group(5)), None
    else:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        half = match.group(3).replace(".", "")
    clock = _clock(hour, minute, half, match.group(0))
    return clock, (phrase[: match.start()] + " " + phrase[match.end() :]).strip()


def _clock(hour: int, minute: int, half: str | None, written: str) -> time:
    if minute > 59 or (half is None and hour > 23) or (half is not None and not 1 <= hour <= 12):
        raise WhenError(
            _("{written} isn't a time of day. Try something like 17:00 or 5pm.", written=written)
        )
    if half is not None:
        hour = hour % 12 + (12 if half == "pm" else 0)
    return time(hour, minute)


def _take_part_of_day(phrase: str) -> tuple[time | None, str]:
    match = _PART_OF_DAY.search(phrase)
    if match is None:
        return None, phrase
    rest = (phrase[: match.start()] + " " + phrase[match.end() :]).strip()
    # "tonight" names the day as well as the hour.
    if match.group(1) == "tonight":
        rest = f"{rest} tonight".strip()
    return _PARTS_OF_DAY[match.group(1)], rest


def _drop_filler(phrase: str) -> str:
    words = phrase.split()
    while words and words[0] in _LEADING:
        words.pop(0)
    while words and words[-1] in _TRAILING:
        words.pop()
    return " ".join(w for w in words if w not in ("at", "on"))


def _amount(word: str) -> int:
    return _NUMBERS[word] if word in _NUMBERS else int(word)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


# Long because it tries each way of naming a day in turn, then picks the year that fits.
def parse_day(
    text: str,
    today: date,
    *,
    after: date | None = None,
    past: bool = False,
    example: str | None = None,
    zone: tzinfo | None = None,
) -> date:
    """The calendar day that ``text`` names: "2026-12-01", "1 dec", "today", "friday".

    A date without a year, or a weekday, is the one nearest to ``today``; with ``after``, the
    first on or after that day (the end of a range); with ``past``, the latest not after today
    (a day already worked; "last friday" is before today). ``example`` ends the messages
    of the ``WhenError`` raised for a phrase that names no day (by default, ways to say a
    day near ``today``). ``zone``, the person's, tells whether "12/1" puts the month first.
    """
    example = example or day_examples(today, past=past)
    phrase = _normal(text, zone, day_only=True)
    phrase = phrase.removeprefix("on ")
    strictly_before = phrase.startswith("last ")
    phrase = phrase.removeprefix("last ").removeprefix("this ")
    if phrase in ("today", "yesterday", "tomorrow"):
        return today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[phrase])
    if phrase in _WEEKDAYS:
        back = (today.weekday() - _WEEKDAYS[phrase]) % 7 or (7 if strictly_before else 0)
        latest = today - timedelta(days=back)
        if past:
            return latest
        candidates = [latest, latest + timedelta(days=7)]
    else:
        try:
            day = _calendar_date(phrase, today, text)
        except WhenError:
            raise WhenError(
                _(
                    "There's no such date as {text}. Try {example}.",
                    text=text.strip(),
                    example=example,
                )
            ) from None
        if day is None:
            raise WhenError(
                _(
                    "I couldn't read '{text}' as a date. Try {example}.",
                    text=text.strip(),
                    example=example,
                )
            )
        if _has_year(phrase):
            return day
        candidates = []
        for year in (today.year - 1, today.year, today.year + 1):
            try:
                candidates.append(day.replace(year=year))
            except ValueError:  # 29 February
                continue
    if past:
        return max((c for c in candidates if c <= today), default=candidates[0])
    if after is not None:
        return min((c for c in candidates if c >= after), default=candidates[-1])
    return min(candidates, key=lambda c: abs((c - today).days))


def _calendar_date(phrase: str, today: date, text: str) -> date | None:
    if match := _ISO.fullmatch(phrase):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DAY_MONTH.fullmatch(phrase):
        day, month = int(match.group(1)), _MONTHS[match.group(2)]
        year = int(match.group(3)) if match.group(3) else today.year
    elif match := _MONTH_DAY.fullmatch(phrase):
        month, day = _MONTHS[match.group(1)], int(match.group(2))
        year = int(match.group(3)) if match.group(3) else today.year
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        raise WhenError(
            _(
                "There's no such date as {text}. Try something like {examples}.",
                text=text.strip(),
                examples=examples(today),
            )
        ) from None


def _has_year(phrase: str) -> bool:
    return bool(re.search(r"\d{4}", phrase))


def _next_year(day: date, text: str) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        raise WhenError(
            _("There's no {text} next year. Please give the year.", text=text.strip())
        ) from None


def _ask_am_or_pm(phrase: str, text: str, now: datetime, zone: ZoneInfo) -> None:
    """A bare hour ("friday at 5") is the one common slip worth a specific question."""
    match = _BARE_HOUR.fullmatch(phrase)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return
    rest = " ".join(part for part in (match.group(1), match.group(3)) if part)
    try:
        parse_when(rest or "today", now, zone)
    except WhenError:
        return
    hour = int(match.group(2))
    raise WhenError(
        _(
            "Do you mean {hour}am or {hour}pm? Add am or pm, or use 24-hour time like {time}.",
            hour=hour,
            time=str(hour % 12 + 12) + ":00",
        )
    )


def _not_understood(text: str, today: date) -> WhenError:
    return WhenError(
        _(
            'Sorry, I didn\'t understand "{text}" as a time. Try something like {examples}.',
            text=text.strip(),
            examples=examples(today),
        )
    )
