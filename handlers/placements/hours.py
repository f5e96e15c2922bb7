"""Hours on a placement: the student logs them, the supervisor confirms or queries them.

A student logs a day and an amount ("/hours today 3h"); their supervisor gets Confirm and
Query buttons. Logging a day again corrects it until it is confirmed. An under-16 may log more
than the law allows for their age, but their teacher is warned at once. Teachers and
employers see the totals per student and per placement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta, tzinfo
from typing import TypedDict

from sqlalchemy import func, select

from bot.core import DIALOG, EMPLOYERS, STAFF, STUDENTS, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, _n, _p, fmt_day, speaking_to
from handlers import actions
from handlers.common import (
    HOUR_UNITS,
    MINUTE_UNITS,
    WhenError,
    clip,
    example_day,
    fmt_date,
    is_number,
    local_today,
    members_of,
    parse_day,
    parse_id,
    school_staff,
    staff_label,
    student_label,
    unit_pattern,
)
from handlers.placements.placements import (
    HOURS_STATUS,
    dates_phrase,
    hours_phrase,
    hours_totals,
    placement_for,
    scope,
    student_name,
    totals_phrase,
    visible_placements,
)
from storage.models import HoursEntry, HoursStatus, Person, Placement, Role

registry = Registry()

NO_PLACEMENT = N_(
    "You don't have a placement yet. Once an employer places you, log your hours here. "
    "Find one with /browse."
)
# A placement, named by its listing and employer.
AT = N_("{title} at {organisation}")

MAX_DAY_MINUTES = 24 * 60
MAX_QUERY = 500
# How far back a day may be logged: a placement's hours are logged as it goes.
MAX_DAYS_BACK = 120


def example(today: date) -> str:
    """How to log hours, with a recent day (hours are logged for days already worked)."""
    day = example_day(today, past=True)
    return _("/hours today 3h, /hours yesterday 2.5h or /hours {day} 4h 30m", day=day.isoformat())


_UNIT_H = unit_pattern(HOUR_UNITS)
_UNIT_M = unit_pattern(MINUTE_UNITS)
# "90m" (minutes alone, tried first so that it is never 9 hours and "0m"), "3h", "2.5", "1,5
# horas", "4h 30m", "1 30m", and "1h30" (the minutes' unit left out only right after the hours',
# so that "2h 3 dec" is 2 hours on 3 December).
_AMOUNT = (
    rf"(?:(?P<only>\d{{1,4}})\s*{_UNIT_M}"
    rf"|(?P<hours>\d{{1,2}}(?:[.,٫]\d{{1,2}})?)\s*"
    rf"(?:{_UNIT_H}(?:\s*(?P<after>\d{{1,2}})\s*{_UNIT_M}|(?P<glued>\d{{1,2}}))?"
    rf"|(?:\s*(?P<minutes>\d{{1,2}})\s*{_UNIT_M})?))"
)
# The day and the amount are separate words: "2026-12-01 90m" is never "2026-12-" and "01 90m".
_AMOUNT_LAST = re.compile(rf"(?:(?P<day>.*?)\s+)??(?P<amount>{_AMOUNT})", re.IGNORECASE)
_AMOUNT_FIRST = re.compile(rf"(?P<amount>{_AMOUNT})\s+(?P<day>.+)", re.IGNORECASE)
_AMOUNT_ALONE = re.compile(_AMOUNT, re.IGNORECASE)


def _minutes(amount: str, today: date) -> int:
    """Minutes in "3h", "2.5", "1h 30m", "1h30" or "90m" (a bare number is hours)."""
    match = _AMOUNT_ALONE.fullmatch(amount.strip())
    if match is None:
        raise UserError(
            _("I couldn't read the hours there. Try {example}.", example=example(today))
        )
    if match.group("only"):
        return int(match.group("only"))
    hours = float(match.group("hours").replace(",", ".").replace("٫", "."))
    return round(hours * 60) + int(
        match.group("after") or match.group("glued") or match.group("minutes") or 0
    )


def _work_day(phrase: str, today: date, zone: tzinfo | None) -> date:
    """The day a phrase names, looking back: hours are logged for days already worked."""
    if not phrase.strip():
        return today
    try:
        return parse_day(phrase, today, past=True, example=example(today), zone=zone)
    except WhenError as error:
        raise UserError(str(error)) from None


def parse_log(text: str, today: date, zone: tzinfo | None = None) -> tuple[date, int]:
    """The day and the minutes that "today 3h" (or "3h yesterday", "2026-12-01 2.5") says;
    ``zone``, the student's, tells whether "12/1" puts the month first."""
    phrase = " ".join(text.split())
    try:
        parse_day(phrase, today, zone=zone)
    except WhenError:
        pass
    else:
        raise UserError(_("How many hours? For example: /hours {day} 3h.", day=phrase))
    match = _AMOUNT_LAST.fullmatch(phrase) or _AMOUNT_FIRST.fullmatch(phrase)
    if match is None:
        raise UserError(_("Say the day and the hours, like {example}.", example=example(today)))
    day = _work_day(match.group("day") or "", today, zone)
    minutes = _minutes(match.group("amount"), today)
    if minutes <= 0:
        raise UserError(_("That's no time at all. Log the hours you worked, like /hours today 3h."))
    if minutes > MAX_DAY_MINUTES:
        raise UserError(_("There are only 24 hours in a day! Please check the number."))
    check_day(day, today)
    return day, minutes


