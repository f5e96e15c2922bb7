"""Speaking each person's language: catalogues, plural rules, dates, numbers and lists.

Mark what people read with ``_("...")`` (``_n`` for counts, ``_p`` when one English word needs
two translations, ``N_`` for module-level constants translated later with ``_(CONSTANT)``).
Values go in by name: ``_("Welcome, {name}!", name=person.first_name)``; they are never
translated (what people typed stays as written) and, in a right-to-left language, each is
wrapped in Unicode isolates so a Latin name or a number can't scramble the sentence around it.

The language is that of a context variable: ``Core.handle`` sets it to the person who wrote
for the whole request, and ``with language(other.language):`` renders a message for someone
else (an outbox row) in theirs. Catalogues are the ``.po`` files in ``bot/locales``, compiled
in memory when first needed, so an install or a fresh clone needs no build step.

``en-XA`` is a pseudo-language for tests: every known message comes out accented and between
``⟦`` and ``⟧``, so English that reached a person without going through a catalogue stands out.
See docs/I18N.md.
"""

from __future__ import annotations

import gettext
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal, Protocol

from babel.dates import format_datetime as babel_datetime
from babel.dates import format_skeleton
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

# Each language by its own name, as the /language buttons show it; English first, the default.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "ar": "العربية",
    "pl": "Polski",
    "uk": "Українська",
}
DEFAULT = "en"
PSEUDO = "en-XA"
RTL = frozenset({"ar"})
DOMAIN = "oppbot"
LOCALES = Path(__file__).with_name("locales")
# The locale Babel formats each language's dates with: British English, as oppbot always wrote.
_FORMAT_LOCALE = {"en": "en_GB", PSEUDO: "en_GB"}

FSI, PDI = "\u2068", "\u2069"
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÀƁÇĐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
# Left as they are in the pseudo-language: placeholders, commands and web addresses.
_KEEP = re.compile(r"\{[^{}]*\}|/[a-z_]+|https?://\S+")

_current: ContextVar[str] = ContextVar("oppbot_language", default=DEFAULT)


class Speaker(Protocol):
    """Anyone with a language: a ``storage.models.Person``."""

    language: str | None


def supported(code: str | None) -> str:
    """The language we speak for a platform's code: "es-MX" is es, "de" (or none) English."""
    if not code:
        return DEFAULT
    if code.replace("_", "-").lower() == PSEUDO.lower():
        return PSEUDO
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT


def current() -> str:
    return _current.get()


def is_rtl(lang: str | None = None) -> bool:
    return (lang or current()) in RTL


@contextmanager
def language(code: str | None) -> Iterator[str]:
    """Speak ``code`` (made ``supported``) inside the block: a request, or one outbox message."""
    token = _current.set(supported(code))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def speaking_to(person: Speaker) -> Any:
    """``with speaking_to(recipient):`` renders what is queued for them in their language."""
    return language(person.language)


def language_name(code: str | None) -> str:
    """A language's own name ("Español"); English for an unsupported code."""
    lang = supported(code)
    return LANGUAGES.get(lang, LANGUAGES[DEFAULT])


# --- Catalogues ------------------------------------------------------------------------------


def catalogue_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English's, for the pseudo-language)."""
    path = catalogue_path(DEFAULT if lang == PSEUDO else lang)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=path.parts[-3], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def _known() -> frozenset[tuple[str | None, str]]:
    """(context, msgid) of every message in the English catalogue, which has them all."""
    path = catalogue_path(DEFAULT)
    if not path.exists():
        return frozenset()
    with path.open("rb") as po:
        catalog = read_po(po, locale=DEFAULT, domain=DOMAIN)
    found: set[tuple[str | None, str]] = set()
    for message in catalog:
        if message.id:
            msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
            found.add((message.context, str(msgid)))
    return frozenset(found)


