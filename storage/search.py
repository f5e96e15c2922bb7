"""Full-text search over opportunities that forgives word forms and typos.

The index itself (migrations 0012_search and 0018_match_keys) is SQLite FTS5 with porter
stemming, or a weighted PostgreSQL ``tsvector`` with a GIN index. It holds the open listings
only, all that a search can show (the PostgreSQL queries spell the status out, so that the
planner sees they fit the partial index); triggers keep it in step with every write. This
module turns what a student typed into terms, corrects words the index has never seen to the
closest indexed word, and gives the matching opportunity ids with two ranking columns:
``complete`` (every term matched) and ``relevance`` (bm25 on SQLite, ``ts_rank`` on
PostgreSQL; higher is better). Listings with all the words come first, then those with some.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import CTE, Boolean, Float, Integer, text
from sqlalchemy.orm import Session

# Objects of the search index that the models do not describe (virtual tables, the PostgreSQL
# column and words table): schema comparisons leave them alone.
_SEARCH_TABLES = ("opportunity_search", "search_words")
_SEARCH_INDEXES = ("ix_opportunities_search_document", "ix_search_words_trigram")

# Words a search ignores on both backends: PostgreSQL's English configuration drops them, and
# SQLite's index keeps them, so without this "jobs in Leeds" would need "in" on one only.
_STOPWORDS = """a about above after again against all am an and any are as at be because been before
    being below between both but by can did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with you your yours yourself
    yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())


