"""/start: a student's onboarding, one question at a time.

Answers are kept in the dialog state as they come, so an interrupted onboarding resumes where
it stopped; nothing is written to the person until the last answer, so a half-finished
re-run never leaves a profile half-changed. Re-running /start offers every current answer
as a "Keep" button.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypedDict, cast
from zoneinfo import available_timezones

from sqlalchemy import select

from bot.core import DIALOG, EVERYONE, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, _n
from handlers import actions
from handlers.common import DONE, NO, REMOTE, SKIP, YES, means
from storage.models import AuditEntry, Cohort, Person, PersonTag, Role
from storage.places import student_keys
from storage.tags import TAGS, normalise_tag

registry = Registry()

STEPS = ("name", "family", "cohort", "grade", "age", "tags", "timezone", "place")
MAX_NAME = 60
MAX_PLACE = 60
GRADES = range(1, 14)
COMMON_ZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
)
# A newcomer's onboarding stays open across other commands (they can do little else yet); a
# student changing their answers drops the change by going on to something else.
NEWCOMER = "onboarding"
RERUN = "onboarding_rerun"
# Typed at the fields question, these mean the Done (or Skip) button, in any language.
_TAGS_DONE = DONE | SKIP
_CODE = re.compile(r"[A-Za-z0-9-]{3,32}")
_NAME_CHARS = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '.-])*", re.UNICODE)
_ZONES_BY_LOWER = {zone.lower(): zone for zone in available_timezones()}
# Regions of the tz database whose zones are named after a city (not Etc/GMT+1, US/Eastern).
_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


def _zones_by_city() -> dict[str, str]:
    """Zones by their city alone (london: Europe/London), where only one zone has it."""
    found: dict[str, set[str]] = {}
    for zone in available_timezones():
        if zone.startswith(_AREAS):
            city = zone.rpartition("/")[2]
            found.setdefault(city.lower(), set()).add(zone)
    return {city: zones.pop() for city, zones in found.items() if len(zones) == 1}


_ZONES_BY_CITY = _zones_by_city()


def normalise_code(text: str) -> str:
    return text.strip().upper()


def find_cohort(ctx: Context, text: str) -> Cohort:
    code = normalise_code(text)
    if not _CODE.fullmatch(code):
        raise UserError(_("Join codes are 3 to 32 letters, numbers or dashes, like RIVER-11."))
    cohort = ctx.session.scalar(select(Cohort).where(Cohort.join_code == code))
    if cohort is None:
        raise UserError(
            _("That code doesn't match any class. Check it with your teacher and type it again.")
        )
    return cohort


class PlaceAnswer(TypedDict):
    place: str | None
    remote: bool | None


class Answers(TypedDict, total=False):
    """A student's onboarding answers so far: one key per step in ``STEPS`` (and ``picked``,
    the fields chosen before Done)."""

    cohort: int
    name: str
    family: str
    grade: int
    age: str | bool  # "u16", "u18" or "adult"; True/False (under 18 or not) before the bands
    picked: list[str]
    tags: list[str]
    timezone: str
    place: PlaceAnswer


class OnboardingDialog(TypedDict, total=False):
    name: str
    answers: Answers
    step: str | None


def _put(answers: Answers, step: str, value: Any) -> None:
    """The answer to ``step``: what that step's parser in ``ANSWERS`` (or a button) gave."""
    cast(dict[str, Any], answers)[step] = value


def begin(ctx: Context, answers: Answers | None = None, *, note: str = "") -> list[Reply]:
    """Start onboarding (again), with ``answers`` already known."""
    _store(ctx, answers or {}, None)
    return _next(ctx, note=note)


