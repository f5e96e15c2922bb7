"""Hours on a placement: the student logs them, the supervisor confirms or queries them.

A student logs a day and an amount ("/hours today 3h"); their supervisor gets Confirm and
Query buttons. Logging a day again corrects it until it is confirmed. An under-16 may log more
than the law allows for their age, but their teacher is warned at once. Teachers and
employers see the totals per student and per placement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from typing import TypedDict

from sqlalchemy import func, select

from bot.core import DIALOG, EMPLOYERS, STAFF, STUDENTS, Button, Context, Registry, Reply, UserError
from handlers import actions
from handlers.common import (
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
)
from handlers.placements.placements import (
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

MAX_DAY_MINUTES = 24 * 60
MAX_QUERY = 500
# How far back a day may be logged: a placement's hours are logged as it goes.
MAX_DAYS_BACK = 120


def example(today: date) -> str:
    """How to log hours, with a recent day (hours are logged for days already worked)."""
    day = example_day(today, past=True)
    return f"/hours today 3h, /hours yesterday 2.5h or /hours {day:%Y-%m-%d} 4h 30m"


_UNIT_H = r"(?:h|hr|hrs|hour|hours)"
_UNIT_M = r"(?:m|min|mins|minute|minutes)"
_AMOUNT = (
    rf"(?:\d{{1,2}}(?:[.,]\d{{1,2}})?\s*{_UNIT_H}?(?:\s*\d{{1,2}}\s*{_UNIT_M})?"
    rf"|\d{{1,4}}\s*{_UNIT_M})"
)
_AMOUNT_LAST = re.compile(rf"(?P<day>.*?)\s*(?P<amount>{_AMOUNT})", re.IGNORECASE)
_AMOUNT_FIRST = re.compile(rf"(?P<amount>{_AMOUNT})\s+(?P<day>.+)", re.IGNORECASE)
_PARTS = re.compile(
    rf"(?:(\d{{1,2}}(?:[.,]\d{{1,2}})?)\s*{_UNIT_H}?)?\s*(?:(\d{{1,4}})\s*{_UNIT_M})?",
    re.IGNORECASE,
)


def _minutes(amount: str, today: date) -> int:
    """Minutes in "3h", "2.5", "1h 30m" or "90m" (a bare number is hours)."""
    text = amount.strip().lower()
    if re.fullmatch(rf"\d{{1,4}}\s*{_UNIT_M}", text):
        return int(re.match(r"\d+", text).group())  # type: ignore[union-attr]
    match = _PARTS.fullmatch(text)
    if match is None or not (match.group(1) or match.group(2)):
        raise UserError(f"I couldn't read the hours there. Try {example(today)}.")
    hours = float((match.group(1) or "0").replace(",", "."))
    return round(hours * 60) + int(match.group(2) or 0)


def _work_day(phrase: str, today: date) -> date:
    """The day a phrase names, looking back: hours are logged for days already worked."""
    if not phrase.strip():
        return today
    try:
        return parse_day(phrase, today, past=True, example=example(today))
    except WhenError as error:
        raise UserError(str(error)) from None


def parse_log(text: str, today: date) -> tuple[date, int]:
    """The day and the minutes that "today 3h" (or "3h yesterday", "2026-12-01 2.5") says."""
    phrase = " ".join(text.split())
    try:
        parse_day(phrase, today)
    except WhenError:
        pass
    else:
        raise UserError(f"How many hours? For example: /hours {phrase} 3h.")
    match = _AMOUNT_LAST.fullmatch(phrase) or _AMOUNT_FIRST.fullmatch(phrase)
    if match is None:
        raise UserError(f"Say the day and the hours, like {example(today)}.")
    day = _work_day(match.group("day"), today)
    minutes = _minutes(match.group("amount"), today)
    if minutes <= 0:
        raise UserError("That's no time at all. Log the hours you worked, like /hours today 3h.")
    if minutes > MAX_DAY_MINUTES:
        raise UserError("There are only 24 hours in a day! Please check the number.")
    check_day(day, today)
    return day, minutes


def check_day(day: date, today: date) -> None:
    """Refuse a day that can't have been worked yet, or is too long ago to log here."""
    if day > today:
        raise UserError(f"{fmt_date(day)} hasn't happened yet: log hours once you've worked them.")
    if (today - day).days > MAX_DAYS_BACK:
        raise UserError(
            f"{fmt_date(day)} is too long ago to log here. Please ask your teacher to help."
        )


