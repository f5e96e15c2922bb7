"""Keeping the catalogues in step with the code.

    python3 -m bot.i18n_tools update   extract every marked message, add the new ones to each
                                        catalogue (empty, for a translator), drop the gone ones
    python3 -m bot.i18n_tools check    list what a catalogue lacks or gets wrong (dev.py test
                                        fails on the same list)

Extraction reads bot/, handlers/ and storage/ with the keywords of ``bot.i18n``; ``babel.cfg``
holds the same settings for ``pybabel extract``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import DEFAULT, DOMAIN, LANGUAGES, catalogue_path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers", "storage")
KEYWORDS: dict[str, tuple[int | tuple[int, str], ...] | None] = {
    "_": None,
    "_n": (1, 2),
    "_p": ((1, "c"), 2),
    "N_": None,
}
# The plural rules each catalogue's header must carry: the language's own number of forms.
# Spanish keeps the classic two (Babel's newer rule adds a third form for millions).
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
    ": n%100>=11 ? 4 : 5);",
    "pl": "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "uk": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
}
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")


def extract() -> Catalog:
    """Every marked message of the code, as a template."""
    template = Catalog(domain=DOMAIN, project="oppbot", copyright_holder="oppbot", fuzzy=False)
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def read(lang: str) -> Catalog:
    path = catalogue_path(lang)
    if not path.exists():
        catalog = Catalog(
            locale=lang, domain=DOMAIN, project="oppbot", copyright_holder="oppbot", fuzzy=False
        )
    else:
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
    # Set here, not taken from Babel's tables (see PLURAL_FORMS), so every catalogue agrees.
    # Babel keeps these private; its annotations give them as None until a header sets them.
    catalog._num_plurals, catalog._plural_expr = _parse_plural(PLURAL_FORMS[lang])  # type: ignore[assignment]
    return catalog


def _parse_plural(header: str) -> tuple[int, str]:
    match = re.fullmatch(r"nplurals=(\d+); plural=(.*);", header)
    assert match is not None, header
    return int(match.group(1)), match.group(2)


def update() -> list[str]:
    """Merge a fresh extraction into every catalogue; returns what changed, per language."""
    template = extract()
    changes = []
    for lang in LANGUAGES:
        catalog = read(lang)
        before = {m.id for m in catalog if m.id}
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        # Kept, like the line numbers left out below, so that helpers adding messages in
        # parallel don't conflict on lines nobody changed.
        catalog.creation_date = created
        catalog.obsolete.clear()
        after = {m.id for m in catalog if m.id}
        path = catalogue_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=100, include_lineno=False)
        changes.append(f"{lang}: {len(after - before)} new, {len(before - after)} removed")
    return changes


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _ids(message: Message) -> tuple[str, ...]:
    if isinstance(message.id, (tuple, list)):
        return tuple(str(part) for part in message.id)
    return (message.id,)


def _strings(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, tuple | list):
        return tuple(message.string)
    return (message.string or "",)


def problems(template: Catalog | None = None, langs: Iterable[str] = LANGUAGES) -> list[str]:
    """What the catalogues lack or get wrong against the code's messages."""
    template = template or extract()
    found: list[str] = []
    for lang in langs:
        path = catalogue_path(lang)
        if not path.exists():
            found.append(f"{lang}: no catalogue at {path.relative_to(ROOT)}")
            continue
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
        expected = PLURAL_FORMS[lang]
        if catalog.num_plurals != _parse_plural(expected)[0]:
            found.append(f"{lang}: the header's Plural-Forms should be {expected!r}")
        for wanted in template:
            if not wanted.id:
                continue
            message = catalog.get(wanted.id, context=wanted.context)
            name = f"{lang}: {_ids(wanted)[0]!r}"
            if message is None:
                found.append(f"{name} is missing")
                continue
            found.extend(f"{name}: {p}" for p in _check(lang, message, catalog.num_plurals))
    return found


def _check(lang: str, message: Message, num_plurals: int) -> list[str]:
    strings = _strings(message)
    if message.fuzzy:
        return ["is marked fuzzy: check the translation and remove the flag"]
    if not any(strings):
        # English falls back to the message itself; every other language must say it.
        return [] if lang == DEFAULT else ["has no translation"]
    if message.pluralizable:
        if len(strings) != num_plurals:
            return [f"has {len(strings)} plural forms, the language has {num_plurals}"]
        if not all(strings):
            return ["has an empty plural form"]
    allowed = set().union(*(placeholders(i) for i in _ids(message)))
    found = []
    for form in strings:
        got = placeholders(form)
        # A plural form may leave out the count ("one application"), nothing else.
        needed = allowed - {"n"} if message.pluralizable else allowed
        if got - allowed:
            found.append(f"has unknown placeholders {sorted(got - allowed)} in {form!r}")
        if needed - got:
            found.append(f"lacks placeholders {sorted(needed - got)} in {form!r}")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "update":
        print("\n".join(update()))
        return 0
    if command == "check":
        found = problems()
        print("\n".join(found) or "Every catalogue is complete.")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