@registry.command(
    "start", "join_class", "setup", roles=EVERYONE, help=N_("set up or change my profile")
)
def start(ctx: Context, args: str) -> list[Reply]:
    dialog = ctx.state(DIALOG)
    if dialog is not None and dialog.get("name") in (NEWCOMER, RERUN):
        return _next(ctx, note=_("Welcome back! Let's pick up where we left off."))
    person = ctx.person
    if person.role in (Role.TEACHER, Role.EMPLOYER, Role.ADMIN):
        return [
            Reply(
                _(
                    "You're set up as {role}, {name}. Send /help to see what you can do.",
                    role=_(ROLE_NAMES[person.role]),
                    name=person.first_name,
                )
            )
        ]
    if person.onboarded_at is not None and person.family_name is None:
        # A student from before the question: only what is missing is asked.
        known = _current(ctx)
        known["name"] = person.name
        known["tags"] = person.tag_names
        known["place"] = {"place": person.place, "remote": person.wants_remote}
        return begin(
            ctx,
            known,
            note=_(
                "One thing I don't know yet: your family name. It helps your teachers tell "
                "you apart from classmates with the same first name."
            ),
        )
    if person.onboarded_at is not None:
        return [
            Reply(
                _(
                    "You're all set up, {name}. Want to change your answers?",
                    name=person.first_name,
                ),
                (
                    (Button(_("Change my answers"), actions.ONBOARDING.payload("redo")),),
                    (Button(_(BROWSE), actions.PAGE.payload(0)),),
                ),
            )
        ]
    if args:
        # "/start CODE" (a deep link with the class code) fills in the first real question.
        cohort = find_cohort(ctx, args)
        return begin(
            ctx, {"cohort": cohort.id}, note=_("Hi! You're joining {cohort}.", cohort=cohort.name)
        )
    return begin(ctx, note=_("Hi! I'm oppbot. I find internships, job shadowing and more for you."))


def _answers(ctx: Context) -> Answers:
    dialog = ctx.typed_state(DIALOG, OnboardingDialog)
    if dialog is None or dialog.get("name") not in (NEWCOMER, RERUN):
        raise UserError(_("That button is from an earlier conversation. Send /start to set up."))
    return dialog.get("answers", Answers()).copy()


def _store(ctx: Context, answers: Answers, step: str | None) -> None:
    name = NEWCOMER if ctx.person.onboarded_at is None else RERUN
    ctx.start_dialog(name, OnboardingDialog(answers=answers, step=step))


def _next(ctx: Context, *, note: str = "") -> list[Reply]:
    answers = _answers(ctx)
    step = next((s for s in STEPS if s not in answers), None)
    if step is None:
        return _finish(ctx, answers)
    _store(ctx, answers, step)
    reply = QUESTIONS[step](ctx, answers)
    if note:
        reply = Reply(f"{note}\n\n{reply.text}", reply.buttons)
    return [reply]


def _current(ctx: Context) -> Answers:
    """The answers a student gave last time (nothing before their first onboarding ends)."""
    person = ctx.person
    if person.onboarded_at is None:
        return {}
    known = {
        "family": person.family_name,
        "cohort": person.cohort_id,
        "grade": person.grade,
        "age": age_band(person),
        "timezone": person.timezone,
        "place": {"place": person.place, "remote": person.wants_remote}
        if person.place or person.wants_remote
        else None,
    }
    return cast(Answers, {step: value for step, value in known.items() if value is not None})


def _keep(ctx: Context, step: str, label: str) -> tuple[tuple[Button, ...], ...]:
    """A "Keep" button when re-running onboarding and the person already has an answer."""
    if step not in _current(ctx):
        return ()
    keep = _("Keep {answer}", answer=label)
    return ((Button(keep[: ctx.caps.max_button_label], actions.ONBOARDING.payload("keep", step)),),)


def _known_first_name(ctx: Context) -> str | None:
    """The first name the bot already has: the student's own, or the platform's display name's
    first word (the rest of it is offered as the family name)."""
    person = ctx.person
    if person.family_name is not None:
        known = person.name
    else:
        words = (person.name or ctx.incoming.display_name).split()
        known = words[0] if words else ""
    return known if _valid_name(known) else None


