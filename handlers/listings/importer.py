"""Import opportunities from a file: `oppbot import FILE`.

The file's extension chooses the format.

**.json**: the listings format of `tests/data/internship-listings-sample.json`: an array of
objects with `id`, `company_name`, `title`, `locations`, `terms`, `sponsorship`, `active`,
`is_visible`, `url` and `date_posted`. Each becomes an internship, open if it is both `active`
and `is_visible`, with tags derived from its title.

**.csv**: UTF-8 (with or without a byte-order mark), a header row naming the columns, then one
opportunity per row. Commas separate values (semicolons or tabs work too if the header uses
them). Column names ignore case and may come in any order; only `external_id`, `title` and
`organisation` must be present. An unknown column name stops the import, so that a misspelt
header never silently drops a field.

- `external_id` (required): your own id for the row, up to 100 characters. Re-importing a row
  with the same id updates that opportunity instead of adding another.
- `title` (required): up to 200 characters.
- `organisation` (required): the employer, up to 200 characters; created if it is new.
- `kind`: internship (the default), job shadowing, co-op, mentoring, site visit or event.
- `description`: free text, up to 10,000 characters.
- `location`: up to 300 characters.
- `remote`: yes or no (also true/false, 1/0); blank means no.
- `paid`: yes or no (also true/false, 1/0); blank means not stated.
- `start_date`, `end_date`: YYYY-MM-DD; the end may not be before the start.
- `deadline`: YYYY-MM-DD, the last day to apply.
- `spots`: how many places, 1 to 10000.
- `tags`: fields separated by `;` or `,`: technology, engineering, science, health, business,
  creative, trades, education, hospitality, public (or their labels, such as "Health & care").
  Blank means tags are derived from the title and description.
- `url`: where to apply; must start with http:// or https://.
- `min_age`: minimum age, 10 to 25.
- `min_grade`, `max_grade`: school grade or year, 1 to 13.
- `status`: open (the default), closed, draft or pending.

Row numbers in the report are those a spreadsheet shows (the header is row 1; for JSON, the
listing's position in the array). A row with problems is reported with all of them and skipped;
the other rows are imported. Empty rows are ignored. If an id appears in more than one row, the
last of them is imported and the earlier ones are reported as skipped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from storage.db import transaction
from storage.models import (
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
)
from storage.tags import TAGS, UnknownTag, derive_tags, known_tags

# Constant sources, so that a re-import finds what the previous one created.
LISTINGS_SOURCE = "listings"
CSV_SOURCE = "csv"
# One transaction per batch: the bot keeps serving (SQLite has one writer) during a long import.
BATCH_SIZE = 250
# How often a long import says how far it got.
PROGRESS_EVERY = 10_000

MAX_EXTERNAL_ID = 100
MAX_TITLE = 200
MAX_ORGANISATION = 200
MAX_LOCATION = 300
MAX_URL = 1000
# Far more than a card shows (it is clipped to the platform's message), but bounded.
MAX_DESCRIPTION = 10_000
MAX_SPOTS = 10_000
AGES = (10, 25)
GRADES = (1, 13)

REQUIRED_CSV_COLUMNS = ("external_id", "title", "organisation")

_K = OpportunityKind
# Keyed by _squash(word), so case, spaces, hyphens and underscores never matter.
_KINDS: dict[str, OpportunityKind] = {
    "internship": _K.INTERNSHIP,
    "intern": _K.INTERNSHIP,
    "jobshadowing": _K.JOB_SHADOWING,
    "shadowing": _K.JOB_SHADOWING,
    "coop": _K.COOP,
    "coopplacement": _K.COOP,
    "mentoring": _K.MENTORING,
    "mentorship": _K.MENTORING,
    "sitevisit": _K.SITE_VISIT,
    "event": _K.EVENT,
}
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Unicode's control characters (category Cc) but tab and line breaks, and lone surrogates (Cs).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A listing is three levels deep (the array, a listing, its locations); a deeper file is not
# listings, and Python's parser would run out of stack on a hostile one (100,000 levels).
MAX_JSON_DEPTH = 20
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self, limit: int | None = None) -> str:
        """The counts, then each skipped row (the first ``limit`` of them, if given)."""
        total = self.created + self.updated + self.unchanged
        rows = "row" if len(self.skipped) == 1 else "rows"
        lines = [
            f"{total} {'opportunity' if total == 1 else 'opportunities'}: "
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged; "
            f"{len(self.skipped)} {rows} skipped"
        ]
        shown = self.skipped if limit is None else self.skipped[:limit]
        lines += [f"row {number}: {reason}" for number, reason in shown]
        if len(shown) < len(self.skipped):
            lines.append(f"…and {len(self.skipped) - len(shown)} more skipped rows.")
        return "\n".join(lines)


@dataclass
class Row:
    """One valid opportunity from the file, ready to store."""

    number: int
    external_id: str
    organisation: str
    # Opportunity attributes the file determines; a re-import compares exactly these.
    values: dict[str, Any]
    tags: list[str]


class _Bad(Exception):
    """A problem with one row or one value, worded for the person who wrote the file."""


@dataclass(frozen=True)
class Owner:
    """The school an import is for: it owns what the import creates, and only what it owns
    (or, with ``claim``, what no school owns yet) is updated; other rows are skipped."""

    school_id: int | None = None
    claim: bool = False


@dataclass
class ParsedFile:
    """A file read and checked: its valid rows (one per id, in file order) and what was skipped.

    A batch is a stretch of the file's records (``store_rows``), named by where it starts:
    reading the same bytes again gives the same rows, so a batch can be stored later.
    """

    filename: str
    source: str
    # The number of the file's first record in the report (a CSV header is row 1).
    first_number: int
    records: int
    rows: list[Row]
    report: ImportReport
    # Each row's place among the records (1 for the first record), ascending.
    positions: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.positions = [row.number - self.first_number + 1 for row in self.rows]


def import_file(
    session_factory: sessionmaker[Session],
    path: Path,
    *,
    now: datetime,
    owner: Owner = Owner(),
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Create or update the opportunities in ``path`` (.json or .csv) and report what happened.

    Each batch of records is its own transaction; ``progress(done, records)`` is called every
    ``PROGRESS_EVERY`` records (before the last batch). Raises ValueError, with a one-line
    message, if the file cannot be imported at all.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from error
    parsed = read_listings(path.name, data)
    done = 0
    while done < parsed.records:
        with transaction(session_factory) as session:
            end = store_rows(session, parsed, done, now, parsed.report, owner)
        if progress is not None and end < parsed.records and progress_due(done, end):
            progress(end, parsed.records)
        done = end
    parsed.report.skipped.sort()
    return parsed.report


def progress_due(before: int, after: int) -> bool:
    """Whether going from ``before`` records done to ``after`` passes a multiple of
    PROGRESS_EVERY."""
    return after // PROGRESS_EVERY > before // PROGRESS_EVERY


# A record of the file (a listing, or a CSV row's cells) and its row number, to a row to
# store, None for nothing (a blank CSV row), or _Bad.
_Convert = Callable[[int, Any], "Row | None"]


@dataclass(frozen=True)
class _Format:
    source: str
    id_name: str
    first_number: int
    # The file's records and how to convert each; ValueError if the whole file is unreadable.
    split: Callable[[str], tuple[list[Any], _Convert]]


def count_records(filename: str, data: bytes) -> int:
    """How many records (listings, or CSV rows) the file has; ValueError if it can't be
    imported. Quick: the whole file is checked, but not each record."""
    return len(_split(filename, data)[1])


def read_listings(filename: str, data: bytes) -> ParsedFile:
    """The rows of the file ``filename`` holding ``data``; ValueError if it can't be imported."""
    form, records, convert = _split(filename, data)
    report = ImportReport()
    rows = []
    for number, record in enumerate(records, start=form.first_number):
        try:
            row = convert(number, record)
        except _Bad as problem:
            report.skipped.append((number, str(problem)))
            continue
        if row is not None:
            rows.append(row)
    return ParsedFile(
        filename,
        form.source,
        form.first_number,
        len(records),
        _last_wins(rows, form.id_name, report),
        report,
    )