def check_day(day: date, today: date) -> None:
    """Refuse a day that can't have been worked yet, or is too long ago to log here."""
    if day > today:
        raise UserError(
            _("{day} hasn't happened yet: log hours once you've worked them.", day=fmt_date(day))
        )
    if (today - day).days > MAX_DAYS_BACK:
        raise UserError(
            _(
                "{day} is too long ago to log here. Please ask your teacher to help.",
                day=fmt_date(day),
            )
        )


def _day(value: date) -> str:
    # The weekday and day as the language writes them, then the year: Tue 1 Dec 2026.
    return f"{fmt_day(value)} {value.year}"


@registry.command(
    "hours",
    "log",
    roles=STUDENTS | STAFF | EMPLOYERS,
    help=N_("log placement hours: /hours today 3h (teachers and employers: the totals)"),
)
def hours(ctx: Context, args: str) -> list[Reply]:
    if ctx.role != Role.STUDENT:
        number = args.strip().removeprefix("#")
        if number:
            if not is_number(number):
                raise UserError(_("Say which placement by its number, like /hours 7."))
            return [_placement_hours(ctx, placement_for(ctx, number))]
        return [_overview(ctx)]
    if not args.strip():
        return [_my_hours(ctx)]
    day, minutes = parse_log(args, local_today(ctx), ctx.person.zone)
    return _log(ctx, day, minutes, None)


def _my_placements(ctx: Context) -> list[Placement]:
    return list(
        ctx.session.scalars(
            select(Placement)
            .where(Placement.student_id == ctx.person.id)
            .order_by(Placement.created_at.desc(), Placement.id.desc())
        )
    )


def _covers(placement: Placement, day: date) -> bool:
    start, end = placement.start_date, placement.end_date
    return (start is None or start <= day) and (end is None or day <= end)


def _log(ctx: Context, day: date, minutes: int, placement_id: int | None) -> list[Reply]:
    placements = _my_placements(ctx)
    if not placements:
        raise UserError(_(NO_PLACEMENT))
    chosen = [p for p in placements if _covers(p, day)]
    if placement_id is not None:
        if placement_id not in {p.id for p in placements}:
            raise UserError(_("I can't find that placement. Send /hours to see yours."))
        chosen = [p for p in chosen if p.id == placement_id]
    if not chosen:
        only = placements[0]
        raise UserError(
            _(
                "{day} is outside your placement ({dates}). If the dates are wrong, ask your "
                "teacher or supervisor to change them.",
                day=fmt_date(day),
                dates=dates_phrase(only),
            )
        )
    if len(chosen) > 1:
        stamp = f"{day:%Y%m%d}"
        rows = tuple(
            (
                Button(
                    clip(
                        _(AT, title=p.interest.opportunity.title, organisation=p.organisation.name),
                        40,
                    ),
                    actions.HOURS_PLACEMENT.payload(p.id, stamp, minutes),
                ),
            )
            for p in chosen[:6]
        )
        return [
            Reply(_("Which placement were the {hours} for?", hours=hours_phrase(minutes)), rows)
        ]
    return [_record(ctx, chosen[0], day, minutes)]


