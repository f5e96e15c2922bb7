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
from bot.i18n import N_, _, _p, fmt_number, speaking_to
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
    FeedbackStage,
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
HOURS_STATUS = {
    HoursStatus.PENDING: N_("pending"),
    HoursStatus.CONFIRMED: N_("confirmed"),
    HoursStatus.QUERIED: N_("queried"),
}
STAGES = {FeedbackStage.MIDPOINT: N_("midway"), FeedbackStage.END: N_("at the end")}


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
        return _("A former student")
    if ctx.person.role == Role.EMPLOYER:
        return student_label(student)
    return staff_label(ctx.session, student)


def dates_phrase(placement: Placement) -> str:
    start, end = placement.start_date, placement.end_date
    if start and end:
        return _("{start} to {end}", start=fmt_date(start), end=fmt_date(end))
    if start:
        return _("from {start}", start=fmt_date(start))
    return _("not set yet")


def hours_phrase(minutes: float) -> str:
    hours = minutes / 60
    # Translators: a number of hours, short: 7.5h
    return _("{hours}h", hours=fmt_number(round(hours, 2)))


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
    parts = [
        _(
            "{hours} confirmed of {expected} expected",
            hours=hours_phrase(confirmed),
            expected=hours_phrase(expected * 60),
        )
        if expected
        else _("{hours} confirmed", hours=hours_phrase(confirmed))
    ]
    if waiting := totals.get(HoursStatus.PENDING, 0):
        parts.append(_("{hours} waiting", hours=hours_phrase(waiting)))
    if queried := totals.get(HoursStatus.QUERIED, 0):
        parts.append(_("{hours} queried", hours=hours_phrase(queried)))
    return ", ".join(parts)


def placement_card(ctx: Context, placement: Placement, *, note: str = "") -> Reply:
    """A placement's details, with the buttons to change them, for an employer or teacher."""
    totals = hours_totals(ctx, [placement.id])[placement.id]
    supervisor = placement.supervisor.name if placement.supervisor is not None else None
    expected = placement.expected_hours
    lines = [
        f"{note}\n" if note else "",
        _(
            "Placement #{number}: {student}, {title} at {organisation}",
            number=placement.id,
            student=student_name(ctx, placement),
            title=placement.interest.opportunity.title,
            organisation=placement.organisation.name,
        ),
        _("Dates: {dates}", dates=dates_phrase(placement)),
        _("Supervisor: {name}", name=supervisor or _("not chosen")),
        _(
            "Expected hours: {hours}",
            hours=hours_phrase(expected * 60) if expected else _("not set yet"),
        ),
        _("Hours: {totals}", totals=totals_phrase(totals, placement.expected_hours)),
    ]
    pid = placement.id
    buttons: Buttons = (
        (
            Button(_p("button", "Dates"), actions.PLACEMENT_CHANGE.payload(pid, "dates")),
            Button(_p("button", "Supervisor"), actions.PLACEMENT_CHANGE.payload(pid, "sup")),
            Button(_p("button", "Expected hours"), actions.PLACEMENT_CHANGE.payload(pid, "hours")),
        ),
    )
    return Reply("\n".join(line for line in lines if line), buttons)


def placement_for(ctx: Context, raw_id: str | None) -> Placement:
    """The placement named, if this employer member or teacher may see and change it."""
    missing = UserError(_("I can't find that placement. Send /placements to see yours."))
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
    help=N_("placements, their dates, supervisors and hours: /placements 7"),
)
def placements(ctx: Context, args: str) -> list[Reply]:
    if args.strip():
        number = args.strip().removeprefix("#")
        if not is_number(number):
            raise UserError(_("Say which placement by its number, like /placements 7."))
        return [placement_card(ctx, placement_for(ctx, number))]
    found, total = visible_placements(ctx)
    if not found:
        return [
            Reply(
                _(
                    "No placements yet. When a student is marked as placed, the placement shows "
                    "up here."
                )
            )
        ]
    totals = hours_totals(ctx, [p.id for p in found])
    lines = [_("Placements:")]
    for p in found:
        lines.append(
            _(
                "#{number} {student}, {title} at {organisation}: {dates}; {totals}",
                number=p.id,
                student=student_name(ctx, p),
                title=p.interest.opportunity.title,
                organisation=p.organisation.name,
                dates=dates_phrase(p),
                totals=totals_phrase(totals[p.id], p.expected_hours),
            )
        )
    if total > len(found):
        lines.append(_("(The {shown} most recent of {total}.)", shown=len(found), total=total))
    lines.append(_("Open one with /placements NUMBER to change its details."))
    numbers = [Button(f"#{p.id}", actions.PLACEMENT.payload(p.id)) for p in found[:8]]
    rows = tuple(tuple(numbers[i : i + 4]) for i in range(0, len(numbers), 4))
    return [Reply("\n".join(lines), rows)]


@registry.action(actions.PLACEMENT, roles=STAFF | EMPLOYERS)
def placement_opened(ctx: Context, args: list[str]) -> list[Reply]:
    return [placement_card(ctx, placement_for(ctx, args[0] if args else None))]