def _day(value: date) -> str:
    return f"{value:%a} {fmt_date(value)}"


@registry.command(
    "hours",
    "log",
    roles=STUDENTS | STAFF | EMPLOYERS,
    help="log placement hours: /hours today 3h (teachers and employers: the totals)",
)
def hours(ctx: Context, args: str) -> list[Reply]:
    if ctx.role != Role.STUDENT:
        number = args.strip().removeprefix("#")
        if number:
            if not is_number(number):
                raise UserError("Say which placement by its number, like /hours 7.")
            return [_placement_hours(ctx, placement_for(ctx, number))]
        return [_overview(ctx)]
    if not args.strip():
        return [_my_hours(ctx)]
    day, minutes = parse_log(args, local_today(ctx))
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
        raise UserError(
            "You don't have a placement yet. Once an employer places you, log your hours "
            "here. Find one with /browse."
        )
    chosen = [p for p in placements if _covers(p, day)]
    if placement_id is not None:
        if placement_id not in {p.id for p in placements}:
            raise UserError("I can't find that placement. Send /hours to see yours.")
        chosen = [p for p in chosen if p.id == placement_id]
    if not chosen:
        only = placements[0]
        raise UserError(
            f"{fmt_date(day)} is outside your placement ({dates_phrase(only)}). If the dates "
            "are wrong, ask your teacher or supervisor to change them."
        )
    if len(chosen) > 1:
        stamp = f"{day:%Y%m%d}"
        rows = tuple(
            (
                Button(
                    clip(f"{p.interest.opportunity.title} at {p.organisation.name}", 40),
                    actions.HOURS_PLACEMENT.payload(p.id, stamp, minutes),
                ),
            )
            for p in chosen[:6]
        )
        return [Reply(f"Which placement were the {hours_phrase(minutes)} for?", rows)]
    return [_record(ctx, chosen[0], day, minutes)]


