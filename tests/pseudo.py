"""The pseudo-language check: nothing a person reads may be English that skipped the catalogues.

A chat whose language is ``bot.i18n.PSEUDO`` gets every catalogued message accented and
between markers; ``untranslated`` lists the English words left outside them. What people
typed, names, codes, commands, web addresses and numbers are not words of ours: pass the
ones a journey uses as ``allowed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.core import Reply
from bot.i18n import PSEUDO_CLOSE, PSEUDO_OPEN

_IGNORED = re.compile(r"/[a-z_]+|https?://\S+|\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b")
_WORD = re.compile(r"[A-Za-z]{2,}")


def outside_markers(text: str) -> str:
    """``text`` without what is between the markers (nested ones too)."""
    kept, depth = [], 0
    for ch in text:
        if ch == PSEUDO_OPEN:
            depth += 1
        elif ch == PSEUDO_CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0:
            kept.append(ch)
        else:
            kept.append("")
    return "".join(kept)


def untranslated(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The English words of ``text`` outside the markers, other than ``allowed`` ones."""
    rest = outside_markers(text)
    for value in sorted(allowed, key=len, reverse=True):
        rest = rest.replace(value, " ")
    rest = _IGNORED.sub(" ", rest)
    return _WORD.findall(rest)


def leaks(replies: Iterable[Reply], allowed: Iterable[str] = ()) -> list[str]:
    """Untranslated words in the replies' texts and button labels."""
    allowed = list(allowed)
    found = []
    for reply in replies:
        found += untranslated(reply.text, allowed)
        for row in reply.buttons:
            for button in row:
                found += untranslated(button.label, allowed)
    return found
