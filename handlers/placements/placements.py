"""Placements: when a student is placed, its dates, supervisor and expected hours.

A placement is made when an employer (or the student's teacher) marks an application placed.
It starts from the listing's dates with the member who placed the student as supervisor;
either side fixes the details from the placement's card. Its dates decide when feedback is
asked, and its supervisor confirms the hours the student logs.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import TypedDict

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from bot.core import DIALOG, EMPLOYERS, STAFF, Button, Context, Registry, Reply, UserError
from handlers import actions
from handlers.common import (
    WhenError,
    example_range,
    fmt_date,
    is_number,
    members_of,
    parse_day,
    parse_id,
    staff_label,
    staff_school,
    student_label,
    student_school_id,
)
from handlers.placements.feedback import schedule_feedback
from storage.models import (
    HoursEntry,
    HoursStatus,
    Interest,
    Person,
    Placement,
    Role,
)

registry = Registry()

MAX_EXPECTED_HOURS = 2000
MAX_DAYS = 366
MAX_LISTED = 30
_RANGE = re.compile(r"\s*(?:\.\.|\s(?:to|until|till|-|–|—)\s)\s*", re.IGNORECASE)
Buttons = tuple[tuple[Button, ...], ...]


def create_placement(ctx: Context, interest: Interest) -> Placement:
    """The placement for an application just marked placed, from the listing's dates."""
    student = interest.person
    assert student is not None
    opportunity = interest.opportunity
    supervisor = ctx.person if ctx.person.role == Role.EMPLOYER else None
    placement = Placement(
        interest_id=interest.id,
        student_id=student.id,
        organisation_id=opportunity.organisation_id,
        school_id=student_school_id(student),
        supervisor_id=supervisor.id if supervisor is not None else None,
        start_date=opportunity.start_date,
        end_date=opportunity.end_date,
        created_by_id=ctx.person.id,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(placement)
    ctx.session.flush()
    schedule_feedback(ctx.session, placement, ctx.timing, ctx.now)
    return placement


def student_name(ctx: Context, placement: Placement) -> str:
    """The student as this reader may see them: an employer gets a first name at most."""
    student = placement.student
    if student is None:
        return "A former student"
    if ctx.person.role == Role.EMPLOYER:
        return student_label(student)
    return staff_label(ctx.session, student)


def dates_phrase(placement: Placement) -> str:
    start, end = placement.start_date, placement.end_date
    if start and end:
        return f"{fmt_date(start)} to {fmt_date(end)}"
    if start:
        return f"from {fmt_date(start)}"
    return "not set yet"


def hours_phrase(minutes: float) -> str:
    hours = minutes / 60
    return f"{hours:g}h" if hours == round(hours, 2) else f"{hours:.2f}h"


def hours_totals(ctx: Context, placement_ids: list[int]) -> dict[int, dict[HoursStatus, int]]:
    """Minutes logged per placement and status, in one query."""
    totals: dict[int, dict[HoursStatus, int]] = {pid: {} for pid in placement_ids}
    if not placement_ids:
        return totals
    for pid, status, minutes in ctx.session.execute(
        select(HoursEntry.placement_id, HoursEntry.status, func.sum(HoursEntry.minutes))
        .where(HoursEntry.placement_id.in_(placement_ids))
        .group_by(HoursEntry.placement_id, HoursEntry.status)
    ):
        totals[pid][status] = int(minutes)
    return totals


def totals_phrase(totals: dict[HoursStatus, int], expected: int | None) -> str:
    confirmed = totals.get(HoursStatus.CONFIRMED, 0)
    parts = [f"{hours_phrase(confirmed)} confirmed"]
    if expected:
        parts[0] += f" of {expected}h expected"
    if waiting := totals.get(HoursStatus.PENDING, 0):
        parts.append(f"{hours_phrase(waiting)} waiting")
    if queried := totals.get(HoursStatus.QUERIED, 0):
        parts.append(f"{hours_phrase(queried)} queried")
    return ", ".join(parts)


def placement_card(ctx: Context, placement: Placement, *, note: str = "") -> Reply:
    """A placement's details, with the buttons to change them, for an employer or teacher."""
    totals = hours_totals(ctx, [placement.id])[placement.id]
    supervisor = placement.supervisor.name if placement.supervisor is not None else "not chosen"
    expected = f"{placement.expected_hours}h" if placement.expected_hours else "not set yet"
    lines = [
        f"{note}\n" if note else "",
        f"Placement #{placement.id}: {student_name(ctx, placement)}, "
        f"{placement.interest.opportunity.title} at {placement.organisation.name}",
        f"Dates: {dates_phrase(placement)}",
        f"Supervisor: {supervisor}",
        f"Expected hours: {expected}",
        f"Hours: {totals_phrase(totals, placement.expected_hours)}",
    ]
    pid = placement.id
    buttons: Buttons = (
        (
            Button("Dates", actions.PLACEMENT_CHANGE.payload(pid, "dates")),
            Button("Supervisor", actions.PLACEMENT_CHANGE.payload(pid, "sup")),
            Button("Expected hours", actions.PLACEMENT_CHANGE.payload(pid, "hours")),
        ),
    )
    return Reply("\n".join(line for line in lines if line), buttons)


def placement_for(ctx: Context, raw_id: str | None) -> Placement:
    """The placement named, if this employer member or teacher may see and change it."""
    missing = UserError("I can't find that placement. Send /placements to see yours.")
    if raw_id is None or not is_number(raw_id):
        raise missing
    placement = ctx.session.scalar(select(Placement).where(Placement.id == int(raw_id), scope(ctx)))
    if placement is None:
        raise missing
    return placement


def scope(ctx: Context) -> ColumnElement[bool]:
    """The placements this person may see: their organisation's, or their school's."""
    if ctx.person.role == Role.EMPLOYER:
        return Placement.organisation_id == ctx.person.organisation_id
    return Placement.school_id == staff_school(ctx).id


def visible_placements(ctx: Context) -> tuple[list[Placement], int]:
    """The most recent placements this person may see (with what they show), and how many
    there are in all."""
    found = list(
        ctx.session.scalars(
            select(Placement)
            .where(scope(ctx))
            .options(
                selectinload(Placement.interest).selectinload(Interest.opportunity),
                selectinload(Placement.student),
                selectinload(Placement.organisation),
            )
            .order_by(Placement.created_at.desc(), Placement.id.desc())
            .limit(MAX_LISTED)
        )
    )
    total = ctx.session.scalar(select(func.count()).select_from(Placement).where(scope(ctx)))
    return found, int(total or 0)


@registry.command(
    "placements",
    "placement",
    roles=STAFF | EMPLOYERS,
    help="placements, their dates, supervisors and hours: /placements 7",
)
def placements(ctx: Context, args: str) -> list[Reply]:
    if args.strip():
        number = args.strip().removeprefix("#")
        if not is_number(number):
            raise UserError("Say which placement by its number, like /placements 7.")
        return [placement_card(ctx, placement_for(ctx, number))]
    found, total = visible_placements(ctx)
    if not found:
        return [
            Reply(
                "No placements yet. When a student is marked as placed, the placement shows "
                "up here."
            )
        ]
    totals = hours_totals(ctx, [p.id for p in found])
    lines = ["Placements:"]
    for p in found:
        lines.append(
            f"#{p.id} {student_name(ctx, p)}, {p.interest.opportunity.title} at "
            f"{p.organisation.name}: {dates_phrase(p)}; "
            f"{totals_phrase(totals[p.id], p.expected_hours)}"
        )
    if total > len(found):
        lines.append(f"(The {len(found)} most recent of {total}.)")
    lines.append("Open one with /placements NUMBER to change its details.")
    numbers = [Button(f"#{p.id}", actions.PLACEMENT.payload(p.id)) for p in found[:8]]
    rows = tuple(tuple(numbers[i : i + 4]) for i in range(0, len(numbers), 4))
    return [Reply("\n".join(lines), rows)]


@registry.action(actions.PLACEMENT, roles=STAFF | EMPLOYERS)
def placement_opened(ctx: Context, args: list[str]) -> list[Reply]:
    return [placement_card(ctx, placement_for(ctx, args[0] if args else None))]


@registry.action(actions.PLACEMENT_CHANGE, roles=STAFF | EMPLOYERS)
def change_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2 or args[1] not in ("dates", "sup", "hours"):
        raise UserError("That button doesn't work any more. Send /placements to start again.")
    placement = placement_for(ctx, args[0])
    cancel = (Button("Cancel", actions.PLACEMENT.payload(placement.id)),)
    if args[1] == "sup":
        members = members_of(ctx.session, placement.organisation_id)
        if not members:
            raise UserError(
                f"{placement.organisation.name} has no members on the bot yet: invite one "
                "with /invite employer, then choose them here."
            )
        rows = tuple(
            (
                Button(
                    m.name or f"Member {m.id}",
                    actions.PLACEMENT_SUPERVISOR.payload(placement.id, m.id),
                ),
            )
            for m in members[:10]
        )
        return [Reply("Who supervises this placement?", (*rows, cancel))]
    ctx.start_dialog("placement_edit", EditDialog(placement=placement.id, field=args[1]))
    if args[1] == "dates":
        example = example_range(ctx.now.astimezone(ctx.person.zone).date())
        return [Reply(f"When does the placement run? For example: {example}.", (cancel,))]
    return [Reply("How many hours should the placement take in all? Send a number.", (cancel,))]


@registry.action(actions.PLACEMENT_SUPERVISOR, roles=STAFF | EMPLOYERS)
def supervisor_chosen(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2:
        raise UserError("That button doesn't work any more. Send /placements to start again.")
    placement = placement_for(ctx, args[0])
    member = ctx.session.get(Person, parse_id(args[1]))
    if (
        member is None
        or member.role != Role.EMPLOYER
        or member.organisation_id != placement.organisation_id
    ):
        raise UserError(f"That person isn't a member of {placement.organisation.name} any more.")
    if member.id == placement.supervisor_id:
        return [placement_card(ctx, placement, note=f"{member.name} already supervises it.")]
    placement.supervisor_id = member.id
    placement.supervisor = member
    return _changed(ctx, placement, f"{member.name} now supervises this placement.")


class EditDialog(TypedDict):
    """The value typed for a placement's detail: which placement, and which detail
    ("dates" or "hours")."""

    placement: int
    field: str


@registry.dialog("placement_edit")
def edit_typed(ctx: Context, text: str, dialog: EditDialog) -> list[Reply]:
    placement = placement_for(ctx, str(dialog.get("placement")))
    if dialog.get("field") == "dates":
        start, end = parse_dates(ctx, text)
        ctx.clear_state(DIALOG)
        placement.start_date, placement.end_date = start, end
        return _changed(ctx, placement, f"Dates set: {dates_phrase(placement)}.")
    hours = text.strip().lower().removesuffix("hours").removesuffix("h").strip()
    if not is_number(hours, 4) or not 0 < int(hours) <= MAX_EXPECTED_HOURS:
        raise UserError(f"Please send a whole number of hours, from 1 to {MAX_EXPECTED_HOURS}.")
    ctx.clear_state(DIALOG)
    placement.expected_hours = int(hours)
    return _changed(ctx, placement, f"Expected hours set: {placement.expected_hours}h.")


def parse_dates(ctx: Context, text: str) -> tuple[date, date]:
    """A start and end date, said as two dates joined by "to" (or "..", or a dash)."""
    today = ctx.now.astimezone(ctx.person.zone).date()
    parts = _RANGE.split(text.strip())
    if len(parts) != 2 or not all(parts):
        raise UserError(f"Please send a start and an end date, like {example_range(today)}.")
    try:
        start = parse_day(parts[0], today)
        end = parse_day(parts[1], today, after=start)
    except WhenError as error:
        raise UserError(f"{error} For example: {example_range(today)}.") from None
    if end < start:
        raise UserError("The end date is before the start date. Please send them again.")
    if (end - start).days > MAX_DAYS:
        raise UserError("That's longer than a year. Please check the dates.")
    return start, end


def _changed(ctx: Context, placement: Placement, done: str) -> list[Reply]:
    placement.updated_at = ctx.now
    schedule_feedback(ctx.session, placement, ctx.timing, ctx.now)
    if placement.student is not None:
        supervisor = placement.supervisor.name if placement.supervisor is not None else None
        details = [f"Dates: {dates_phrase(placement)}"]
        if supervisor:
            details.append(f"supervisor: {supervisor}")
        if placement.expected_hours:
            details.append(f"expected hours: {placement.expected_hours}")
        text = (
            f"Your placement {placement.interest.opportunity.title} at "
            f"{placement.organisation.name} was updated. " + "; ".join(details) + "."
        )
        # Two changes in one instant are two messages; the same change delivered twice is one.
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        ctx.notify(
            placement.student,
            text,
            kind="placement",
            key=f"placement:{placement.id}:{ctx.now.isoformat()}:{digest}",
        )
    return [placement_card(ctx, placement, note=done)]


def upcoming_placements(ctx: Context, today: date) -> list[Placement]:
    """The employer's placements that have not ended by ``today``, soonest first."""
    return list(
        ctx.session.scalars(
            select(Placement)
            .where(
                Placement.organisation_id == ctx.person.organisation_id,
                Placement.student_id.is_not(None),
                Placement.end_date.is_(None) | (Placement.end_date >= today),
            )
            .order_by(Placement.start_date, Placement.id)
        )
    )
