"""One set of rules for an opportunity's fields, whichever way it comes in.

A CSV or JSON import, `/publish` (one question at a time, all at once, or Slack's form),
`/edit` and the job boards' postings all check their values with ``OpportunityFields``, so
a value is accepted or refused the same way, with the same words, everywhere.

The limits:

- ``external_id``: up to 100 characters (text or a whole number).
- ``title``: up to 200 characters; ``organisation``: up to 200; ``location``: up to 300;
  ``description``: up to 10,000 (far more than a card shows, which is clipped to the
  platform's message, but bounded). Whitespace runs become one space, but the description
  keeps its line breaks. Control characters (but tabs and line breaks) are refused.
- ``url``: up to 1,000 characters, starting with http:// or https://, no spaces.
- ``spots``: a whole number from 1 to 10,000; ``min_age`` 10 to 25; ``min_grade`` and
  ``max_grade`` 1 to 13, the highest not below the lowest.
- ``start_date``, ``end_date``, ``deadline``: YYYY-MM-DD (blank, or "none", for no date); the
  end not before the start.
- ``kind``, ``status``, ``tags``, ``paid`` and ``remote``: one of their words (see below).

What a person types (``typed`` in the validation context: /publish, /edit) is held to a little
more than a file or a job board: a title of at least 3 characters, an organisation and a
location of at least 2, a description of at least 10, and dates from ``today`` on, within two
years. The context's ``today`` also dates the examples in the messages.

Each problem is a sentence for the person who gave the value (``FieldProblems.problems``, by
field name), so that a form can show it beside its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bot.i18n import N_, _
from handlers.common import (
    IN_PERSON,
    KIND_LABELS,
    NO,
    NO_DATE,
    NOT_SURE,
    PAID,
    REMOTE,
    UNPAID,
    YES,
    example_deadline,
    means,
)
from storage.models import OpportunityKind, OpportunityStatus
from storage.tags import TAGS, UnknownTag, known_tags

MAX_EXTERNAL_ID = 100
MAX_TITLE = 200
MAX_ORGANISATION = 200
MAX_LOCATION = 300
MAX_DESCRIPTION = 10_000
MAX_URL = 1000
MAX_SPOTS = 10_000
AGES = (10, 25)
GRADES = (1, 13)
# What a person types must be at least this long (a file's or a board's values need not be).
MIN_TYPED = {"title": 3, "organisation": 2, "location": 2, "description": 10}
# Far enough for next summer's placements; further is almost certainly a typo.
MAX_AHEAD = timedelta(days=2 * 365)

# How each field is named in a message (translated there: ``_label``).
LABELS = {
    "external_id": N_("id"),
    "title": N_("title"),
    "organisation": N_("organisation's name"),
    "kind": N_("kind"),
    "description": N_("description"),
    "location": N_("location"),
    "remote": N_("remote"),
    "paid": N_("paid"),
    "start_date": N_("start date"),
    "end_date": N_("end date"),
    "deadline": N_("deadline"),
    "spots": N_("number of places"),
    "tags": N_("fields of interest"),
    "url": N_("web address"),
    "min_age": N_("minimum age"),
    "min_grade": N_("lowest grade"),
    "max_grade": N_("highest grade"),
    "status": N_("status"),
}


def _label(name: str) -> str:
    """Field ``name`` as a message names it, in the reader's language."""
    return _(LABELS[name]) if name in LABELS else name