@registry.action(actions.HOURS_PLACEMENT, roles=STUDENTS)
def placement_chosen(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 3 or not is_number(args[1], 8) or not is_number(args[2], 4):
        raise UserError(_("That button doesn't work any more. Send /hours to start again."))
    try:
        day = date(int(args[1][:4]), int(args[1][4:6]), int(args[1][6:]))
    except ValueError:
        raise UserError(
            _("That button doesn't work any more. Send /hours to start again.")
        ) from None
    minutes = int(args[2])
    if not 0 < minutes <= MAX_DAY_MINUTES:
        raise UserError(_("That button doesn't work any more. Send /hours to start again."))
    check_day(day, local_today(ctx))
    return _log(ctx, day, minutes, parse_id(args[0]))


def _record(ctx: Context, placement: Placement, day: date, minutes: int) -> Reply:
    entry = ctx.session.scalar(
        select(HoursEntry).where(
            HoursEntry.placement_id == placement.id, HoursEntry.work_date == day
        )
    )
    if entry is not None and entry.status == HoursStatus.CONFIRMED:
        raise UserError(
            _(
                "Your {hours} on {day} are already confirmed by your supervisor, so they can't "
                "be changed here. Ask your supervisor if they're wrong.",
                hours=hours_phrase(entry.minutes),
                day=_day(day),
            )
        )
    corrected = entry is not None
    if entry is None:
        entry = HoursEntry(placement_id=placement.id, work_date=day, logged_at=ctx.now)
        ctx.session.add(entry)
    entry.minutes = minutes
    entry.status = HoursStatus.PENDING
    entry.query = None
    entry.logged_at = ctx.now
    entry.reviewed_at = None
    entry.reviewed_by_id = None
    over = _over_limit(ctx, placement, day, minutes)
    entry.over_limit = bool(over)
    ctx.session.flush()
    asked = _ask_supervisor(ctx, placement, entry, corrected=corrected)
    lines = [_logged(placement, entry, corrected=corrected, asked=asked)]
    if over:
        lines.append(
            _(
                "Careful: {limit}. That's more than the law allows for under-16s, so I've let your "
                "teacher know.",
                limit=over(),
            )
        )
        _warn_teachers(ctx, placement, entry, over)
    return Reply(
        "\n".join(lines), ((Button(_p("button", "My hours"), actions.MY_HOURS.payload()),),)
    )


def _logged(placement: Placement, entry: HoursEntry, *, corrected: bool, asked: bool) -> str:
    """What the student is told once their hours are logged (or corrected)."""
    values = {
        "hours": hours_phrase(entry.minutes),
        "day": _day(entry.work_date),
        "where": _(
            AT, title=placement.interest.opportunity.title, organisation=placement.organisation.name
        ),
    }
    done = (
        _("Corrected: {hours} on {day} for {where}.", **values)
        if corrected
        else _("Logged: {hours} on {day} for {where}.", **values)
    )
    then = (
        _("Your supervisor will confirm them.")
        if asked
        else _(
            "Nobody from the employer is on the bot yet to confirm them; your teacher can see them."
        )
    )
    return f"{done} {then}"


def _over_limit(
    ctx: Context, placement: Placement, day: date, minutes: int
) -> Callable[[], str] | None:
    """Why these hours break the under-16 limits (worded in the language of whoever reads
    it), or None when they don't (or don't apply)."""
    if not may_be_under_16(ctx.person):
        return None
    limits = ctx.timing.work_limits
    on_day = minutes + _others(ctx, placement, day, day, day)
    if day.weekday() < 5 and on_day > limits.school_day_hours * 60:
        return lambda: _(
            "{hours} on a school day is over the {limit} limit",
            hours=hours_phrase(on_day),
            limit=hours_phrase(limits.school_day_hours * 60),
        )
    monday = day - timedelta(days=day.weekday())
    week = minutes + _others(ctx, placement, day, monday, monday + timedelta(days=6))
    if week > limits.school_week_hours * 60:
        return lambda: _(
            "{hours} in the week of {monday} is over the {limit} limit for a school week",
            hours=hours_phrase(week),
            monday=fmt_date(monday),
            limit=hours_phrase(limits.school_week_hours * 60),
        )
    return None


def may_be_under_16(student: Person) -> bool:
    """Under 16, or under 18 without having said (they joined before the question was asked):
    the limits apply until the student says otherwise."""
    return bool(student.under_16) or (student.under_18 is True and student.under_16 is None)


def _others(ctx: Context, placement: Placement, day: date, first: date, last: date) -> int:
    """Minutes the student logged from ``first`` to ``last`` on every placement, but for
    ``day`` on this one: it counts with its new amount, not the one it replaces."""
    minutes = ctx.session.scalar(
        select(func.coalesce(func.sum(HoursEntry.minutes), 0))
        .join(Placement, Placement.id == HoursEntry.placement_id)
        .where(
            Placement.student_id == ctx.person.id,
            HoursEntry.work_date.between(first, last),
            ~((HoursEntry.placement_id == placement.id) & (HoursEntry.work_date == day)),
        )
    )
    return int(minutes or 0)


def _warning(student: Person, values: dict[str, str]) -> str:
    if student.under_16:
        return _(
            "Please check: {student}, who is under 16, logged {hours} on {day} at "
            "{organisation}: {limit}. See /hours {number}.",
            **values,
        )
    return _(
        "Please check: {student}, who is under 18 and hasn't said if under 16, logged {hours} "
        "on {day} at {organisation}: {limit}. See /hours {number}.",
        **values,
    )


def _warn_teachers(
    ctx: Context, placement: Placement, entry: HoursEntry, over: Callable[[], str]
) -> None:
    student = ctx.person
    for teacher in school_staff(ctx.session, placement.school_id):
        with speaking_to(teacher):
            text = _warning(
                student,
                {
                    "student": staff_label(ctx.session, student),
                    "hours": hours_phrase(entry.minutes),
                    "day": _day(entry.work_date),
                    "organisation": placement.organisation.name,
                    "limit": over(),
                    "number": str(placement.id),
                },
            )
        ctx.notify(
            teacher,
            text,
            kind="hours-limit",
            key=f"hours-limit:{entry.id}:{entry.minutes}:{teacher.id}:{ctx.now.isoformat()}",
            about=student,
        )


def _reviewers(ctx: Context, placement: Placement) -> list[Person]:
    if placement.supervisor is not None:
        return [placement.supervisor]
    return members_of(ctx.session, placement.organisation_id)


def _ask_supervisor(
    ctx: Context, placement: Placement, entry: HoursEntry, *, corrected: bool
) -> bool:
    """Ask the supervisor (or, with none chosen, every member) to confirm; False if nobody."""
    reviewers = _reviewers(ctx, placement)
    for member in reviewers:
        with speaking_to(member):
            values = {
                "student": student_label(placement.student),
                "hours": hours_phrase(entry.minutes),
                "day": _day(entry.work_date),
                "title": placement.interest.opportunity.title,
            }
            text = (
                _(
                    "{student} corrected their hours to {hours} on {day} for {title}. "
                    "Is that right?",
                    **values,
                )
                if corrected
                else _("{student} logged {hours} on {day} for {title}. Is that right?", **values)
            )
            buttons = (confirm_buttons(entry),)
        ctx.notify(
            member,
            text,
            kind="hours",
            key=f"hours:{entry.id}:{entry.minutes}:{member.id}:{ctx.now.isoformat()}",
            buttons=buttons,
            about=placement.student,
        )
    return bool(reviewers)


def _reviewable(ctx: Context, args: list[str]) -> HoursEntry:
    """The entry an employer's button names, if this member may still confirm or query it."""
    if len(args) != 2 or not is_number(args[1], 4):
        raise UserError(_("That button doesn't work any more. Send /hours to see the hours."))
    entry = ctx.session.get(HoursEntry, parse_id(args[0]))
    if entry is None or entry.placement.organisation_id != ctx.person.organisation_id:
        raise UserError(_("I can't find those hours: they may have been removed."))
    placement = entry.placement
    if placement.student_id is None:
        raise UserError(
            _("That student has left and their data was deleted, so there's nothing to answer.")
        )
    if placement.supervisor_id is not None and placement.supervisor_id != ctx.person.id:
        if placement.supervisor is None:
            raise UserError(_("Only the placement's supervisor can answer for these."))
        raise UserError(
            _(
                "Only the placement's supervisor, {name}, can answer for these.",
                name=placement.supervisor.name,
            )
        )
    if entry.minutes != int(args[1]):
        raise UserError(_("Those hours were changed since: please answer the newer message."))
    if entry.status == HoursStatus.CONFIRMED:
        raise UserError(_("You've already confirmed those hours. Thank you!"))
    return entry


def _answered(
    ctx: Context, entry: HoursEntry, status: HoursStatus, query: str | None = None
) -> None:
    entry.status = status
    entry.query = query
    entry.reviewed_by_id = ctx.person.id
    entry.reviewed_at = ctx.now


@registry.action(actions.HOURS_CONFIRM, roles=EMPLOYERS)
def confirm_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    entry = _reviewable(ctx, args)
    _answered(ctx, entry, HoursStatus.CONFIRMED)
    placement = entry.placement
    if placement.student is not None:
        with speaking_to(placement.student):
            values = {
                "hours": hours_phrase(entry.minutes),
                "day": _day(entry.work_date),
                "organisation": placement.organisation.name,
            }
            text = (
                _(
                    "{name} confirmed your {hours} on {day} at {organisation}.",
                    name=ctx.person.first_name,
                    **values,
                )
                if ctx.person.first_name
                else _(
                    "Your supervisor confirmed your {hours} on {day} at {organisation}.", **values
                )
            )
        ctx.notify(
            placement.student,
            text,
            kind="hours",
            key=f"hours-confirmed:{entry.id}:{entry.minutes}:{ctx.now.isoformat()}",
        )
    who = student_label(placement.student)
    return [
        Reply(
            _(
                "Confirmed {hours} on {day} for {student}.",
                hours=hours_phrase(entry.minutes),
                day=_day(entry.work_date),
                student=who,
            ),
            replace=True,
        )
    ]


@registry.action(actions.HOURS_QUERY, roles=EMPLOYERS)
def query_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    entry = _reviewable(ctx, args)
    ctx.start_dialog("hours_query", QueryDialog(entry=entry.id, minutes=entry.minutes))
    return [
        Reply(
            _(
                "What would you like to ask {student} about the {hours} on {day}? Type it now.",
                student=student_label(entry.placement.student),
                hours=hours_phrase(entry.minutes),
                day=_day(entry.work_date),
            ),
            ((Button(_p("button", "Cancel"), actions.HOURS_QUERY_CANCEL.payload()),),),
        )
    ]


@registry.action(actions.HOURS_QUERY_CANCEL, roles=EMPLOYERS)
def query_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply(_("OK, nothing sent."), replace=True)]