def include_in_schema(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: whether a database object is one the models describe."""
    if type_ == "table":
        return not (name or "").startswith(_SEARCH_TABLES)
    if type_ == "column":
        return name != "search_document"
    if type_ == "index":
        return name not in _SEARCH_INDEXES
    return True


# A word shorter than this is never corrected: too many words are one letter from it.
MIN_CORRECTED = 4
_WORD = re.compile(r"\w+")
_PART = re.compile(r'"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class Term:
    """One thing to find: a word, a quoted phrase, or a typo replaced by an indexed stem."""

    words: tuple[str, ...]
    typed: str
    stem: str | None = None
    quoted: bool = False

    @property
    def phrase(self) -> bool:
        return len(self.words) > 1


def parse(typed: str) -> list[Term]:
    """The terms of a search: "quoted words" are a phrase, other words stand alone.

    A word with punctuation inside ("AI/ML", "data_base", "co-op") is one term: its parts
    must come together, and PostgreSQL reads it as it read the listing.
    """
    terms: list[Term] = []
    for match in _PART.finditer(typed):
        quoted, bare = match.groups()
        chunk = (quoted if quoted is not None else bare).lower()
        words = tuple(_WORD.findall(chunk))
        if not words or (quoted is None and len(words) == 1 and words[0] in STOPWORDS):
            continue
        if quoted is not None:
            terms.append(Term(words, " ".join(words), quoted=True))
        else:
            # A leading "-" would mean "without" to websearch_to_tsquery.
            terms.append(Term(words, chunk.lstrip("-") if len(words) > 1 else words[0]))
    return terms


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it is over ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def closest(word: str, stems: list[str]) -> str | None:
    """The indexed stem ``word`` was most likely meant to be, if one is close enough.

    Stems have lost their endings ("engineer" is indexed as "engin"), so up to three of the
    word's last letters may be dropped, down to four letters. What is left may be one edit
    away from the stem if it has up to five letters, two if longer. Ties go to the smaller
    difference in length, then alphabetically, so that both backends pick the same word.
    """
    best: tuple[int, int, str] | None = None
    for stem in stems:
        if len(stem) < 3 or not stem.isalpha():
            continue
        for kept in range(len(word), max(MIN_CORRECTED, len(word) - 3) - 1, -1):
            limit = 1 if kept <= 5 else 2
            distance = _edit_distance(word[:kept], stem, limit)
            if distance <= limit:
                key = (distance, abs(len(word) - len(stem)), stem)
                best = key if best is None or key < best else best
    return best[2] if best else None


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _fts_term(term: Term) -> str:
    if term.stem is not None:
        return f'"{term.stem}"*'
    return '"' + " ".join(term.words) + '"'


def _finding_nothing(session: Session, terms: list[Term]) -> set[int]:
    """Which of ``terms`` (their positions) find no open listing: asked in one statement."""
    if not terms:
        return set()
    if _postgres(session):
        probe = (
            "EXISTS (SELECT 1 FROM opportunities WHERE status = 'open'"
            " AND search_document @@ websearch_to_tsquery('english', :q{n}))"
        )
        values = {f"q{n}": term.typed for n, term in enumerate(terms)}
    else:
        probe = "EXISTS (SELECT 1 FROM opportunity_search WHERE opportunity_search MATCH :q{n})"
        values = {f"q{n}": _fts_term(term) for n, term in enumerate(terms)}
    statement = text("SELECT " + ", ".join(probe.format(n=n) for n in range(len(terms))))
    found = session.execute(statement, values).one()
    return {n for n, anything in enumerate(found) if not anything}


def _candidates(session: Session, word: str) -> list[str]:
    if _postgres(session):
        # A low threshold: the exact rule is ``closest``'s, the trigram index only narrows.
        session.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.2"))
        return list(
            session.scalars(text("SELECT word FROM search_words WHERE word % :w"), {"w": word})
        )
    return list(
        session.scalars(
            text(
                "SELECT term FROM opportunity_search_vocab"
                " WHERE length(term) BETWEEN :shortest AND :longest"
            ),
            {"shortest": max(3, len(word) - 5), "longest": len(word) + 2},
        )
    )


def correct(session: Session, terms: list[Term]) -> list[Term]:
    """``terms`` with each word that finds nothing replaced by the closest indexed word."""
    correctable = [
        n
        for n, term in enumerate(terms)
        if not term.phrase and len(term.words[0]) >= MIN_CORRECTED and term.words[0].isalpha()
    ]
    unknown = _finding_nothing(session, [terms[n] for n in correctable])
    corrected = list(terms)
    for n in sorted(correctable[i] for i in unknown):
        word = terms[n].words[0]
        stem = closest(word, _candidates(session, word))
        if stem is not None:
            corrected[n] = replace(terms[n], stem=stem)
    return corrected


def matches(
    session: Session, terms: list[Term], *, ranked: bool = True, complete_only: bool = False
) -> CTE:
    """Ids of the opportunities matching any of ``terms`` (all of them if ``complete_only``),
    with ``complete`` and ``relevance`` unless not ``ranked`` (what counting them needs: the
    index alone, nothing scored). A listing's relevance is the same either way: it is scored
    against every term."""
    params: dict[str, str] = {}
    if _postgres(session):
        queries = []
        for n, term in enumerate(terms):
            if term.stem is not None:
                params[f"t{n}"] = "'" + term.stem.replace("'", "''") + "':*"
                queries.append(f"to_tsquery('simple', :t{n})")
            else:
                params[f"t{n}"] = f'"{term.typed}"' if term.quoted else term.typed
                queries.append(f"websearch_to_tsquery('english', :t{n})")
        every = "(" + " && ".join(queries) + ")"
        some = "(" + " || ".join(queries) + ")"
        scores = (
            f", search_document @@ {every} AS complete,"
            f" ts_rank(search_document, {some}) AS relevance"
        )
        statement = text(
            f"SELECT id{scores if ranked else ''} FROM opportunities WHERE status = 'open'"
            f" AND search_document @@ {every if complete_only else some}"
        )
    else:
        params["found"] = (" AND " if complete_only else " OR ").join(_fts_term(t) for t in terms)
        scores = ""
        if ranked:
            complete = "1"
            if not complete_only:
                params["every"] = " AND ".join(_fts_term(t) for t in terms)
                complete = (
                    "rowid IN (SELECT rowid FROM opportunity_search"
                    " WHERE opportunity_search MATCH :every)"
                )
            # bm25 weighs a match in the title most, then the tags and the employer; it is
            # negative, lower for better matches.
            scores = (
                f", {complete} AS complete,"
                " -bm25(opportunity_search, 10.0, 4.0, 1.0, 2.0, 4.0) AS relevance"
            )
        statement = text(
            f"SELECT rowid AS id{scores} FROM opportunity_search"
            " WHERE opportunity_search MATCH :found"
        )
    columns = {"id": Integer, **({"complete": Boolean, "relevance": Float} if ranked else {})}
    # Materialized: the matches are found once and the listings looked up by id, where a
    # planner could otherwise go through the open listings and ask the index about each.
    return statement.bindparams(**params).columns(**columns).cte("hits").prefix_with("MATERIALIZED")
