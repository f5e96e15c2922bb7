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
header never silently drops a field. Each row's values are checked by the opportunity schema
(``handlers.listings.schema``: its limits and words, as /publish and /edit check them).

- `external_id` (required): your own id for the row, up to 100 characters. Re-importing a row
  with the same id updates that opportunity instead of adding another.
- `title` (required): up to 200 characters.
- `organisation` (required): the employer, up to 200 characters; created if it is new.
- `kind`: internship (the default), job shadowing, co-op placement, mentoring, site visit or
  event.
- `description`: free text, up to 10,000 characters.
- `location`: up to 300 characters.
- `remote`: yes or no (also true/false, 1/0); blank means no.
- `paid`: yes or no (also true/false, 1/0, not sure); blank means not stated.
- `start_date`, `end_date`: YYYY-MM-DD; the end may not be before the start.
- `deadline`: YYYY-MM-DD, the last day to apply; blank (or none) for no deadline.
- `spots`: how many places, 1 to 10000.
- `tags`: fields separated by `;` or `,`: technology, engineering, science, health, business,
  creative, trades, education, hospitality, public (or their labels, such as "Health & care").
  Blank means tags are derived from the title and description.
- `url`: where to apply, up to 1000 characters; must start with http:// or https://.
- `min_age`: minimum age, 10 to 25.
- `min_grade`, `max_grade`: school grade or year, 1 to 13.
- `status`: open (the default), closed, draft or pending.

Row numbers in the report are those a spreadsheet shows (the header is row 1; for JSON, the
listing's position in the array). A row with problems is reported with all of them (the
schema's sentences) and skipped; the other rows are imported. Empty rows are ignored. If an id
appears in more than one row, the last of them is imported and the earlier ones are reported as
skipped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.i18n import _, _n
from handlers.listings.schema import (
    FIELDS,
    MAX_LOCATION,
    MAX_TITLE,
    FieldProblems,
    check,
    clip,
    has_control,
    is_web_address,
    kind_of,
    squash,
)
from storage.db import transaction
from storage.models import (
    Opportunity,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
)
from storage.tags import derive_tags

# Constant sources, so that a re-import finds what the previous one created.
LISTINGS_SOURCE = "listings"
CSV_SOURCE = "csv"
# One transaction per batch: the bot keeps serving (SQLite has one writer) during a long import.
BATCH_SIZE = 250
# How often a long import says how far it got.
PROGRESS_EVERY = 10_000

REQUIRED_CSV_COLUMNS = ("external_id", "title", "organisation")

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
        lines = [
            _n(
                "{n} opportunity: {created} created, {updated} updated, {unchanged} unchanged",
                "{n} opportunities: {created} created, {updated} updated, {unchanged} unchanged",
                total,
                created=self.created,
                updated=self.updated,
                unchanged=self.unchanged,
            )
            + "; "
            + _n("{n} row skipped", "{n} rows skipped", len(self.skipped))
        ]
        shown = self.skipped if limit is None else self.skipped[:limit]
        lines += [
            _("row {number}: {reason}", number=number, reason=reason) for number, reason in shown
        ]
        if len(shown) < len(self.skipped):
            lines.append(
                _n(
                    "…and {n} more skipped row.",
                    "…and {n} more skipped rows.",
                    len(self.skipped) - len(shown),
                )
            )
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
    """A problem with one row, worded for the person who wrote the file."""


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
        raise ValueError(
            _("cannot read {path}: {error}", path=str(path), error=error.strerror or error)
        ) from error
    parsed = read_listings(path.name, data, now.date())
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
_Convert = Callable[[int, Any, "date | None"], "Row | None"]


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


def read_listings(filename: str, data: bytes, today: date | None = None) -> ParsedFile:
    """The rows of the file ``filename`` holding ``data``; ValueError if it can't be imported.

    ``today`` dates the examples in the problems reported.
    """
    form, records, convert = _split(filename, data)
    report = ImportReport()
    rows = []
    for number, record in enumerate(records, start=form.first_number):
        try:
            row = convert(number, record, today)
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
        raise ValueError(_("cannot import {filename}: use a .csv or .json file", filename=filename))
    form = formats[suffix]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            _(
                "{filename} is not UTF-8 text (byte {byte}); save it as UTF-8",
                filename=filename,
                byte=error.start,
            )
        ) from error
    if "\x00" in text:
        # UTF-16 without a byte-order mark decodes as UTF-8 full of NULs, which PostgreSQL refuses.
        raise ValueError(
            _("{filename} contains NUL bytes; save it as UTF-8 text", filename=filename)
        )
    try:
        records, convert = form.split(text)
    except ValueError as error:
        raise ValueError(_("{filename}: {error}", filename=filename, error=error)) from error
    return form, records, convert