def _split(filename: str, data: bytes) -> tuple[_Format, list[Any], _Convert]:
    formats = {
        ".json": _Format(LISTINGS_SOURCE, "id", 1, _json_split),
        ".csv": _Format(CSV_SOURCE, "external_id", 2, _csv_split),
    }
    suffix = Path(filename).suffix.lower()
    if suffix not in formats:
        raise ValueError(f"cannot import {filename}: use a .csv or .json file")
    form = formats[suffix]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{filename} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from error
    if "\x00" in text:
        # UTF-16 without a byte-order mark decodes as UTF-8 full of NULs, which PostgreSQL refuses.
        raise ValueError(f"{filename} contains NUL bytes; save it as UTF-8 text")
    try:
        records, convert = form.split(text)
    except ValueError as error:
        raise ValueError(f"{filename}: {error}") from error
    return form, records, convert


def _last_wins(rows: list[Row], id_name: str, report: ImportReport) -> list[Row]:
    latest: dict[str, Row] = {}
    for row in rows:
        earlier = latest.pop(row.external_id, None)
        if earlier is not None:
            report.skipped.append(
                (
                    earlier.number,
                    f"{id_name} {row.external_id!r} is repeated in row {row.number}, "
                    "which was imported instead",
                )
            )
        latest[row.external_id] = row
    return list(latest.values())