_KINDS: dict[str, OpportunityKind] = {
    **{word: kind for kind, label in KIND_LABELS.items() for word in (kind.value, label)},
    "intern": OpportunityKind.INTERNSHIP,
    "shadowing": OpportunityKind.JOB_SHADOWING,
    "coop": OpportunityKind.COOP,
    "mentorship": OpportunityKind.MENTORING,
}
# Typed in any of our languages (the questions are asked in the person's); files say true/1.
_YES = YES | {"true", "1"}
_NO = NO | {"false", "0"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Unicode's control characters (category Cc) but tab and line breaks, and lone surrogates (Cs):
# never meant, shown to students as garbage, and PostgreSQL cannot store NUL or a surrogate.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def squash(text: str) -> str:
    """``text`` with runs of whitespace made one space."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis if it was longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def has_control(text: str) -> bool:
    """Whether ``text`` has control characters (but tabs and line breaks) or lone surrogates."""
    return _CONTROL.search(text) is not None


def is_web_address(text: str) -> bool:
    return (
        text.lower().startswith(("http://", "https://"))
        and len(text) <= MAX_URL
        and len(text.split()) == 1
        and not _CONTROL.search(text)
    )


def _letters(text: str) -> str:
    # Case, spaces, hyphens and underscores never matter: "Co-op", "job_shadowing".
    return re.sub(r"[^a-z]", "", text.lower())


_KIND_WORDS = {_letters(word): kind for word, kind in _KINDS.items()}


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("opportunity_field", "{message}", {"message": message})


def _context(info: ValidationInfo) -> tuple[date | None, bool]:
    context = info.context or {}
    return context.get("today"), bool(context.get("typed"))


def _quoted(value: str) -> str:
    return repr(clip(value, 40))


class OpportunityFields(BaseModel):
    """An opportunity's fields, each checked and cleaned; None where it was not given."""

    model_config = ConfigDict(frozen=True)

    external_id: str | None = None
    title: str | None = None
    organisation: str | None = None
    kind: OpportunityKind | None = None
    description: str | None = None
    location: str | None = None
    remote: bool | None = None
    paid: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    deadline: date | None = None
    spots: int | None = None
    tags: list[str] | None = None
    url: str | None = None
    min_age: int | None = None
    min_grade: int | None = None
    max_grade: int | None = None
    status: OpportunityStatus | None = None

    @field_validator("external_id", mode="before")
    @classmethod
    def _id(cls, value: object) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return _text(value, "external_id", MAX_EXTERNAL_ID, typed=False)

    @field_validator("title", "organisation", "location", "description", mode="before")
    @classmethod
    def _words(cls, value: object, info: ValidationInfo) -> str | None:
        limits = {
            "title": MAX_TITLE,
            "organisation": MAX_ORGANISATION,
            "location": MAX_LOCATION,
            "description": MAX_DESCRIPTION,
        }
        name = str(info.field_name)
        return _text(value, name, limits[name], typed=_context(info)[1])

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> OpportunityKind | None:
        if isinstance(value, OpportunityKind) or value is None:
            return value
        text = _given(value, "kind")
        if not text:
            return None
        kind = _KIND_WORDS.get(_letters(text))
        if kind is None:
            kinds = ", ".join(label.lower() for label in KIND_LABELS.values())
            raise _refuse(_("The kind must be one of: {kinds}.", kinds=kinds))
        return kind

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> OpportunityStatus | None:
        if isinstance(value, OpportunityStatus) or value is None:
            return value
        text = _given(value, "status")
        if not text:
            return None
        try:
            return OpportunityStatus(text.lower())
        except ValueError:
            raise _refuse(_("The status must be one of: open, closed, draft, pending.")) from None

    @field_validator("remote", "paid", mode="before")
    @classmethod
    def _flag(cls, value: object, info: ValidationInfo) -> bool | None:
        if isinstance(value, bool) or value is None:
            return value
        text = _given(value, str(info.field_name)).lower()
        paid = info.field_name == "paid"
        if not text:
            return None
        if means(text, _YES) or means(text, PAID if paid else REMOTE):
            return True
        if means(text, _NO) or means(text, UNPAID if paid else IN_PERSON):
            return False
        if paid and means(text, NOT_SURE):
            return None
        if paid:
            raise _refuse(_("Is it paid? Please answer yes, no or not sure."))
        raise _refuse(_("Can students take part remotely? Please answer yes or no."))

    @field_validator("start_date", "end_date", "deadline", mode="before")
    @classmethod
    def _date(cls, value: object, info: ValidationInfo) -> date | None:
        if isinstance(value, date) or value is None:
            day = value
        else:
            label = _label(str(info.field_name))
            today, _typed = _context(info)
            text = _given(value, str(info.field_name)).lower()
            if not text or means(text, NO_DATE):
                return None
            how = (
                _(
                    "Please type the {field} as YYYY-MM-DD, like {example}.",
                    field=label,
                    example=example_deadline(today).isoformat(),
                )
                if today
                else _("Please type the {field} as YYYY-MM-DD.", field=label)
            )
            if not _ISO_DATE.fullmatch(text):
                raise _refuse(how)
            try:
                day = date.fromisoformat(text)
            except ValueError:
                raise _refuse(_("{text} isn't a date.", text=text) + " " + how) from None
        today, typed = _context(info)
        if typed and today is not None and day is not None:
            if day < today:
                raise _refuse(
                    _(
                        "That {field} has passed. Please type a date from today on.",
                        field=_label(str(info.field_name)),
                    )
                )
            if day > today + MAX_AHEAD:
                raise _refuse(_("That's more than two years ahead. Please check the year."))
        return day

    @field_validator("spots", "min_age", "min_grade", "max_grade", mode="before")
    @classmethod
    def _whole(cls, value: object, info: ValidationInfo) -> int | None:
        name = str(info.field_name)
        low, high = {"spots": (1, MAX_SPOTS), "min_age": AGES}.get(name, GRADES)
        refusal = _refuse(
            _(
                "Please type the {field} as a whole number from {low} to {high}.",
                field=_label(name),
                low=low,
                high=high,
            )
        )
        if isinstance(value, bool):
            raise refusal
        if isinstance(value, int) or value is None:
            number = value
        else:
            text = _given(value, name)
            if not text:
                return None
            if not text.isascii() or not text.isdigit() or len(text) > 6:
                raise refusal
            number = int(text)
        if number is not None and not low <= number <= high:
            raise refusal
        return number

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> list[str] | None:
        if value is None:
            return None
        parts = value if isinstance(value, list) else re.split(r"[;,\n]", _given(value, "tags"))
        if not all(isinstance(part, str) for part in parts):
            raise _refuse(_("The fields of interest must be words."))
        if any(_CONTROL.search(part) for part in parts):
            raise _refuse(_("The fields of interest have control characters in them."))
        try:
            return known_tags(parts) or None
        except UnknownTag as unknown:
            raise _refuse(
                _(
                    "I don't know the field {field}. Choose from: {fields}.",
                    field=_quoted(unknown.part),
                    fields=", ".join(TAGS),
                )
            ) from None

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: object) -> str | None:
        text = _text(value, "url", MAX_URL, typed=False)
        if not text:
            return None
        if not is_web_address(text):
            raise _refuse(_("Please type the web address in full, like https://example.org."))
        return text