@registry.action(actions.HOURS_PLACEMENT, roles=STUDENTS)
def placement_chosen(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 3 or not is_number(args[1], 8) or not is_number(args[2], 4):
        raise UserError("That button doesn't work any more. Send /hours to start again.")
    try:
        day = date(int(args[1][:4]), int(args[1][4:6]), int(args[1][6:]))
    except ValueError:
        raise UserError("That button doesn't work any more. Send /hours to start again.") from None
    minutes = int(args[2])
    if not 0 < minutes <= MAX_DAY_MINUTES:
        raise UserError("That button doesn't work any more. Send /hours to start again.")
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
            f"Your {hours_phrase(entry.minutes)} on {_day(day)} are already confirmed by your "
            "supervisor, so they can't be changed here. Ask your supervisor if they're wrong."
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
    where = f"{placement.interest.opportunity.title} at {placement.organisation.name}"
    then = (
        "Your supervisor will confirm them."
        if asked
        else "Nobody from the employer is on the bot yet to confirm them; your teacher can see "
        "them."
    )
    lines = [
        f"{'Corrected' if corrected else 'Logged'}: {hours_phrase(minutes)} on {_day(day)} "
        f"for {where}. {then}"
    ]
    if over:
        lines.append(
            f"Careful: {over}. That's more than the law allows for under-16s, so I've let your "
            "teacher know."
        )
        _warn_teachers(ctx, placement, entry, over)
    return Reply("\n".join(lines), ((Button("My hours", actions.MY_HOURS.payload()),),))


def _over_limit(ctx: Context, placement: Placement, day: date, minutes: int) -> str | None:
    """Why these hours break the under-16 limits, or None when they don't (or don't apply)."""
    if not may_be_under_16(ctx.person):
        return None
    limits = ctx.timing.work_limits
    on_day = minutes + _others(ctx, placement, day, day, day)
    if day.weekday() < 5 and on_day > limits.school_day_hours * 60:
        return (
            f"{hours_phrase(on_day)} on a school day is over the {limits.school_day_hours:g}h limit"
        )
    monday = day - timedelta(days=day.weekday())
    week = minutes + _others(ctx, placement, day, monday, monday + timedelta(days=6))
    if week > limits.school_week_hours * 60:
        return (
            f"{hours_phrase(week)} in the week of {fmt_date(monday)} is over the "
            f"{limits.school_week_hours:g}h limit for a school week"
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


def _age_words(student: Person) -> str:
    return "is under 16" if student.under_16 else "is under 18 and hasn't said if under 16"


def _warn_teachers(ctx: Context, placement: Placement, entry: HoursEntry, over: str) -> None:
    student = ctx.person
    text = (
        f"Please check: {staff_label(ctx.session, student)}, who {_age_words(student)}, "
        "logged "
        f"{hours_phrase(entry.minutes)} on {_day(entry.work_date)} at "
        f"{placement.organisation.name}: {over}. See /hours {placement.id}."
    )
    for teacher in school_staff(ctx.session, placement.school_id):
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
    who = student_label(placement.student)
    verb = "corrected their hours to" if corrected else "logged"
    text = (
        f"{who} {verb} {hours_phrase(entry.minutes)} on {_day(entry.work_date)} for "
        f"{placement.interest.opportunity.title}. Is that right?"
    )
    buttons = (confirm_buttons(entry),)
    reviewers = _reviewers(ctx, placement)
    for member in reviewers:
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
        raise UserError("That button doesn't work any more. Send /hours to see the hours.")
    entry = ctx.session.get(HoursEntry, parse_id(args[0]))
    if entry is None or entry.placement.organisation_id != ctx.person.organisation_id:
        raise UserError("I can't find those hours: they may have been removed.")
    placement = entry.placement
    if placement.student_id is None:
        raise UserError(
            "That student has left and their data was deleted, so there's nothing to answer."
        )
    if placement.supervisor_id is not None and placement.supervisor_id != ctx.person.id:
        supervisor = placement.supervisor.name if placement.supervisor is not None else "another"
        raise UserError(f"Only the placement's supervisor, {supervisor}, can answer for these.")
    if entry.minutes != int(args[1]):
        raise UserError("Those hours were changed since: please answer the newer message.")
    if entry.status == HoursStatus.CONFIRMED:
        raise UserError("You've already confirmed those hours. Thank you!")
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
        ctx.notify(
            placement.student,
            f"{ctx.person.first_name or 'Your supervisor'} confirmed your "
            f"{hours_phrase(entry.minutes)} on {_day(entry.work_date)} at "
            f"{placement.organisation.name}.",
            kind="hours",
            key=f"hours-confirmed:{entry.id}:{entry.minutes}:{ctx.now.isoformat()}",
        )
    who = student_label(placement.student)
    return [
        Reply(
            f"Confirmed {hours_phrase(entry.minutes)} on {_day(entry.work_date)} for {who}.",
            replace=True,
        )
    ]


@registry.action(actions.HOURS_QUERY, roles=EMPLOYERS)
def query_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    entry = _reviewable(ctx, args)
    ctx.start_dialog("hours_query", QueryDialog(entry=entry.id, minutes=entry.minutes))
    return [
        Reply(
            f"What would you like to ask {student_label(entry.placement.student)} about "
            f"the {hours_phrase(entry.minutes)} on {_day(entry.work_date)}? Type it now.",
            ((Button("Cancel", actions.HOURS_QUERY_CANCEL.payload()),),),
        )
    ]


@registry.action(actions.HOURS_QUERY_CANCEL, roles=EMPLOYERS)
def query_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply("OK, nothing sent.", replace=True)]


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
        raise UserError(f"Please keep your question under {MAX_QUERY} characters.")
    ctx.clear_state(DIALOG)
    _answered(ctx, entry, HoursStatus.QUERIED, question)
    placement = entry.placement
    if placement.student is not None:
        ctx.notify(
            placement.student,
            f"{ctx.person.first_name or 'Your supervisor'} at {placement.organisation.name} "
            f"has a question about the {hours_phrase(entry.minutes)} you logged on "
            f"{_day(entry.work_date)}: {question}\nIf they need correcting, log the day "
            f"again: /hours {entry.work_date.isoformat()} 2h (with the right hours).",
            kind="hours",
            key=f"hours-query:{entry.id}:{entry.minutes}:{ctx.now.isoformat()}",
        )
    return [Reply("Question sent. The student can correct the hours, and you'll hear back here.")]


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
    HoursStatus.PENDING: "waiting for your supervisor",
    HoursStatus.CONFIRMED: "confirmed",
    HoursStatus.QUERIED: "queried",
}