def _family_suggestion(ctx: Context, answers: Answers) -> str | None:
    """A family name to offer as a button: what followed the first name, if anything did."""
    first: str = answers.get("name", "")
    words = first.split()
    if len(words) > 1:
        return words[-1]
    if ctx.person.family_name is not None:
        return None
    given = (ctx.person.name or ctx.incoming.display_name).split()
    if len(given) > 1 and given[0].casefold() == first.casefold():
        rest = " ".join(given[1:])
        return rest if _valid_name(rest) else None
    return None


def _ask_name(ctx: Context, answers: Answers) -> Reply:
    buttons: tuple[tuple[Button, ...], ...] = ()
    known = _known_first_name(ctx)
    if known:
        label = _("I'm {name}", name=known)[: ctx.caps.max_button_label]
        buttons = ((Button(label, actions.ONBOARDING.payload("name")),),)
    return Reply(_("What's your first name?"), buttons)


def _ask_family(ctx: Context, answers: Answers) -> Reply:
    suggestion = _family_suggestion(ctx, answers)
    offer = (
        ((Button(suggestion[: ctx.caps.max_button_label], actions.ONBOARDING.payload("family")),),)
        if suggestion
        else ()
    )
    return Reply(
        _(
            "And your family name? Just its first letter is fine (like P). Your teachers see "
            "it, so they can tell you apart from classmates with the same first name; "
            "employers don't."
        ),
        (*offer, *_keep(ctx, "family", ctx.person.family_name or "")),
    )


def _ask_cohort(ctx: Context, answers: Answers) -> Reply:
    cohort = ctx.person.cohort
    keep = _keep(ctx, "cohort", cohort.name) if cohort else ()
    return Reply(
        _("What's your class join code? Your teacher has it (for example RIVER-11)."), keep
    )


def _ask_grade(ctx: Context, answers: Answers) -> Reply:
    buttons = tuple(Button(str(g), actions.ONBOARDING.payload("grade", g)) for g in range(7, 14))
    return Reply(
        _("Which grade (or school year) are you in? Tap one or type a number from 1 to 13."),
        (
            buttons[:4],
            buttons[4:],
            *_keep(ctx, "grade", _("grade {grade}", grade=ctx.person.grade)),
        ),
    )


# How old a student is, as far as the rules need: under-16s may work only limited hours,
# under-18s need a guardian's consent before their details reach an employer.
AGE_BANDS = {"u16": N_("under 16"), "u18": N_("16 or 17"), "adult": N_("18 or over")}
ROLE_NAMES = {
    Role.TEACHER: N_("a teacher"),
    Role.EMPLOYER: N_("an employer"),
    Role.ADMIN: N_("an admin"),
    Role.STUDENT: N_("a student"),
}
BROWSE = N_("Browse opportunities")


def age_band(person: Person) -> str | None:
    """The band a student chose; None if never asked (or, from before the under-16 question,
    only known to be under 18: /start asks again)."""
    if person.under_18 is None:
        return None
    if not person.under_18:
        return "adult"
    if person.under_16 is None:
        return None
    return "u16" if person.under_16 else "u18"


def _ask_age(ctx: Context, answers: Answers) -> Reply:
    band = age_band(ctx.person)
    keep = _keep(ctx, "age", _(AGE_BANDS[band])) if band is not None else ()
    return Reply(
        _(
            "Are you under 18? (Some places are only open to adults; for under-18s we need a "
            "guardian's consent before sharing your details with an employer, and under-16s "
            "may work only limited hours.)"
        ),
        (
            (
                Button(_("Yes, under 16"), actions.ONBOARDING.payload("age", "u16")),
                Button(_("Yes, 16 or 17"), actions.ONBOARDING.payload("age", "u18")),
            ),
            (Button(_("No, I'm 18 or over"), actions.ONBOARDING.payload("age", "adult")),),
            *keep,
        ),
    )


