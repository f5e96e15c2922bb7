"""Full-text search over opportunities that forgives word forms and typos.

The index holds the open listings only, all that a search can show, and triggers keep it in
step with every write. SQLite: FTS5 with porter stemming (migrations 0012_search and
0018_match_keys); a listing's eligibility and the filters are read from the match index
(``ix_opportunities_match``). PostgreSQL: a weighted ``tsvector`` with a GIN index, in
``open_listings`` (0020), one narrow row per open listing beside what eligibility, the
filters and the order read, so that a page (a search or the "for you" list) reads that table
alone.

This module turns what a student typed into terms, corrects words the index has never seen to
the closest indexed word, and gives the pieces of the statements that find and rank the
matches (``storage.queries`` puts them together): listings with all the words come first, then
those with some, each by relevance (bm25 on SQLite, ``ts_rank`` on PostgreSQL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    Table,
    TextClause,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session

from storage.models import MATCH_KEYS, Opportunity

# Objects of the search index that the models do not describe (virtual tables, the PostgreSQL
# column and words table): schema comparisons leave them alone.
_SEARCH_TABLES = ("opportunity_search", "search_words", "open_listings")
_SEARCH_INDEXES = (
    "ix_opportunities_search_document",
    "ix_search_words_trigram",
    "ix_open_listings_document",
)

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
            "EXISTS (SELECT 1 FROM open_listings"
            " WHERE search_document @@ websearch_to_tsquery('english', :q{n}))"
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


# What a statement for a search depends on besides its bound values: on PostgreSQL, which
# terms are corrected stems (a prefix query) and which are words; nothing on SQLite, where the
# whole query is one bound string.
Key = tuple[bool, ...] | None


def query(session: Session, terms: list[Term]) -> tuple[Key, dict[str, str]]:
    """The key of a search for ``terms`` (statements are built once per key) and the values
    they bind: "some" and "every" on SQLite (FTS5 queries), a value per term on PostgreSQL."""
    if _postgres(session):
        values = {}
        for n, term in enumerate(terms):
            if term.stem is not None:
                values[f"t{n}"] = "'" + term.stem.replace("'", "''") + "':*"
            else:
                values[f"t{n}"] = f'"{term.typed}"' if term.quoted else term.typed
        return tuple(term.stem is not None for term in terms), values
    return None, {
        "some": " OR ".join(_fts_term(t) for t in terms),
        "every": " AND ".join(_fts_term(t) for t in terms),
    }


# The open listings as a PostgreSQL page reads them (migrations 0020 to 0022): what
# eligibility, the filters and the order read, the search document and the role. Not in the
# models' metadata: like the rest of the search index, migrations alone make it, on
# PostgreSQL alone.
OPEN_LISTINGS = Table(
    "open_listings",
    MetaData(),
    Column("id", Integer, primary_key=True),
    *(
        Column(name, Opportunity.__table__.c[name].type)
        # Where a listing is, its place keys are enough (0022): no page reads its location.
        for name in ("organisation_id", "title_key", "kind", *MATCH_KEYS)
        if name != "location"
    ),
    Column("search_document", TSVECTOR),
    Column("role", BigInteger),  # the organisation and title key as one number (0021)
)


def tsquery(key: tuple[bool, ...], every: bool) -> ColumnElement[Any]:
    """PostgreSQL: the terms of a search of ``key`` as one query, all of them or any."""
    queries = [
        func.to_tsquery(literal_column("'simple'"), bindparam(f"t{n}"))
        if stem
        else func.websearch_to_tsquery(literal_column("'english'"), bindparam(f"t{n}"))
        for n, stem in enumerate(key)
    ]
    joined: ColumnElement[Any] = queries[0]
    for more in queries[1:]:
        joined = joined.op("&&" if every else "||")(more)
    return joined.self_group()


def found(key: tuple[bool, ...], every: bool) -> ColumnElement[bool]:
    """PostgreSQL: whether a row of ``OPEN_LISTINGS`` has every or some term of a search."""
    return OPEN_LISTINGS.c.search_document.bool_op("@@")(tsquery(key, every))


def relevance(key: tuple[bool, ...]) -> ColumnElement[float]:
    """PostgreSQL: how well a row of ``OPEN_LISTINGS`` matches a search of ``key`` (``ts_rank``
    against every term, so a listing's relevance is the same whether it has all or some)."""
    return func.ts_rank(OPEN_LISTINGS.c.search_document, tsquery(key, every=False), type_=Float)


_FROM_FTS = "FROM opportunity_search WHERE opportunity_search MATCH"


def fts_rows() -> TextClause:
    """SQLite: the ids of the open listings with some term of a search."""
    return text(f"SELECT rowid AS id {_FROM_FTS} :some")


# bm25 weighs a match in the title most, then the tags and the employer; it is negative, lower
# for better matches.
_BM25 = "-bm25(opportunity_search, 10.0, 4.0, 1.0, 2.0, 4.0) AS relevance"


def scored(complete_only: bool) -> CTE:
    """SQLite: the listings with every term of a search (or some, unless ``complete_only``),
    each with ``complete`` (it has every term) and its ``relevance`` (higher is better).

    Materialized: scored once, then joined with the listings (and read again by ``leading``).
    """
    if complete_only:
        statement = text(f"SELECT rowid AS id, 1 AS complete, {_BM25} {_FROM_FTS} :every")
    else:
        statement = text(
            "SELECT rowid AS id, rowid IN (SELECT rowid FROM opportunity_search"
            f" WHERE opportunity_search MATCH :every) AS complete, {_BM25} {_FROM_FTS} :some"
        )
    columns = statement.columns(id=Integer, complete=Boolean, relevance=Float)
    return columns.cte("scored").prefix_with("MATERIALIZED")


def leading(scores: CTE) -> ColumnElement[bool]:
    """SQLite: whether a row of ``scores`` is among the "skip" + 1 most relevant, ties with
    the last of them included.

    FTS5 has no "best N": bm25 is computed for every match. What is left to save is the rest:
    only the leading matches are looked up in the listings and sorted. Every other match is
    strictly less relevant than all of them, so the eligible leading matches, in order, are
    the first rows of the order of every match: a page read from them is the same. When too
    few of them are eligible, the caller asks again without this bound.
    """
    last = (
        select(scores.c.relevance)
        .order_by(scores.c.relevance.desc())
        .limit(1)
        .offset(bindparam("skip"))
        .scalar_subquery()
    )
    # Fewer matches than that: there is no last one, and every match leads.
    return scores.c.relevance >= func.coalesce(last, -1e308)


def matches(session: Session, terms: list[Term]) -> CTE:
    """Ids of the open listings matching any of ``terms``, as a table a query can join."""
    key, values = query(session, terms)
    if key is None:
        statement = fts_rows().columns(id=Integer).bindparams(some=values["some"])
        return statement.cte("hits").prefix_with("MATERIALIZED")
    return select(OPEN_LISTINGS.c.id).where(found(key, every=False)).params(values).cte("hits")