def store_rows(
    session: Session,
    parsed: ParsedFile,
    start: int,
    now: datetime,
    report: ImportReport,
    owner: Owner,
) -> int:
    """Store the valid rows among the ``BATCH_SIZE`` records after the first ``start``,
    counting into ``report``; returns how many records are done then.

    What it creates is ``owner``'s; a row whose listing ``owner`` may not change is skipped
    (see ``Owner``).
    """
    end = min(start + BATCH_SIZE, parsed.records)
    source = parsed.source
    rows = parsed.rows[bisect_right(parsed.positions, start) : bisect_right(parsed.positions, end)]
    if not rows:
        return end
    organisation_ids = _organisation_ids(session, {row.organisation for row in rows}, now)
    existing = {
        opportunity.external_id: opportunity
        for opportunity in session.scalars(
            select(Opportunity)
            .where(
                Opportunity.source == source,
                Opportunity.external_id.in_([row.external_id for row in rows]),
            )
            .options(selectinload(Opportunity.tags))
        )
    }
    for row in rows:
        values = {**row.values, "organisation_id": organisation_ids[row.organisation]}
        opportunity = existing.get(row.external_id)
        if opportunity is None:
            opportunity = Opportunity(
                source=source,
                external_id=row.external_id,
                tags=[OpportunityTag(tag=tag) for tag in row.tags],
                owner_school_id=owner.school_id,
                created_at=now,
                updated_at=now,
                **values,
            )
            _publish(opportunity, now)
            session.add(opportunity)
            report.created += 1
        elif opportunity.owner_school_id != owner.school_id and not (
            owner.claim and opportunity.owner_school_id is None
        ):
            report.skipped.append(
                (row.number, f"{row.external_id!r} is another school's listing, left unchanged")
            )
        elif _update(opportunity, {**values, "owner_school_id": owner.school_id}, row.tags):
            opportunity.updated_at = now
            _publish(opportunity, now)
            report.updated += 1
        else:
            report.unchanged += 1
    return end


