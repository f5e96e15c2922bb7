"""What went wrong with a source, stored so that each teacher reads it in their own language.

A sync runs in the scheduler, for no one in particular, and its problems are shown later, to
whichever teacher opens /sources. So a problem is stored as its words (marked with ``N_``) and
its values (a status code, a posting's number, what a provider or the importer said), and is
worded only when shown. Text stored before problems were kept this way is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from bot.i18n import DEFAULT, _, language

# What readers join several problems with (a run's skipped postings).
SEPARATOR = "; "
# The first problems of a run are kept; more would only repeat them.
MAX_KEPT = 5


@dataclass(frozen=True)
class Problem:
    """One problem: ``text`` marked for the catalogues, filled with ``values`` when shown."""

    text: str
    values: tuple[tuple[str, str | int], ...] = ()

    @classmethod
    def of(cls, text: str, **values: str | int) -> Problem:
        return cls(text, tuple(values.items()))

    def worded(self) -> str:
        """The problem in the current language."""
        return _(self.text, **dict(self.values))

    def __str__(self) -> str:
        # For logs and the command line, which speak English.
        with language(DEFAULT):
            return self.worded()


def stored(problems: Iterable[Problem]) -> str:
    """The column's text for ``problems`` (the first ``MAX_KEPT``)."""
    kept = [[p.text, dict(p.values)] for p in list(problems)[:MAX_KEPT]]
    return json.dumps({"problems": kept}, ensure_ascii=False)


def _read(text: str) -> list[Problem] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    found = data.get("problems") if isinstance(data, dict) else None
    if not isinstance(found, list):
        return None
    problems = []
    for item in found:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            return None
        words, values = item
        if not isinstance(values, dict) or not all(
            isinstance(v, str | int) for v in values.values()
        ):
            return None
        problems.append(Problem(words, tuple((str(k), v) for k, v in values.items())))
    return problems


def worded(text: str) -> str:
    """A stored problem (or several) in the current language; older free text as it is."""
    problems = _read(text)
    if problems is None:
        return text
    return SEPARATOR.join(p.worded() for p in problems)