def pseudo(text: str) -> str:
    """``text`` accented and between markers, placeholders, commands and addresses kept."""
    parts, last = [], 0
    for match in _KEEP.finditer(text):
        parts.append(text[last : match.start()].translate(_ACCENTED))
        parts.append(match.group())
        last = match.end()
    parts.append(text[last:].translate(_ACCENTED))
    return PSEUDO_OPEN + "".join(parts) + PSEUDO_CLOSE


class _Filler(string.Formatter):
    """Fills named placeholders; in a right-to-left language each value is isolated."""

    def __init__(self, rtl: bool) -> None:
        self.rtl = rtl

    def format_field(self, value: Any, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        return f"{FSI}{text}{PDI}" if self.rtl and text else text


def _fill(text: str, values: Mapping[str, Any]) -> str:
    if not values:
        return text
    return _Filler(is_rtl()).vformat(text, (), values)


def _translated(context: str | None, msgid: str, plural: str | None = None, n: int = 1) -> str:
    lang = current()
    if lang == PSEUDO:
        chosen = msgid if plural is None or n == 1 else plural
        # A message no catalogue has stays English, so the pseudo-language tests catch it.
        return pseudo(chosen) if (context, msgid) in _known() else chosen
    catalogue = translations(lang)
    if plural is None:
        if context is None:
            return catalogue.gettext(msgid)
        return catalogue.pgettext(context, msgid)
    if context is None:
        return catalogue.ngettext(msgid, plural, n)
    return catalogue.npgettext(context, msgid, plural, n)


def _(msgid: str, **values: Any) -> str:
    """``msgid`` in the current language, with ``values`` filled in by name."""
    return _fill(_translated(None, msgid), values)


def _n(singular: str, plural: str, n: int, **values: Any) -> str:
    """The form for ``n`` in the current language's plural rules; ``{n}`` is the count."""
    return _fill(_translated(None, singular, plural, n), {"n": n, **values})


def _p(context: str, msgid: str, **values: Any) -> str:
    """``msgid`` as meant in ``context`` (an English word with two translations)."""
    return _fill(_translated(context, msgid), values)


def N_(msgid: str) -> str:
    """Marks a module-level constant for extraction; translate it where used: ``_(CONSTANT)``."""
    return msgid


# --- Dates, times, numbers and lists ---------------------------------------------------------


def _locale(lang: str | None = None) -> str:
    lang = lang or current()
    return _FORMAT_LOCALE.get(lang, lang)


def fmt_date(value: date, lang: str | None = None) -> str:
    """A day as the language writes it: 3 Dec 2026, 3 dic 2026, 3 grudnia 2026 ..."""
    return format_skeleton("yMMMd", value, locale=_locale(lang))


def fmt_day(value: date, lang: str | None = None) -> str:
    """A day of this year with its weekday: Thu 3 Dec, jue, 3 dic."""
    return _day(value, _locale(lang))


@lru_cache(maxsize=4096)
def _day(value: date, locale: str) -> str:
    # Every line of a list has a deadline, and babel's skeleton formatting is slow: a list's
    # days are few and recur from update to update.
    return format_skeleton("MMMEd", value, locale=locale)


def fmt_datetime(value: datetime, zone: tzinfo, lang: str | None = None) -> str:
    """A moment in the person's time zone: 3 Dec 2026 17:00 (the 24-hour clock everywhere)."""
    local = value.astimezone(zone)
    return f"{fmt_date(local.date(), lang)} {babel_datetime(local, 'HH:mm', locale=_locale(lang))}"


def fmt_number(value: float, lang: str | None = None) -> str:
    """1,234.5 in English, 1.234,5 in Spanish."""
    return format_decimal(value, locale=_locale(lang))


ListStyle = Literal[
    "standard", "standard-short", "or", "or-short", "unit", "unit-short", "unit-narrow"
]


def fmt_list(items: Iterable[str], style: ListStyle = "standard", lang: str | None = None) -> str:
    """ "a, b and c" in the language's own words (``style="or"``: "a, b or c")."""
    return format_list(list(items), style=style, locale=_locale(lang))
