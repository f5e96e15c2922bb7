"""The job boards' public JSON, fetched and read into ``Posting`` values.

Each provider's documented public endpoint, read as documented: fields we do not use are
ignored, a missing optional field leaves its value empty, and one unreadable posting is
skipped (and counted) without spoiling the rest. An answer that is not the documented shape
at all raises ``FetchError``, so that a bad payload changes nothing.

- Greenhouse job board: ``GET {base}/v1/boards/{board}/jobs?content=true``: ``jobs[]`` with
  ``id``, ``title``, ``location.name``, ``absolute_url``, ``updated_at``, ``content``
  (entity-escaped HTML), ``departments``, ``offices``; ``meta.total``.
- Lever postings: ``GET {base}/v0/postings/{site}?mode=json&skip=&limit=``: an array of
  postings with ``id``, ``text``, ``categories`` (``location``, ``team``, ``commitment``,
  ``allLocations``), ``hostedUrl``, ``applyUrl``, ``workplaceType``, ``createdAt`` (ms),
  ``descriptionPlain`` or ``description``; pages until one is shorter than ``limit``.
- Ashby posting API: ``GET {base}/posting-api/job-board/{board}?includeCompensation=true``:
  ``jobs[]`` with ``id``, ``title``, ``location``, ``isListed``, ``isRemote``,
  ``workplaceType``, ``publishedAt``, ``jobUrl``, ``applyUrl``, ``descriptionPlain`` or
  ``descriptionHtml``, ``department``, ``team``, ``employmentType``.
- SmartRecruiters: ``GET {base}/v1/companies/{company}/postings?offset=&limit=``:
  ``content[]``, ``offset``, ``limit``, ``totalFound``; each with ``id``, ``name``,
  ``location`` (``city``, ``region``, ``country``, ``remote``), ``releasedDate``,
  ``typeOfEmployment``, ``department``; the page is ``jobs.smartrecruiters.com/{company}/{id}``.
- listings: any URL serving the JSON listings format that ``oppbot import`` reads, read by
  the importer's own code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bot.i18n import N_
from handlers.listings.importer import read_listings
from handlers.listings.schema import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_TITLE,
    FieldProblems,
    check,
    clip,
    is_web_address,
)
from handlers.listings.sync.problems import Problem
from handlers.listings.sync.text import html_to_text, plain
from storage.models import OpportunityStatus

log = logging.getLogger(__name__)

PROVIDERS = {
    "greenhouse": "Greenhouse",
    "lever": "Lever",
    "ashby": "Ashby",
    "smartrecruiters": "SmartRecruiters",
    "listings": "listings file",
}
PAGE_SIZE = 100
# A board is a company's openings: a thousand pages of them is a provider gone wrong.
MAX_PAGES = 50
# One answer larger than this is not a job board (the shared listings file of 6,000 is under 4 MB).
MAX_BYTES = 20 * 1024 * 1024
SMARTRECRUITERS_JOBS = "https://jobs.smartrecruiters.com"


class FetchError(Exception):
    """The board could not be read; ``problem`` says why, for the teachers of the source (the
    message, in English, for logs and the command line)."""

    def __init__(self, text: str, **values: str | int) -> None:
        self.problem = Problem.of(text, **values)
        super().__init__(str(self.problem))


@dataclass(frozen=True)
class Posting:
    """One opening on a board, in our terms."""

    external_id: str
    title: str
    description: str = ""
    location: str = ""
    remote: bool = False
    url: str | None = None
    # The employer of this posting when the board lists several (a listings URL).
    organisation: str | None = None
    # The fields it belongs to, when the board says (listings); otherwise derived.
    tags: tuple[str, ...] | None = None


@dataclass
class Fetched:
    postings: list[Posting] = field(default_factory=list)
    # Why each unreadable posting was left out.
    skipped: list[Problem] = field(default_factory=list)
    # The board is unchanged since the validators we sent (HTTP 304): nothing to do.
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Endpoints:
    greenhouse: str = "https://boards-api.greenhouse.io"
    lever: str = "https://api.lever.co"
    ashby: str = "https://api.ashbyhq.com"
    smartrecruiters: str = "https://api.smartrecruiters.com"


class _Skip(Exception):
    """One posting is unreadable: it is left out and counted, the rest go on."""


@dataclass
class Fetcher:
    """Reads boards over HTTP: a timeout on every request, a bounded number of retries with
    exponential backoff on network errors, 429 and 5xx, and conditional requests."""

    endpoints: Endpoints = field(default_factory=Endpoints)
    timeout: float = 20.0
    attempts: int = 3
    backoff: float = 2.0
    # Injected so that tests never wait.
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None

    def fetch(
        self,
        provider: str,
        board: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        with httpx.Client(
            timeout=self.timeout,
            transport=self.transport,
            follow_redirects=True,
            headers={"User-Agent": "oppbot (school opportunities)", "Accept": "application/json"},
        ) as client:
            http = _Http(client, self)
            if provider == "greenhouse":
                return _greenhouse(http, self.endpoints.greenhouse, board, etag, last_modified)
            if provider == "lever":
                return _lever(http, self.endpoints.lever, board)
            if provider == "ashby":
                return _ashby(http, self.endpoints.ashby, board, etag, last_modified)
            if provider == "smartrecruiters":
                return _smartrecruiters(http, self.endpoints.smartrecruiters, board)
            if provider == "listings":
                return _listings(http, board, etag, last_modified)
        raise FetchError(N_("{provider} is not a provider I know"), provider=provider)


@dataclass
class _Answer:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


class _Http:
    def __init__(self, client: httpx.Client, fetcher: Fetcher) -> None:
        self.client = client
        self.fetcher = fetcher

    def get(
        self,
        url: str,
        params: dict[str, str | int] | None = None,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> _Answer:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = max(1, self.fetcher.attempts)
        for attempt in range(attempts):
            wait = self.fetcher.backoff * 2**attempt
            try:
                response, body = self._get(url, params, headers)
            except httpx.TimeoutException:
                problem = Problem.of(N_("the board did not answer in time"))
            except httpx.HTTPError as error:
                problem = Problem.of(
                    N_("the board could not be reached ({error})"), error=type(error).__name__
                )
            else:
                if response.status_code == 304:
                    return _Answer(304, b"", etag, last_modified)
                if response.status_code < 300:
                    return _Answer(
                        response.status_code,
                        body,
                        response.headers.get("ETag"),
                        response.headers.get("Last-Modified"),
                    )
                if response.status_code == 404:
                    raise FetchError(N_("the board was not found (404): check its name"))
                if response.status_code != 429 and response.status_code < 500:
                    raise FetchError(
                        N_("the board refused the request ({status})"),
                        status=response.status_code,
                    )
                problem = Problem.of(
                    N_("the board answered with an error ({status})"),
                    status=response.status_code,
                )
                wait = max(wait, _retry_after(response.headers.get("Retry-After")))
            if attempt + 1 < attempts:
                self.fetcher.sleep(min(wait, 60.0))
        raise FetchError(problem.text, **dict(problem.values))

    def _get(
        self, url: str, params: dict[str, str | int] | None, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes]:
        """The response and its body, read no further than ``MAX_BYTES``."""
        with self.client.stream("GET", url, params=params, headers=headers) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError(
                        N_("the board's answer is over {size} MB"), size=MAX_BYTES // 1024 // 1024
                    )
            return response, bytes(body)

    def json(self, url: str, params: dict[str, str | int] | None = None) -> Any:
        return _decode(self.get(url, params).body)


def _retry_after(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FetchError(N_("the board's answer was not JSON")) from None


def _path(value: str) -> str:
    """A board name as one path segment (never a way to another path of the host)."""
    return quote(value.strip(), safe="")


def _read_each(
    items: list[Any], read: Callable[[dict[str, Any]], Posting], *, before: int = 0
) -> Fetched:
    """The postings of ``items``, numbered on the whole board (``before`` on earlier pages)."""
    fetched = Fetched()
    for number, item in enumerate(items, start=before + 1):
        try:
            if not isinstance(item, dict):
                raise _Skip(N_("posting {number} is not an object"))
            fetched.postings.append(_checked(read(item)))
        except _Skip as skip:
            fetched.skipped.append(Problem.of(str(skip), number=number))
        except FieldProblems as refused:
            problem = N_("posting {number}: {problem}")
            fetched.skipped.append(Problem.of(problem, number=number, problem=str(refused)))
    return fetched


def _checked(posting: Posting) -> Posting:
    """``posting`` as the opportunity schema cleans it; FieldProblems if it refuses it."""
    fields = check(
        {
            "external_id": posting.external_id,
            "title": posting.title,
            "organisation": posting.organisation,
            "description": posting.description,
            "location": posting.location,
            "url": posting.url,
            "tags": list(posting.tags) if posting.tags is not None else None,
        },
        required=("external_id", "title"),
    )
    return Posting(
        external_id=str(fields.external_id),
        title=str(fields.title),
        description=fields.description or "",
        location=fields.location or "",
        remote=posting.remote,
        url=fields.url,
        organisation=fields.organisation,
        tags=posting.tags if posting.tags is None else tuple(fields.tags or ()),
    )


# Values, each tolerant of absence and of the wrong type.


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def _nested(item: dict[str, Any], *keys: str) -> str:
    value: Any = item
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def _id(item: dict[str, Any], key: str = "id") -> str:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise _Skip(N_("posting {number} has no id"))
    return str(value).strip()


def _title(item: dict[str, Any], key: str) -> str:
    title = " ".join(plain(_text(item, key)).split())
    if not title:
        raise _Skip(N_("posting {number} has no title"))
    return clip(title, MAX_TITLE)


def _url(*candidates: str) -> str | None:
    for candidate in candidates:
        url = candidate.strip()
        if is_web_address(url):
            return url
    return None


def _places(*names: str) -> str:
    seen: list[str] = []
    for name in names:
        clean = " ".join(plain(name).split())
        if clean and clean not in seen:
            seen.append(clean)
    return clip("; ".join(seen), MAX_LOCATION)


def _description(*parts: str) -> str:
    return clip("\n\n".join(part for part in parts if part), MAX_DESCRIPTION)


def _names(value: Any, key: str = "name") -> list[str]:
    """The names of a list of objects (Greenhouse's departments and offices)."""
    if not isinstance(value, list):
        return []
    return [
        item[key] for item in value if isinstance(item, dict) and isinstance(item.get(key), str)
    ]


# Greenhouse


def _jobs(
    http: _Http, url: str, params: dict[str, str | int], etag: str | None, last_modified: str | None
) -> tuple[_Answer, list[Any] | None]:
    """A board answering ``{"jobs": [...]}`` (Greenhouse, Ashby), asked conditionally: the
    answer and its jobs, or None for the jobs when the board is unchanged (304)."""
    answer = http.get(url, params, etag=etag, last_modified=last_modified)
    if answer.status == 304:
        return answer, None
    data = _decode(answer.body)
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list):
        raise FetchError(N_("the board's answer has no list of jobs"))
    return answer, jobs