class QueryDialog(TypedDict):
    """The question typed about logged hours: which entry, and the minutes it had when asked
    (so an entry logged again meanwhile is not queried by mistake)."""

    entry: int
    minutes: int


@registry.dialog("hours_query")
def query_typed(ctx: Context, text: str, dialog: QueryDialog) -> list[Reply]:
    entry = _reviewable(ctx, [str(dialog.get("entry")), str(dialog.get("minutes"))])
    question = text.strip()
    if len(question) > MAX_QUERY:
        raise UserError(_("Please keep your question under {most} characters.", most=MAX_QUERY))
    ctx.clear_state(DIALOG)
    _answered(ctx, entry, HoursStatus.QUERIED, question)
    placement = entry.placement
    if placement.student is not None:
        with speaking_to(placement.student):
            text = _(
                "{name} at {organisation} has a question about the {hours} you logged on "
                "{day}: {question}\nIf they need correcting, log the day again: "
                "/hours {date} 2h (with the right hours).",
                name=ctx.person.first_name or _("Your supervisor"),
                organisation=placement.organisation.name,
                hours=hours_phrase(entry.minutes),
                day=_day(entry.work_date),
                question=question,
                date=entry.work_date.isoformat(),
            )
        ctx.notify(
            placement.student,
            text,
            kind="hours",
            key=f"hours-query:{entry.id}:{entry.minutes}:{ctx.now.isoformat()}",
        )
    return [
        Reply(_("Question sent. The student can correct the hours, and you'll hear back here."))
    ]