@registry.action(actions.PLACEMENT_CHANGE, roles=STAFF | EMPLOYERS)
def change_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2 or args[1] not in ("dates", "sup", "hours"):
        raise UserError(_("That button doesn't work any more. Send /placements to start again."))
    placement = placement_for(ctx, args[0])
    cancel = (Button(_p("button", "Cancel"), actions.PLACEMENT.payload(placement.id)),)
    if args[1] == "sup":
        members = members_of(ctx.session, placement.organisation_id)
        if not members:
            raise UserError(
                _(
                    "{organisation} has no members on the bot yet: invite one with "
                    "/invite employer, then choose them here.",
                    organisation=placement.organisation.name,
                )
            )
        rows = tuple(
            (
                Button(
                    m.name or _("Member {number}", number=m.id),
                    actions.PLACEMENT_SUPERVISOR.payload(placement.id, m.id),
                ),
            )
            for m in members[:10]
        )
        return [Reply(_("Who supervises this placement?"), (*rows, cancel))]
    ctx.start_dialog("placement_edit", EditDialog(placement=placement.id, field=args[1]))
    if args[1] == "dates":
        example = example_range(ctx.now.astimezone(ctx.person.zone).date())
        return [
            Reply(
                _("When does the placement run? For example: {example}.", example=example),
                (cancel,),
            )
        ]
    return [Reply(_("How many hours should the placement take in all? Send a number."), (cancel,))]


@registry.action(actions.PLACEMENT_SUPERVISOR, roles=STAFF | EMPLOYERS)
def supervisor_chosen(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2:
        raise UserError(_("That button doesn't work any more. Send /placements to start again."))
    placement = placement_for(ctx, args[0])
    member = ctx.session.get(Person, parse_id(args[1]))
    if (
        member is None
        or member.role != Role.EMPLOYER
        or member.organisation_id != placement.organisation_id
    ):
        raise UserError(
            _(
                "That person isn't a member of {organisation} any more.",
                organisation=placement.organisation.name,
            )
        )
    if member.id == placement.supervisor_id:
        return [
            placement_card(
                ctx, placement, note=_("{name} already supervises it.", name=member.name)
            )
        ]
    placement.supervisor_id = member.id
    placement.supervisor = member
    return _changed(ctx, placement, _("{name} now supervises this placement.", name=member.name))


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
        return _changed(ctx, placement, _("Dates set: {dates}.", dates=dates_phrase(placement)))
    hours = text.strip().lower().removesuffix("hours").removesuffix("h").strip()
    if not is_number(hours, 4) or not 0 < int(hours) <= MAX_EXPECTED_HOURS:
        raise UserError(
            _("Please send a whole number of hours, from 1 to {most}.", most=MAX_EXPECTED_HOURS)
        )
    ctx.clear_state(DIALOG)
    placement.expected_hours = int(hours)
    return _changed(
        ctx,
        placement,
        _("Expected hours set: {hours}.", hours=hours_phrase(placement.expected_hours * 60)),
    )


def parse_dates(ctx: Context, text: str) -> tuple[date, date]:
    """A start and end date, said as two dates joined by "to" (or "..", or a dash)."""
    today = ctx.now.astimezone(ctx.person.zone).date()
    parts = _RANGE.split(text.strip())
    if len(parts) != 2 or not all(parts):
        raise UserError(
            _("Please send a start and an end date, like {example}.", example=example_range(today))
        )
    try:
        start = parse_day(parts[0], today, zone=ctx.person.zone)
        end = parse_day(parts[1], today, after=start, zone=ctx.person.zone)
    except WhenError as error:
        raise UserError(
            _("{error} For example: {example}.", error=str(error), example=example_range(today))
        ) from None
    if end < start:
        raise UserError(_("The end date is before the start date. Please send them again."))
    if (end - start).days > MAX_DAYS:
        raise UserError(_("That's longer than a year. Please check the dates."))
    return start, end


def _changed(ctx: Context, placement: Placement, done: str) -> list[Reply]:
    placement.updated_at = ctx.now
    schedule_feedback(ctx.session, placement, ctx.timing, ctx.now)
    if placement.student is not None:
        with speaking_to(placement.student):
            text = _updated(placement)
        # Two changes in one instant are two messages; the same change delivered twice is one.
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        ctx.notify(
            placement.student,
            text,
            kind="placement",
            key=f"placement:{placement.id}:{ctx.now.isoformat()}:{digest}",
        )
    return [placement_card(ctx, placement, note=done)]


def _updated(placement: Placement) -> str:
    """What the student is told when their placement's details change."""
    supervisor = placement.supervisor.name if placement.supervisor is not None else None
    details = [_("Dates: {dates}", dates=dates_phrase(placement))]
    if supervisor:
        details.append(_("supervisor: {name}", name=supervisor))
    if placement.expected_hours:
        details.append(_("expected hours: {hours}", hours=placement.expected_hours))
    return _(
        "Your placement {title} at {organisation} was updated. {details}.",
        title=placement.interest.opportunity.title,
        organisation=placement.organisation.name,
        details="; ".join(details),
    )


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