def _ask_tags(ctx: Context, answers: Answers) -> Reply:
    chosen = set(answers.get("picked", []))
    buttons = [
        Button(("✓ " if tag in chosen else "") + _(label), actions.ONBOARDING.payload("tag", tag))
        for tag, label in TAGS.items()
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    done = (
        _n("Done ({n} chosen)", "Done ({n} chosen)", len(chosen)) if chosen else _("Skip for now")
    )
    return Reply(
        _("Which fields interest you? Tap as many as you like, then Done."),
        (*rows, (Button(done, actions.ONBOARDING.payload("tags_done")),)),
    )


def _ask_timezone(ctx: Context, answers: Answers) -> Reply:
    buttons = [
        Button(zone.split("/")[-1].replace("_", " "), actions.ONBOARDING.payload("tz", zone))
        for zone in COMMON_ZONES
    ]
    return Reply(
        _(
            "Which time zone are you in? It's for reminders. Tap one, or type it "
            "(like Europe/Paris, or just Paris)."
        ),
        (
            *(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)),
            *_keep(ctx, "timezone", ctx.person.timezone),
        ),
    )


def _ask_place(ctx: Context, answers: Answers) -> Reply:
    current = _current(ctx).get("place")
    keep = _keep(ctx, "place", current["place"] or _("remote only")) if current else ()
    return Reply(
        _(
            "Last one: where can you get to? Type your town or postcode area (like Leeds or "
            "LS6), and I'll show what's near you first."
        ),
        (
            (
                Button(_("Remote only"), actions.ONBOARDING.payload("remote")),
                Button(_("Skip"), actions.ONBOARDING.payload("noplace")),
            ),
            *keep,
        ),
    )


QUESTIONS: dict[str, Callable[[Context, Answers], Reply]] = {
    "name": _ask_name,
    "family": _ask_family,
    "cohort": _ask_cohort,
    "grade": _ask_grade,
    "age": _ask_age,
    "tags": _ask_tags,
    "timezone": _ask_timezone,
    "place": _ask_place,
}


def _valid_name(text: str) -> bool:
    return 0 < len(text) <= MAX_NAME and bool(_NAME_CHARS.fullmatch(text))


def _too_long() -> UserError:
    return UserError(
        _("That's a long name! Please keep it under {limit} characters.", limit=MAX_NAME)
    )


def _answer_name(ctx: Context, text: str) -> Any:
    name = " ".join(text.split())
    if len(name) > MAX_NAME:
        raise _too_long()
    if not _valid_name(name):
        raise UserError(_("Please type just your name, with letters (for example: Sam Patel)."))
    return name


def _answer_family(ctx: Context, text: str) -> Any:
    family = " ".join(text.split()).rstrip(".")
    if len(family) > MAX_NAME:
        raise _too_long()
    if not _valid_name(family):
        raise UserError(
            _("Please type your family name, or just its first letter (for example: Patel, or P).")
        )
    return family.upper() if len(family) == 1 else family


def _answer_cohort(ctx: Context, text: str) -> Any:
    return find_cohort(ctx, text).id


def _answer_grade(ctx: Context, text: str) -> Any:
    digits = re.sub(r"^(grade|year|yr)\s*", "", text.strip().lower())
    if not digits.isdecimal() or int(digits) not in GRADES:
        raise UserError(_("Please type your grade as a number from 1 to 13, like 11."))
    return int(digits)


def _answer_age(ctx: Context, text: str) -> Any:
    word = text.strip().lower()
    if word.isdecimal() and len(word) <= 3:
        age = int(word)
        return "u16" if age < 16 else "u18" if age < 18 else "adult"
    if means(word, NO) or word in ("18+", "over 18", "18 or over"):
        return "adult"
    if word in ("under 16", "16 or 17"):
        return "u16" if word == "under 16" else "u18"
    if means(word, YES) or word == "under 18":
        raise UserError(
            _("Are you under 16, or 16 or 17? Tap one of the buttons, or type your age.")
        )
    raise UserError(_("Please tap one of the buttons, or type your age."))