@registry.action(actions.MY_HOURS, roles=STUDENTS)
def my_hours_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [_my_hours(ctx)]


def _entries(ctx: Context, placement_ids: list[int]) -> dict[int, list[HoursEntry]]:
    found: dict[int, list[HoursEntry]] = defaultdict(list)
    if placement_ids:
        for entry in ctx.session.scalars(
            select(HoursEntry)
            .where(HoursEntry.placement_id.in_(placement_ids))
            .order_by(HoursEntry.work_date)
        ):
            found[entry.placement_id].append(entry)
    return found


STATUS_WORDS = {
    HoursStatus.PENDING: N_("waiting for your supervisor"),
    HoursStatus.CONFIRMED: N_("confirmed"),
    HoursStatus.QUERIED: N_("queried"),
}


def _my_hours(ctx: Context) -> Reply:
    placements = _my_placements(ctx)
    if not placements:
        return Reply(_(NO_PLACEMENT))
    totals = hours_totals(ctx, [p.id for p in placements])
    entries = _entries(ctx, [p.id for p in placements])
    lines = [_("Your placement hours:")]
    for p in placements:
        lines += [
            "",
            _(
                "{title} at {organisation} ({dates})",
                title=p.interest.opportunity.title,
                organisation=p.organisation.name,
                dates=dates_phrase(p),
            ),
            totals_phrase(totals[p.id], p.expected_hours),
        ]
        for entry in entries[p.id][-10:]:
            query = f': "{entry.query}"' if entry.query else ""
            lines.append(
                f"• {_day(entry.work_date)}: {hours_phrase(entry.minutes)}, "
                f"{_(STATUS_WORDS[entry.status])}{query}"
            )
    lines += ["", _("Log more like this: {example}.", example=example(local_today(ctx)))]
    return Reply("\n".join(lines))