def _last_wins(rows: list[Row], id_name: str, report: ImportReport) -> list[Row]:
    latest: dict[str, Row] = {}
    for row in rows:
        earlier = latest.pop(row.external_id, None)
        if earlier is not None:
            report.skipped.append(
                (
                    earlier.number,
                    _(
                        "{column} {id} is repeated in row {number}, which was imported instead",
                        column=id_name,
                        id=repr(row.external_id),
                        number=row.number,
                    ),
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
        values["owner_school_id"] = owner.school_id
        opportunity = existing.get(row.external_id)
        if opportunity is None:
            opportunity = Opportunity(
                source=source,
                external_id=row.external_id,
                tags=[OpportunityTag(tag=tag) for tag in row.tags],
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
            report.skipped.append((row.number, _not_ours(row)))
        elif update_opportunity(opportunity, values, row.tags):
            opportunity.updated_at = now
            _publish(opportunity, now)
            report.updated += 1
        else:
            report.unchanged += 1
    return end


def _not_ours(row: Row) -> str:
    return _("{id} is another school's listing, left unchanged", id=repr(row.external_id))


def _organisation_ids(session: Session, names: set[str], now: datetime) -> dict[str, int]:
    """Ids of the organisations called ``names``, creating the missing ones (two queries)."""
    found = select(Organisation.name, Organisation.id).where(Organisation.name.in_(names))
    ids = {name: id_ for name, id_ in session.execute(found)}
    new = [Organisation(name=name, created_at=now) for name in sorted(names - ids.keys())]
    session.add_all(new)
    session.flush()
    ids.update((organisation.name, organisation.id) for organisation in new)
    return ids


def update_opportunity(
    opportunity: Opportunity, values: Mapping[str, object], tags: list[str]
) -> bool:
    """Bring ``opportunity`` in line with a file's row or a board's posting; whether anything
    changed."""
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
        raise ValueError(_("it is nested too deeply to be a listings file (an array of objects)"))
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            _(
                "not valid JSON (line {line}, column {column}: {error})",
                line=error.lineno,
                column=error.colno,
                error=error.msg,
            )
        ) from error
    if not isinstance(records, list):
        raise ValueError(_("expected a JSON array of listings"))
    return records, _listing


# Long because it checks each field of one record in the order the schema lists them.
def _listing(number: int, record: object, today: date | None) -> Row:
    if not isinstance(record, dict):
        raise _Bad(_("is not a JSON object: {record}", record=clip(json.dumps(record), 60)))
    problems: dict[str, str] = {}
    places: list[str] = []
    about = []
    for key in ("locations", "terms"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems[key] = _("The {key} must be a list of texts.", key=key)
        elif key == "locations":
            places = [place.strip() for place in value if place.strip()]
        elif value:
            about.append(f"Terms: {', '.join(value)}.")
    sponsorship = record.get("sponsorship")
    if isinstance(sponsorship, str) and sponsorship.strip():
        about.append(f"Sponsorship: {sponsorship.strip()}.")
    title, url = record.get("title"), record.get("url")
    if isinstance(title, str) and len(squash(title)) > MAX_TITLE:
        title = clip(squash(title), MAX_TITLE)
    raw = {
        "external_id": record.get("id"),
        "title": title,
        "organisation": record.get("company_name"),
        "description": " ".join(about),
        "location": _places(places),
        # A listing without a usable address is still worth showing; one with control
        # characters in it is not what its source meant.
        "url": url
        if isinstance(url, str) and (is_web_address(url.strip()) or has_control(url))
        else None,
    }
    try:
        fields = check(raw, today=today, required=("external_id", "title", "organisation"))
    except FieldProblems as refused:
        problems = {**refused.problems, **problems}
    try:
        posted = _posted(record.get("date_posted"))
    except _Bad as refused:
        problems["date_posted"] = str(refused)
    if problems:
        raise _Bad(" ".join(problems.values()))
    is_open = record.get("active") is True and record.get("is_visible", True) is True
    values: dict[str, Any] = {
        "kind": kind_of(str(fields.title)),
        "title": fields.title,
        "description": fields.description,
        "location": fields.location,
        "remote": any("remote" in place.lower() for place in places),
        "paid": None,
        "start_date": None,
        "end_date": None,
        "deadline": None,
        "spots": None,
        "status": OpportunityStatus.OPEN if is_open else OpportunityStatus.CLOSED,
        "url": fields.url,
        "min_age": None,
        "min_grade": None,
        "max_grade": None,
    }
    # Without a posting time, _publish stamps the first import's, and re-imports must keep it.
    if posted is not None:
        values["published_at"] = posted
    return Row(
        number=number,
        external_id=str(fields.external_id),
        organisation=str(fields.organisation),
        values=values,
        tags=derive_tags(str(fields.title)),
    )


def _posted(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(_("The date_posted {value} is not a Unix time.", value=clip(repr(value), 40)))
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _Bad(_("The date_posted {value} is out of range.", value=repr(value))) from error


def _places(locations: list[str]) -> str:
    """The locations joined, dropping whole places (not letters) from the end to fit."""
    shown = list(locations)
    text = "; ".join(shown)
    while len(text) > MAX_LOCATION and len(shown) > 1:
        shown.pop()
        text = "; ".join(shown) + f"; and {len(locations) - len(shown)} more"
    return clip(text, MAX_LOCATION)


# CSV


CSV_COLUMNS = FIELDS


def _csv_split(text: str) -> tuple[list[Any], _Convert]:
    header_line = text.split("\n", 1)[0]
    # Spreadsheets in many locales save "CSV" with semicolons; the header tells which.
    delimiter = max(",;\t", key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ValueError(_("the file is empty: the first row must name the columns"))
        columns = _columns(header)
        # Records, not lines, so that numbers stay right when a quoted value spans lines.
        records = list(reader)
    except csv.Error as error:
        raise ValueError(
            _("not readable as CSV (line {line}: {error})", line=reader.line_num, error=error)
        ) from error

    def convert(number: int, cells: list[str], today: date | None) -> Row | None:
        if not any(cell.strip() for cell in cells):
            return None
        return _csv_row(number, columns, cells, today)

    return records, convert


def _columns(header: list[str]) -> list[str]:
    """The known column name of each header cell; blank for the unnamed ones a spreadsheet adds."""
    columns = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in header]
    unknown = [name for name in columns if name and name not in CSV_COLUMNS]
    if unknown:
        raise ValueError(
            _(
                "unknown column {unknown} (the columns are: {columns})",
                unknown=", ".join(map(repr, unknown)),
                columns=", ".join(CSV_COLUMNS),
            )
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise ValueError(
            _("column {columns} appears more than once", columns=", ".join(map(repr, repeated)))
        )
    missing = [name for name in REQUIRED_CSV_COLUMNS if name not in columns]
    if missing:
        raise ValueError(
            _("missing required column {columns}", columns=", ".join(map(repr, missing)))
        )
    return columns


def _csv_row(number: int, columns: list[str], cells: list[str], today: date | None) -> Row:
    if len(cells) > len(columns):
        raise _Bad(
            _(
                "has {values} values but the header names {columns} columns (a value with a "
                "comma in it needs quotes)",
                values=len(cells),
                columns=len(columns),
            )
        )
    raw = {name: cell for name, cell in zip(columns, cells, strict=False) if name}
    try:
        fields = check(raw, today=today, required=REQUIRED_CSV_COLUMNS)
    except FieldProblems as refused:
        raise _Bad(str(refused)) from None
    values = fields.model_dump(exclude={"external_id", "organisation", "tags"})
    values.update(
        kind=fields.kind or kind_of(str(fields.title)),
        status=fields.status or OpportunityStatus.OPEN,
        description=fields.description or "",
        location=fields.location or "",
        remote=bool(fields.remote),
    )
    tags = fields.tags or derive_tags(str(fields.title), values["description"])
    return Row(number, str(fields.external_id), str(fields.organisation), values, tags)