def _answer_tags(ctx: Context, text: str) -> Any:
    """Only reached for text that names no field and is not "done": see ``_tags_typed``."""
    raise UserError(_("Please tap the fields that interest you (or type their names), then Done."))


def _tags_typed(ctx: Context, answers: Answers, text: str) -> list[Reply] | None:
    """Typed "done" or "skip" ends the question; typed field names tick them, as taps would.

    None when the text means neither, so it is refused like any other wrong answer.
    """
    if means(text, _TAGS_DONE):
        answers["tags"] = answers.pop("picked", [])
        _store(ctx, answers, None)
        return _next(ctx)
    parts = [p for p in re.split(r"\s*(?:,|;|\band\b)\s*", text.strip()) if p]
    tags = [normalise_tag(p) for p in parts]
    if not tags or None in tags:
        return None
    picked = set(answers.get("picked", []))
    picked.symmetric_difference_update(t for t in tags if t is not None)
    answers["picked"] = sorted(picked)
    _store(ctx, answers, "tags")
    return [_ask_tags(ctx, answers)]


def _answer_timezone(ctx: Context, text: str) -> Any:
    wanted = "_".join(text.split()).lower()
    zone = _ZONES_BY_LOWER.get(wanted) or _ZONES_BY_CITY.get(wanted)
    if zone is None:
        raise UserError(
            _("I don't know that time zone. Type it like Europe/London, or a city like Paris.")
        )
    return zone


def _answer_place(ctx: Context, text: str) -> Any:
    place = " ".join(text.split())
    if means(place, SKIP) or means(place, NO):
        return {"place": None, "remote": None}
    if means(place, REMOTE):
        return {"place": None, "remote": True}
    if not student_keys(place) or len(place) > MAX_PLACE:
        raise UserError(
            _("Please type a town or postcode area, up to {max} characters.", max=MAX_PLACE)
        )
    return {"place": place, "remote": None}


ANSWERS: dict[str, Callable[[Context, str], Any]] = {
    "name": _answer_name,
    "family": _answer_family,
    "cohort": _answer_cohort,
    "grade": _answer_grade,
    "age": _answer_age,
    "tags": _answer_tags,
    "timezone": _answer_timezone,
    "place": _answer_place,
}


@registry.dialog(NEWCOMER, sticky=True)
@registry.dialog(RERUN, action=actions.ONBOARDING)
def answer_typed(ctx: Context, text: str, dialog: OnboardingDialog) -> list[Reply]:
    step = dialog.get("step")
    if step not in ANSWERS:
        return _next(ctx)
    answers = _answers(ctx)
    if step == "tags" and (replies := _tags_typed(ctx, answers, text)) is not None:
        return replies
    try:
        _put(answers, step, ANSWERS[step](ctx, text))
    except UserError as refused:
        # The question's buttons come again: the ones above may have scrolled away, and a
        # console shows only the latest.
        raise UserError(refused.reply.text, QUESTIONS[step](ctx, answers).buttons) from None
    _store(ctx, answers, step)
    return _next(ctx)