def _overview(ctx: Context) -> Reply:
    """Totals per student and per placement, for a teacher's school or an employer."""
    placements, total = visible_placements(ctx)
    if not placements:
        return Reply(_("No placements yet, so no hours to show."))
    ids = [p.id for p in placements]
    totals = hours_totals(ctx, ids)
    over = dict(
        ctx.session.execute(
            select(HoursEntry.placement_id, func.count())
            .where(HoursEntry.placement_id.in_(ids), HoursEntry.over_limit.is_(True))
            .group_by(HoursEntry.placement_id)
        ).all()
    )
    # A student's total counts every placement, also those too old to be listed here.
    per_student = dict(
        ctx.session.execute(
            select(Placement.student_id, func.sum(HoursEntry.minutes))
            .join(HoursEntry, HoursEntry.placement_id == Placement.id)
            .where(
                scope(ctx),
                Placement.student_id.in_({p.student_id for p in placements} - {None}),
                HoursEntry.status == HoursStatus.CONFIRMED,
            )
            .group_by(Placement.student_id)
        ).all()
    )
    # Students who deleted their data are no longer one person: each placement stands alone.
    groups: dict[int | tuple[str, int], list[Placement]] = defaultdict(list)
    for p in placements:
        groups[p.student_id if p.student_id is not None else ("placement", p.id)].append(p)
    lines = [_("Placement hours:")]
    for key, group in groups.items():
        confirmed = (
            int(per_student.get(key) or 0)
            if isinstance(key, int)
            else totals[group[0].id].get(HoursStatus.CONFIRMED, 0)
        )
        lines += [
            "",
            _(
                "{student}: {hours} confirmed",
                student=student_name(ctx, group[0]),
                hours=hours_phrase(confirmed),
            ),
        ]
        lines += [_overview_line(p, totals[p.id], over.get(p.id, 0)) for p in group]
    if total > len(placements):
        lines += [
            "",
            _(
                "(The {shown} most recent placements of {total}.)",
                shown=len(placements),
                total=total,
            ),
        ]
    lines += ["", _("Each day's hours: /hours NUMBER.")]
    return Reply("\n".join(lines))