def _greenhouse(
    http: _Http, base: str, board: str, etag: str | None, last_modified: str | None
) -> Fetched:
    answer, jobs = _jobs(
        http,
        f"{base.rstrip('/')}/v1/boards/{_path(board)}/jobs",
        {"content": "true"},
        etag,
        last_modified,
    )
    if jobs is None:
        return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
    fetched = _read_each(jobs, _greenhouse_job)
    fetched.etag, fetched.last_modified = answer.etag, answer.last_modified
    return fetched


def _greenhouse_job(job: dict[str, Any]) -> Posting:
    location = _nested(job, "location", "name")
    offices = _names(job.get("offices"))
    departments = _names(job.get("departments"))
    about = f"Team: {', '.join(departments)}." if departments else ""
    return Posting(
        external_id=_id(job),
        title=_title(job, "title"),
        description=_description(html_to_text(_text(job, "content"), escaped=True), about),
        location=_places(location, *([] if location else offices)),
        remote="remote" in location.lower(),
        url=_url(_text(job, "absolute_url")),
    )


# Lever


def _lever(http: _Http, base: str, site: str) -> Fetched:
    fetched = Fetched()
    url = f"{base.rstrip('/')}/v0/postings/{_path(site)}"
    for page in range(MAX_PAGES):
        data = http.json(url, {"mode": "json", "skip": page * PAGE_SIZE, "limit": PAGE_SIZE})
        if not isinstance(data, list):
            raise FetchError(N_("the board's answer is not a list of postings"))
        part = _read_each(data, _lever_posting, before=page * PAGE_SIZE)
        fetched.postings += part.postings
        fetched.skipped += part.skipped
        if len(data) < PAGE_SIZE:
            return fetched
    raise FetchError(N_("the board has more than {n} postings"), n=MAX_PAGES * PAGE_SIZE)