@registry.action(actions.ONBOARDING, roles=EVERYONE)
def button_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if args == ["redo"]:
        if ctx.person.onboarded_at is None or ctx.person.role != Role.STUDENT:
            return start(ctx, "")
        # The fields chosen last time start ticked, so Done keeps them.
        return begin(ctx, {"picked": ctx.person.tag_names}, note=_("Let's update your answers."))
    answers = _answers(ctx)
    match args:
        case ["name"] if (known := _known_first_name(ctx)) is not None:
            answers["name"] = known
        case ["family"] if (suggestion := _family_suggestion(ctx, answers)) is not None:
            answers["family"] = _answer_family(ctx, suggestion)
        case ["keep", step] if step in _current(ctx):
            _put(answers, step, cast(dict[str, Any], _current(ctx))[step])
        case ["grade", value] if value.isdigit() and int(value) in GRADES:
            answers["grade"] = int(value)
        case ["age", band] if band in AGE_BANDS:
            answers["age"] = band
        case ["tag", tag] if tag in TAGS and "tags" not in answers:
            picked = set(answers.get("picked", []))
            picked.symmetric_difference_update({tag})
            answers["picked"] = sorted(picked)
            _store(ctx, answers, "tags")
            return [
                Reply(_ask_tags(ctx, answers).text, _ask_tags(ctx, answers).buttons, replace=True)
            ]
        case ["tags_done"] if "tags" not in answers:
            answers["tags"] = answers.pop("picked", [])
        case ["tz", zone] if zone in _ZONES_BY_LOWER.values():
            answers["timezone"] = zone
        case ["remote"]:
            answers["place"] = {"place": None, "remote": True}
        case ["noplace"]:
            answers["place"] = {"place": None, "remote": None}
        case _:
            raise UserError(
                _("That button is from an earlier question. Please answer the one above.")
            )
    _store(ctx, answers, None)
    return _next(ctx)


def _where(person: Person) -> str:
    """Where the student said they can get to, as a sentence of the summary ("" if unsaid)."""
    if person.place:
        return " " + _("Near: {place}.", place=person.place)
    return " " + _("Remote only.") if person.wants_remote else ""


# Long because the last step saves every answer at once and words the welcome for each role.
def _finish(ctx: Context, answers: Answers) -> list[Reply]:
    person = ctx.person
    cohort = ctx.session.get(Cohort, answers["cohort"])
    if cohort is None:
        # The class was removed while this student was halfway through.
        answers.pop("cohort")
        _store(ctx, answers, None)
        return _next(
            ctx, note=_("That class no longer exists. Please ask your teacher for a new code.")
        )
    first_time = person.onboarded_at is None
    name, family = answers["name"], answers["family"]
    # "Ada Lovelace" typed as the first name and then "Lovelace": the name is Ada.
    if name.casefold().endswith(" " + family.casefold()):
        name = name[: -len(family) - 1]
    person.name = name
    person.family_name = family
    person.cohort_id = cohort.id
    person.grade = answers["grade"]
    # A yes or no from before the question asked about under-16s means "under 18" or "adult".
    age = answers["age"]
    band = age if isinstance(age, str) else "u18" if age else "adult"
    person.under_18 = band != "adult"
    person.under_16 = band == "u16"
    person.timezone = answers["timezone"]
    person.place = answers["place"]["place"]
    person.wants_remote = answers["place"]["remote"]
    person.tags = [PersonTag(tag=t) for t in answers["tags"] if t in TAGS]
    person.onboarded_at = ctx.now
    if person.role is None:
        person.role = Role.STUDENT
        ctx.session.add(
            AuditEntry(
                at=ctx.now,
                actor_id=person.id,
                subject_id=person.id,
                action="role_granted",
                detail={"role": Role.STUDENT.value, "via": "cohort_code", "cohort_id": cohort.id},
            )
        )
    ctx.clear_state(DIALOG)
    labels = [_(TAGS[t]) for t in answers["tags"] if t in TAGS]
    summary = _(
        "You're in {cohort} ({school}), grade {grade}. Fields: {fields}. Time zone: {zone}.",
        cohort=cohort.name,
        school=cohort.school.name,
        grade=person.grade,
        fields=", ".join(labels) if labels else _("none yet"),
        zone=person.timezone,
    )
    greeting = (
        _("Welcome, {name}!", name=person.first_name)
        if first_time
        else _("Your answers are updated.")
    )
    next_steps = _("Send /browse to see opportunities, or /help for everything I can do.")
    return [
        Reply(
            f"{greeting} {summary}{_where(person)}\n\n{next_steps}",
            ((Button(_(BROWSE), actions.PAGE.payload(0)),),),
        )
    ]