def _overview_line(placement: Placement, totals: dict[HoursStatus, int], days_over: int) -> str:
    values = {
        "number": placement.id,
        "title": placement.interest.opportunity.title,
        "organisation": placement.organisation.name,
        "totals": totals_phrase(totals, placement.expected_hours),
    }
    if not days_over:
        return _("• #{number} {title} at {organisation}: {totals}", **values)
    return _n(
        "• #{number} {title} at {organisation}: {totals}; {n} day over the under-16 limit",
        "• #{number} {title} at {organisation}: {totals}; {n} days over the under-16 limit",
        days_over,
        **values,
    )


def _placement_hours(ctx: Context, placement: Placement) -> Reply:
    entries = _entries(ctx, [placement.id])[placement.id]
    totals = hours_totals(ctx, [placement.id])[placement.id]
    lines = [
        _(
            "Hours for placement #{number}: {student}, {title} at {organisation}",
            number=placement.id,
            student=student_name(ctx, placement),
            title=placement.interest.opportunity.title,
            organisation=placement.organisation.name,
        ),
        totals_phrase(totals, placement.expected_hours),
    ]
    if not entries:
        lines.append(_("Nothing logged yet."))
    for entry in entries:
        flag = " " + _("(over the under-16 limit)") if entry.over_limit else ""
        query = f': "{entry.query}"' if entry.query else ""
        lines.append(
            f"• {_day(entry.work_date)}: {hours_phrase(entry.minutes)}, "
            f"{_(HOURS_STATUS[entry.status])}{query}{flag}"
        )
    return Reply("\n".join(lines))


def hours_to_confirm(ctx: Context) -> list[HoursEntry]:
    """Hours the employer member may confirm that wait for an answer, oldest first."""
    return list(
        ctx.session.scalars(
            select(HoursEntry)
            .join(Placement, Placement.id == HoursEntry.placement_id)
            .where(
                HoursEntry.status == HoursStatus.PENDING,
                Placement.organisation_id == ctx.person.organisation_id,
                Placement.student_id.is_not(None),
                Placement.supervisor_id.is_(None) | (Placement.supervisor_id == ctx.person.id),
            )
            .order_by(HoursEntry.work_date, HoursEntry.id)
        )
    )


def confirm_buttons(entry: HoursEntry) -> tuple[Button, ...]:
    """The answers to logged hours, as the supervisor's message has them."""
    return (
        Button(_p("button", "Confirm"), actions.HOURS_CONFIRM.payload(entry.id, entry.minutes)),
        Button(_p("button", "Query"), actions.HOURS_QUERY.payload(entry.id, entry.minutes)),
    )