def _lever_posting(posting: dict[str, Any]) -> Posting:
    categories = posting.get("categories")
    categories = categories if isinstance(categories, dict) else {}
    locations = categories.get("allLocations")
    places = [p for p in locations if isinstance(p, str)] if isinstance(locations, list) else []
    location = categories.get("location")
    if isinstance(location, str):
        places.insert(0, location)
    workplace = _text(posting, "workplaceType").lower()
    description = plain(_text(posting, "descriptionPlain")) or html_to_text(
        _text(posting, "description")
    )
    facts = [
        f"{label}: {value}."
        for label, value in (
            ("Team", categories.get("team")),
            ("Hours", categories.get("commitment")),
        )
        if isinstance(value, str) and value.strip()
    ]
    return Posting(
        external_id=_id(posting),
        title=_title(posting, "text"),
        description=_description(description, " ".join(facts)),
        location=_places(*places),
        remote=workplace == "remote" or any("remote" in p.lower() for p in places),
        url=_url(_text(posting, "hostedUrl"), _text(posting, "applyUrl")),
    )


# Ashby


def _ashby(
    http: _Http, base: str, board: str, etag: str | None, last_modified: str | None
) -> Fetched:
    answer, jobs = _jobs(
        http,
        f"{base.rstrip('/')}/posting-api/job-board/{_path(board)}",
        {"includeCompensation": "true"},
        etag,
        last_modified,
    )
    if jobs is None:
        return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
    # An unlisted job is reachable by its link but not advertised: not for students.
    listed = [job for job in jobs if not (isinstance(job, dict) and job.get("isListed") is False)]
    fetched = _read_each(listed, _ashby_job)
    fetched.etag, fetched.last_modified = answer.etag, answer.last_modified
    return fetched