def _organisation_ids(session: Session, names: set[str], now: datetime) -> dict[str, int]:
    """Ids of the organisations called ``names``, creating the missing ones (two queries)."""
    found = select(Organisation.name, Organisation.id).where(Organisation.name.in_(names))
    ids = {name: id_ for name, id_ in session.execute(found)}
    new = [Organisation(name=name, created_at=now) for name in sorted(names - ids.keys())]
    session.add_all(new)
    session.flush()
    ids.update((organisation.name, organisation.id) for organisation in new)
    return ids


def _update(opportunity: Opportunity, values: dict[str, Any], tags: list[str]) -> bool:
    """Bring ``opportunity`` in line with the file; whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(opportunity, name) != value:
            setattr(opportunity, name, value)
            changed = True
    current = set(opportunity.tag_names)
    if current != set(tags):
        # Kept tags stay the same objects: deleting and re-inserting one key in a flush collides.
        opportunity.tags = [t for t in opportunity.tags if t.tag in tags] + [
            OpportunityTag(tag=tag) for tag in tags if tag not in current
        ]
        changed = True
    return changed


def _publish(opportunity: Opportunity, now: datetime) -> None:
    # A CSV row carries no publication time: it is published when it first opens.
    if opportunity.status == OpportunityStatus.OPEN and opportunity.published_at is None:
        opportunity.published_at = now


def _clean(text: str) -> str:
    """``text`` with runs of whitespace made one space, as organisation names are stored."""
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _unprintable(value: object) -> bool:
    """Whether ``value`` (text, or a list of texts) has control characters or lone surrogates:
    never meant, shown to students as garbage, and PostgreSQL cannot store NUL or a surrogate
    at all (a JSON file can spell both as escapes, ``\\u0000``)."""
    texts = value if isinstance(value, list) else [value]
    return any(isinstance(text, str) and _CONTROL.search(text) for text in texts)


def _unprintable_problem(names: list[str]) -> str:
    return f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} control characters in it"


# JSON listings


def _too_deep(text: str) -> bool:
    """Whether the arrays and objects of JSON ``text`` nest deeper than ``MAX_JSON_DEPTH``."""
    depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _json_split(text: str) -> tuple[list[Any], _Convert]:
    if _too_deep(text):
        raise ValueError("it is nested too deeply to be a listings file (an array of objects)")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    if not isinstance(records, list):
        raise ValueError("expected a JSON array of listings")
    return records, _listing


# The keys of a listing that are read (others are ignored, whatever they hold).
_JSON_READ = ("id", "company_name", "title", "locations", "terms", "sponsorship", "url")


def _listing(number: int, record: object) -> Row:
    if not isinstance(record, dict):
        raise _Bad(f"is not a JSON object: {_clip(json.dumps(record), 60)}")
    unprintable = [key for key in _JSON_READ if _unprintable(record.get(key))]
    if unprintable:
        raise _Bad(_unprintable_problem(unprintable))
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise _Bad("has no id")
    external_id = str(raw_id).strip()
    if len(external_id) > MAX_EXTERNAL_ID:
        raise _Bad(f"id is longer than {MAX_EXTERNAL_ID} characters")
    title = _clean(_json_text(record, "title"))
    organisation = _clean(_json_text(record, "company_name"))
    if len(organisation) > MAX_ORGANISATION:
        raise _Bad(f"company_name is longer than {MAX_ORGANISATION} characters")
    locations = [_clean(place) for place in _json_texts(record, "locations") if place.strip()]
    terms = _json_texts(record, "terms")
    sponsorship = record.get("sponsorship")
    about = []
    if terms:
        about.append(f"Terms: {', '.join(terms)}.")
    if isinstance(sponsorship, str) and sponsorship.strip():
        about.append(f"Sponsorship: {sponsorship.strip()}.")
    url = record.get("url")
    is_open = record.get("active") is True and record.get("is_visible", True) is True
    values = {
        "kind": OpportunityKind.INTERNSHIP,
        "title": _clip(title, MAX_TITLE),
        "description": " ".join(about),
        "location": _places(locations),
        "remote": any("remote" in place.lower() for place in locations),
        "paid": None,
        "start_date": None,
        "end_date": None,
        "deadline": None,
        "spots": None,
        "status": OpportunityStatus.OPEN if is_open else OpportunityStatus.CLOSED,
        "url": url.strip() if isinstance(url, str) and _is_url(url.strip()) else None,
        "min_age": None,
        "min_grade": None,
        "max_grade": None,
    }
    posted = _posted(record.get("date_posted"))
    # Without a posting time, _publish stamps the first import's, and re-imports must keep it.
    if posted is not None:
        values["published_at"] = posted
    return Row(
        number=number,
        external_id=external_id,
        organisation=organisation,
        values=values,
        tags=derive_tags(title),
    )


def _json_text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Bad(f"has no {key}")
    if not isinstance(value, str):
        raise _Bad(f"{key} is not text")
    return value


def _json_texts(record: dict[str, Any], key: str) -> list[str]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"{key} is not a list of strings")
    return value


def _posted(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"date_posted {value!r} is not a Unix time")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _Bad(f"date_posted {value!r} is out of range") from error


def _places(locations: list[str]) -> str:
    """The locations joined, dropping whole places (not letters) from the end to fit."""
    shown = list(locations)
    text = "; ".join(shown)
    while len(text) > MAX_LOCATION and len(shown) > 1:
        shown.pop()
        text = "; ".join(shown) + f"; and {len(locations) - len(shown)} more"
    return _clip(text, MAX_LOCATION)


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://")) and len(text) <= MAX_URL


# CSV


def _required(limit: int) -> Callable[[str, str], str]:
    def convert(name: str, value: str) -> str:
        if not value:
            raise _Bad(f"{name} is missing")
        return _optional(limit)(name, value)

    return convert


def _optional(limit: int) -> Callable[[str, str], str]:
    def convert(name: str, value: str) -> str:
        if len(value) > limit:
            raise _Bad(f"{name} is {len(value)} characters long; the limit is {limit}")
        return value

    return convert


def _whole(low: int, high: int) -> Callable[[str, str], int | None]:
    def convert(name: str, value: str) -> int | None:
        if not value:
            return None
        if not value.isascii() or not value.isdigit():
            raise _Bad(f"{name} {value!r} is not a whole number")
        number = int(value)
        if not low <= number <= high:
            raise _Bad(f"{name} {number} is not between {low} and {high}")
        return number

    return convert


def _date(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _Bad(f"{name} {value!r} is not a date (use YYYY-MM-DD)")


def _flag(name: str, value: str) -> bool | None:
    if not value:
        return None
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise _Bad(f"{name} {value!r} is not yes or no")


def _kind(name: str, value: str) -> OpportunityKind:
    if not value:
        return OpportunityKind.INTERNSHIP
    kind = _KINDS.get(_squash(value))
    if kind is None:
        raise _Bad(
            f"{name} {value!r} is not one of: internship, job shadowing, co-op, mentoring, "
            "site visit, event"
        )
    return kind


def _status(name: str, value: str) -> OpportunityStatus:
    if not value:
        return OpportunityStatus.OPEN
    try:
        return OpportunityStatus(value.lower())
    except ValueError:
        raise _Bad(f"{name} {value!r} is not one of: open, closed, draft, pending") from None


def _tags(name: str, value: str) -> list[str]:
    try:
        return known_tags(re.split(r"[;,]", value))
    except UnknownTag as unknown:
        raise _Bad(f"tag {unknown.part!r} is not known (use: {', '.join(TAGS)})") from None


def _url(name: str, value: str) -> str | None:
    if not value:
        return None
    if len(value) > MAX_URL:
        raise _Bad(f"{name} is {len(value)} characters long; the limit is {MAX_URL}")
    if not _is_url(value):
        raise _Bad(f"{name} {value!r} must start with http:// or https://")
    return value


# Every CSV column and how its text becomes a value, in the order problems are reported.
_CONVERTERS: dict[str, Callable[[str, str], Any]] = {
    "external_id": _required(MAX_EXTERNAL_ID),
    "title": _required(MAX_TITLE),
    "organisation": _required(MAX_ORGANISATION),
    "kind": _kind,
    "description": _optional(MAX_DESCRIPTION),
    "location": _optional(MAX_LOCATION),
    "remote": _flag,
    "paid": _flag,
    "start_date": _date,
    "end_date": _date,
    "deadline": _date,
    "spots": _whole(1, MAX_SPOTS),
    "tags": _tags,
    "url": _url,
    "min_age": _whole(*AGES),
    "min_grade": _whole(*GRADES),
    "max_grade": _whole(*GRADES),
    "status": _status,
}
CSV_COLUMNS = tuple(_CONVERTERS)


def _csv_split(text: str) -> tuple[list[Any], _Convert]:
    header_line = text.split("\n", 1)[0]
    # Spreadsheets in many locales save "CSV" with semicolons; the header tells which.
    delimiter = max(",;\t", key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ValueError("the file is empty: the first row must name the columns")
        columns = _columns(header)
        # Records, not lines, so that numbers stay right when a quoted value spans lines.
        records = list(reader)
    except csv.Error as error:
        raise ValueError(f"not readable as CSV (line {reader.line_num}: {error})") from error

    def convert(number: int, cells: list[str]) -> Row | None:
        if not any(cell.strip() for cell in cells):
            return None
        return _csv_row(number, columns, cells)

    return records, convert


def _columns(header: list[str]) -> list[str]:
    """The known column name of each header cell; blank for the unnamed ones a spreadsheet adds."""
    columns = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in header]
    unknown = [name for name in columns if name and name not in _CONVERTERS]
    if unknown:
        raise ValueError(
            f"unknown column {', '.join(map(repr, unknown))} "
            f"(the columns are: {', '.join(CSV_COLUMNS)})"
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise ValueError(f"column {', '.join(map(repr, repeated))} appears more than once")
    missing = [name for name in REQUIRED_CSV_COLUMNS if name not in columns]
    if missing:
        raise ValueError(f"missing required column {', '.join(map(repr, missing))}")
    return columns


def _csv_row(number: int, columns: list[str], cells: list[str]) -> Row:
    if len(cells) > len(columns):
        raise _Bad(
            f"has {len(cells)} values but the header names {len(columns)} columns "
            "(a value with a comma in it needs quotes)"
        )
    unprintable = [
        name for name, cell in zip(columns, cells, strict=False) if name and _unprintable(cell)
    ]
    if unprintable:
        raise _Bad(_unprintable_problem(unprintable))
    # Stray spaces and line breaks are spreadsheet noise everywhere but in the description.
    raw = {
        name: cell.strip() if name == "description" else _clean(cell)
        for name, cell in zip(columns, cells, strict=False)
        if name
    }
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, convert in _CONVERTERS.items():
        try:
            values[name] = convert(name, raw.get(name, ""))
        except _Bad as problem:
            problems.append(str(problem))
    start, end = values.get("start_date"), values.get("end_date")
    if start is not None and end is not None and end < start:
        problems.append(f"end_date {end} is before start_date {start}")
    low, high = values.get("min_grade"), values.get("max_grade")
    if low is not None and high is not None and high < low:
        problems.append(f"max_grade {high} is below min_grade {low}")
    if problems:
        raise _Bad("; ".join(problems))
    external_id, organisation = values.pop("external_id"), values.pop("organisation")
    tags = values.pop("tags") or derive_tags(values["title"], values["description"])
    values["remote"] = bool(values["remote"])
    return Row(number, external_id, organisation, values, tags)