def _given(value: object, name: str) -> str:
    """The text of ``value`` with its ends trimmed, refusing what is not plain text."""
    if not isinstance(value, str):
        raise _refuse(_("The {field} must be text.", field=_label(name)))
    if _CONTROL.search(value):
        raise _refuse(_("The {field} has control characters in it.", field=_label(name)))
    return value.strip()


def _text(value: object, name: str, limit: int, *, typed: bool) -> str | None:
    if value is None:
        return None
    text = _given(value, name)
    # Stray spaces and line breaks are noise everywhere but in the description.
    text = text if name == "description" else squash(text)
    label = _label(name)
    if len(text) > limit:
        raise _refuse(
            _(
                "Please keep the {field} to {n} characters or fewer (it has {length}).",
                field=label,
                n=limit,
                length=len(text),
            )
        )
    minimum = MIN_TYPED.get(name, 0)
    if typed and len(text) < minimum:
        raise _refuse(
            _("Please type the {field} (at least {n} characters).", field=label, n=minimum)
        )
    return text


FIELDS = tuple(OpportunityFields.model_fields)


class FieldProblems(ValueError):
    """The values refused, each with a sentence saying why, by field name."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(" ".join(self.problems.values()))


def check(
    raw: Mapping[str, object],
    *,
    today: date | None = None,
    typed: bool = False,
    required: Iterable[str] = (),
) -> OpportunityFields:
    """``raw``'s fields (names as ``OpportunityFields``) checked and cleaned; FieldProblems
    with every problem, in the order of the fields, if any is refused or a ``required`` one
    is missing (blank)."""
    context = {"today": today, "typed": typed}
    problems: dict[str, str] = {}
    try:
        fields = OpportunityFields.model_validate(raw, context=context)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            name = str(problem["loc"][0]) if problem["loc"] else ""
            if name and name not in problems:
                problems[name] = (
                    problem["msg"]
                    if problem["type"] == "opportunity_field"
                    else _("The {field} isn't valid.", field=_label(name))
                )
        # The rest still tell of missing and contradicting values, so every problem is told.
        fields = OpportunityFields.model_validate(
            {k: v for k, v in raw.items() if k not in problems}, context=context
        )
    for name in required:
        if name not in problems and getattr(fields, name) in (None, ""):
            problems[name] = _("The {field} is missing.", field=_label(name))
    if fields.start_date and fields.end_date and fields.end_date < fields.start_date:
        problems["end_date"] = _("The end date is before the start date.")
    if fields.min_grade and fields.max_grade and fields.max_grade < fields.min_grade:
        problems["max_grade"] = _("The highest grade is below the lowest grade.")
    if problems:
        order = {name: place for place, name in enumerate(FIELDS)}
        raise FieldProblems(dict(sorted(problems.items(), key=lambda p: order.get(p[0], 0))))
    return fields


def check_one(name: str, value: object, *, today: date | None, typed: bool = True) -> Any:
    """The value of field ``name`` given as ``value``, checked and cleaned; FieldProblems if
    refused."""
    return getattr(check({name: value}, today=today, typed=typed), name)


def kind_of(title: str) -> OpportunityKind:
    """The kind a listing's title says it is, for sources that don't say: a job board's
    posting, a row of a file without a kind column. An internship unless it says otherwise."""
    lowered = title.lower()
    if "shadow" in lowered:
        return OpportunityKind.JOB_SHADOWING
    if re.search(r"\bco[\s-]?op\b", lowered):
        return OpportunityKind.COOP
    return OpportunityKind.INTERNSHIP