def _ashby_job(job: dict[str, Any]) -> Posting:
    description = plain(_text(job, "descriptionPlain")) or html_to_text(
        _text(job, "descriptionHtml")
    )
    facts = [
        f"{label}: {value}."
        for label, value in (("Team", job.get("team") or job.get("department")),)
        if isinstance(value, str) and value.strip()
    ]
    workplace = _text(job, "workplaceType").lower()
    return Posting(
        external_id=_id(job),
        title=_title(job, "title"),
        description=_description(description, " ".join(facts)),
        location=_places(_text(job, "location")),
        remote=job.get("isRemote") is True or workplace == "remote",
        url=_url(_text(job, "jobUrl"), _text(job, "applyUrl")),
    )


# SmartRecruiters


def _smartrecruiters(http: _Http, base: str, company: str) -> Fetched:
    fetched = Fetched()
    url = f"{base.rstrip('/')}/v1/companies/{_path(company)}/postings"
    offset = 0
    for _ in range(MAX_PAGES):
        data = http.json(url, {"offset": offset, "limit": PAGE_SIZE})
        content = data.get("content") if isinstance(data, dict) else None
        if not isinstance(content, list):
            raise FetchError(N_("the board's answer has no list of postings"))
        part = _read_each(
            content, lambda item: _smartrecruiters_posting(company, item), before=offset
        )
        fetched.postings += part.postings
        fetched.skipped += part.skipped
        offset += len(content)
        total = data.get("totalFound")
        if not content or (isinstance(total, int) and offset >= total):
            return fetched
    raise FetchError(N_("the board has more than {n} postings"), n=MAX_PAGES * PAGE_SIZE)


def _smartrecruiters_posting(company: str, posting: dict[str, Any]) -> Posting:
    external_id = _id(posting)
    location = posting.get("location")
    location = location if isinstance(location, dict) else {}
    place = ", ".join(
        value
        for value in (location.get("city"), location.get("region"), location.get("country"))
        if isinstance(value, str) and value.strip()
    )
    facts = [
        f"{label}: {value}."
        for label, value in (
            ("Team", _nested(posting, "department", "label")),
            ("Type", _nested(posting, "typeOfEmployment", "label")),
        )
        if value.strip()
    ]
    return Posting(
        external_id=external_id,
        title=_title(posting, "name"),
        description=_description(" ".join(facts)),
        location=_places(place),
        remote=location.get("remote") is True,
        url=f"{SMARTRECRUITERS_JOBS}/{_path(company)}/{_path(external_id)}",
    )


# A listings URL


def _listings(http: _Http, url: str, etag: str | None, last_modified: str | None) -> Fetched:
    answer = http.get(url, etag=etag, last_modified=last_modified)
    if answer.status == 304:
        return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
    try:
        parsed = read_listings("listings.json", answer.body)
    except ValueError as error:
        # The importer's own words: passed on as they are.
        problem = str(error).removeprefix("listings.json: ")
        unreadable = N_("the listings file can't be read: {problem}")
        raise FetchError(unreadable, problem=problem) from None
    fetched = Fetched(
        skipped=[
            Problem.of(N_("listing {number}: {problem}"), number=number, problem=reason)
            for number, reason in parsed.report.skipped
        ],
        etag=answer.etag,
        last_modified=answer.last_modified,
    )
    for row in parsed.rows:
        values = row.values
        # A listing marked inactive or invisible is one the board no longer offers.
        if values["status"] != OpportunityStatus.OPEN:
            continue
        fetched.postings.append(
            Posting(
                external_id=row.external_id,
                title=values["title"],
                description=values["description"],
                location=values["location"],
                remote=values["remote"],
                url=values["url"],
                organisation=row.organisation,
                tags=tuple(row.tags),
            )
        )
    return fetched