def _my_hours(ctx: Context) -> Reply:
    placements = _my_placements(ctx)
    if not placements:
        return Reply(
            "You don't have a placement yet. Once an employer places you, log your hours "
            "here. Find one with /browse."
        )
    totals = hours_totals(ctx, [p.id for p in placements])
    entries = _entries(ctx, [p.id for p in placements])
    lines = ["Your placement hours:"]
    for p in placements:
        lines += [
            "",
            f"{p.interest.opportunity.title} at {p.organisation.name} ({dates_phrase(p)})",
            totals_phrase(totals[p.id], p.expected_hours),
        ]
        for entry in entries[p.id][-10:]:
            query = f': "{entry.query}"' if entry.query else ""
            lines.append(
                f"• {_day(entry.work_date)}: {hours_phrase(entry.minutes)}, "
                f"{STATUS_WORDS[entry.status]}{query}"
            )
    lines += ["", f"Log more like this: {example(local_today(ctx))}."]
    return Reply("\n".join(lines))


def _overview(ctx: Context) -> Reply:
    """Totals per student and per placement, for a teacher's school or an employer."""
    placements, total = visible_placements(ctx)
    if not placements:
        return Reply("No placements yet, so no hours to show.")
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
    lines = ["Placement hours:"]
    for key, group in groups.items():
        confirmed = (
            int(per_student.get(key) or 0)
            if isinstance(key, int)
            else totals[group[0].id].get(HoursStatus.CONFIRMED, 0)
        )
        lines += ["", f"{student_name(ctx, group[0])}: {hours_phrase(confirmed)} confirmed"]
        for p in group:
            days = over.get(p.id, 0)
            warning = (
                f"; {days} {'day' if days == 1 else 'days'} over the under-16 limit" if days else ""
            )
            lines.append(
                f"• #{p.id} {p.interest.opportunity.title} at {p.organisation.name}: "
                f"{totals_phrase(totals[p.id], p.expected_hours)}{warning}"
            )
    if total > len(placements):
        lines += ["", f"(The {len(placements)} most recent placements of {total}.)"]
    lines += ["", "Each day's hours: /hours NUMBER."]
    return Reply("\n".join(lines))


def _placement_hours(ctx: Context, placement: Placement) -> Reply:
    entries = _entries(ctx, [placement.id])[placement.id]
    totals = hours_totals(ctx, [placement.id])[placement.id]
    lines = [
        f"Hours for placement #{placement.id}: {student_name(ctx, placement)}, "
        f"{placement.interest.opportunity.title} at {placement.organisation.name}",
        totals_phrase(totals, placement.expected_hours),
    ]
    if not entries:
        lines.append("Nothing logged yet.")
    for entry in entries:
        flag = " (over the under-16 limit)" if entry.over_limit else ""
        query = f': "{entry.query}"' if entry.query else ""
        lines.append(
            f"• {_day(entry.work_date)}: {hours_phrase(entry.minutes)}, "
            f"{entry.status.value}{query}{flag}"
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
        Button("Confirm", actions.HOURS_CONFIRM.payload(entry.id, entry.minutes)),
        Button("Query", actions.HOURS_QUERY.payload(entry.id, entry.minutes)),
    )
