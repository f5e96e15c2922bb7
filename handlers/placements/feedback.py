"""Placement feedback: a 1–5 rating and a short comment from both sides, midway and at the end.

Each question is a ``Feedback`` row written when the placement's dates are known, due at a
reasonable local hour for the person asked. The scheduler asks what is due, once, and asks
again once if there is no answer; the answer (or a skip) closes the row for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypedDict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import (
    DIALOG,
    EMPLOYERS,
    STUDENTS,
    Button,
    Context,
    Registry,
    Reply,
    Timing,
    UserError,
    stored_buttons,
)
from bot.i18n import _, _p, speaking_to
from handlers import actions
from handlers.common import parse_id, student_label
from storage.db import claimed_batches
from storage.models import (
    Feedback,
    FeedbackStage,
    FeedbackStatus,
    Person,
    Placement,
    Role,
)
from storage.outbox import Outgoing, enqueue_many

registry = Registry()

MAX_COMMENT = 500
ANSWERERS = STUDENTS | EMPLOYERS
# A placement shorter than this gets only the end-of-placement questions.
MIN_DAYS_FOR_MIDPOINT = 2


def stage_days(placement: Placement) -> dict[FeedbackStage, date]:
    """The day each stage's questions are due, for the placement's dates as they are now."""
    if placement.end_date is None:
        return {}
    days = {FeedbackStage.END: placement.end_date}
    start = placement.start_date
    length = (placement.end_date - start).days if start is not None else 0
    if start is not None and length >= MIN_DAYS_FOR_MIDPOINT:
        days[FeedbackStage.MIDPOINT] = start + timedelta(days=length // 2)
    return days


def schedule_feedback(
    session: Session, placement: Placement, timing: Timing, now: datetime
) -> None:
    """Make the placement's waiting questions match its dates and supervisor.

    Questions already asked or answered stay as they are: nobody is asked twice. A question
    whose day has passed (dates entered late) is asked at the next local hour for it, but
    "halfway through" is never asked once the placement has ended.
    """
    respondents: dict[Role, Person | None] = {
        Role.STUDENT: placement.student,
        Role.EMPLOYER: placement.supervisor,
    }
    days = stage_days(placement)
    if FeedbackStage.END in days and days[FeedbackStage.END] < now.date():
        days.pop(FeedbackStage.MIDPOINT, None)
    existing = {
        (row.stage, row.respondent_role): row
        for row in session.scalars(select(Feedback).where(Feedback.placement_id == placement.id))
    }
    for (stage, role), row in existing.items():
        if row.status == FeedbackStatus.WAITING and (
            stage not in days or respondents[role] is None
        ):
            session.delete(row)
    for stage, day in days.items():
        for role, person in respondents.items():
            if person is None:
                continue
            due = _next_hour(day, timing, person, now)
            current = existing.get((stage, role))
            if current is None:
                session.add(
                    Feedback(
                        placement_id=placement.id,
                        stage=stage,
                        respondent_role=role,
                        respondent_id=person.id,
                        status=FeedbackStatus.WAITING,
                        due_at=due,
                    )
                )
            elif current.status == FeedbackStatus.WAITING:
                current.respondent_id = person.id
                current.due_at = due
    session.flush()


def _next_hour(day: date, timing: Timing, person: Person, now: datetime) -> datetime:
    """``feedback_at`` on ``day`` in the person's zone, or the next such hour if that is past."""
    zone = person.zone
    due = datetime.combine(day, timing.feedback_at, tzinfo=zone)
    if due >= now:
        return due
    today = now.astimezone(zone).date()
    due = datetime.combine(today, timing.feedback_at, tzinfo=zone)
    return (
        due
        if due >= now
        else datetime.combine(today + timedelta(days=1), timing.feedback_at, tzinfo=zone)
    )


def _question(row: Feedback) -> str:
    placement = row.placement
    title = placement.interest.opportunity.title
    organisation = placement.organisation.name
    student = student_label(placement.student)
    if row.respondent_role == Role.STUDENT:
        if row.stage == FeedbackStage.MIDPOINT:
            return _(
                "You're halfway through {title} at {organisation}. How is it going? "
                "Rate it from 1 (not well) to 5 (very well).",
                title=title,
                organisation=organisation,
            )
        return _(
            "Your placement {title} at {organisation} has ended. How was it overall? "
            "Rate it from 1 (poor) to 5 (excellent).",
            title=title,
            organisation=organisation,
        )
    if row.stage == FeedbackStage.MIDPOINT:
        return _(
            "{student} is halfway through {title}. How are they doing? "
            "Rate it from 1 (not well) to 5 (very well).",
            student=student,
            title=title,
        )
    return _(
        "{student}'s placement {title} has ended. How did it go? "
        "Rate it from 1 (poor) to 5 (excellent).",
        student=student,
        title=title,
    )


def _rating_buttons(row: Feedback) -> list[list[list[str]]]:
    return stored_buttons(
        [
            [Button(str(n), actions.FEEDBACK_RATING.payload(row.id, n)) for n in range(1, 6)],
            [Button(_p("button", "Skip"), actions.FEEDBACK_SKIP.payload(row.id))],
        ]
    )


@dataclass(frozen=True)
class Asked:
    asked: int
    reminded: int

    def __bool__(self) -> bool:
        return bool(self.asked or self.reminded)


def ask_due_feedback(
    session_factory: sessionmaker[Session], now: datetime, timing: Timing, *, batch: int = 200
) -> Asked:
    """Ask the questions due by ``now``, and remind once those unanswered for a while.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, and each message has a key of its own,
    so several workers never ask one question twice.
    """
    due = (
        select(Feedback)
        .where(Feedback.status == FeedbackStatus.WAITING, Feedback.due_at <= now)
        .order_by(Feedback.due_at, Feedback.id)
    )
    late = (
        select(Feedback)
        .where(
            Feedback.status == FeedbackStatus.ASKED,
            Feedback.reminded_at.is_(None),
            Feedback.asked_at <= now - timing.feedback_remind_after,
        )
        .order_by(Feedback.asked_at, Feedback.id)
    )

    def ask(session: Session, rows: Sequence[Feedback]) -> int:
        messages = []
        for row in rows:
            if row.respondent is None:
                row.status = FeedbackStatus.SKIPPED
                continue
            row.status = FeedbackStatus.ASKED
            row.asked_at = now
            messages.append(_message(row, row.respondent, "feedback"))
        return len(_send(session, messages, now, timing))

    def remind(session: Session, rows: Sequence[Feedback]) -> int:
        messages = []
        for row in rows:
            row.reminded_at = now
            if row.respondent is not None:
                messages.append(_message(row, row.respondent, "feedback-reminder", reminder=True))
        return len(_send(session, messages, now, timing))

    asked = sum(claimed_batches(session_factory, due, ask, batch=batch))
    return Asked(asked, sum(claimed_batches(session_factory, late, remind, batch=batch)))


def _message(row: Feedback, respondent: Person, kind: str, *, reminder: bool = False) -> Outgoing:
    # Keyed by what the question is, not by row id: SQLite may hand a deleted row's id out again.
    key = f"{kind}:{row.placement_id}:{row.stage.value}:{row.respondent_role.value}"
    with speaking_to(respondent):
        text = _question(row)
        if reminder:
            text = _("A gentle reminder: {question}", question=text)
        return Outgoing(
            respondent,
            text,
            "feedback",
            key,
            _rating_buttons(row),
            about=row.placement.student,
        )


def _send(session: Session, messages: list[Outgoing], now: datetime, timing: Timing) -> set[str]:
    """Queue feedback questions; a student's wait for the end of their quiet hours."""
    students = [m for m in messages if m.person.role == Role.STUDENT]
    others = [m for m in messages if m.person.role != Role.STUDENT]
    return enqueue_many(session, students, now=now, quiet=timing.quiet) | enqueue_many(
        session, others, now=now
    )


def _own_question(ctx: Context, raw_id: str | None) -> Feedback:
    row = ctx.session.get(Feedback, parse_id(raw_id))
    if row is None or row.respondent_id != ctx.person.id:
        raise UserError(_("That question isn't for you, or it no longer exists."))
    if row.status == FeedbackStatus.ANSWERED:
        raise UserError(_("You've already answered that one. Thank you!"))
    if row.status == FeedbackStatus.SKIPPED:
        raise UserError(_("You skipped that question, so there's nothing more to do."))
    if row.status == FeedbackStatus.WAITING:
        raise UserError(_("That question isn't open yet."))
    return row


@registry.action(actions.FEEDBACK_RATING, roles=ANSWERERS)
def rating_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2 or args[1] not in {"1", "2", "3", "4", "5"}:
        raise UserError(_("That button doesn't work any more. Send /help to see what you can do."))
    row = _own_question(ctx, args[0])
    row.rating = int(args[1])
    row.status = FeedbackStatus.ANSWERED
    row.answered_at = ctx.now
    ctx.start_dialog("feedback_comment", CommentDialog(feedback=row.id))
    return [
        Reply(
            _(
                "Thanks: {rating} out of 5. Would you like to add a short comment? Type it "
                "now (up to {most} characters).",
                rating=row.rating,
                most=MAX_COMMENT,
            ),
            ((Button(_p("button", "No comment"), actions.FEEDBACK_NO_COMMENT.payload(row.id)),),),
            replace=True,
        )
    ]


@registry.action(actions.FEEDBACK_SKIP, roles=ANSWERERS)
def skip_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    row = _own_question(ctx, args[0] if args else None)
    row.status = FeedbackStatus.SKIPPED
    row.answered_at = ctx.now
    return [Reply(_("No problem, skipped."), replace=True)]


@registry.action(actions.FEEDBACK_NO_COMMENT, roles=ANSWERERS)
def no_comment_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply(_("Thank you for your feedback!"), replace=True)]


class CommentDialog(TypedDict):
    """The comment typed after a rating: for which feedback question."""

    feedback: int


@registry.dialog("feedback_comment")
def comment_typed(ctx: Context, text: str, dialog: CommentDialog) -> list[Reply]:
    row = ctx.session.get(Feedback, parse_id(str(dialog.get("feedback"))))
    if row is None or row.respondent_id != ctx.person.id or row.comment is not None:
        ctx.clear_state(DIALOG)
        return [Reply(_("That question has closed. Thank you all the same!"))]
    comment = text.strip()
    if len(comment) > MAX_COMMENT:
        # Refusing changes nothing, so the question stays open for a shorter comment.
        raise UserError(
            _(
                "That's {count} characters; please keep it under {most} and send it again.",
                count=len(comment),
                most=MAX_COMMENT,
            ),
            ((Button(_p("button", "No comment"), actions.FEEDBACK_NO_COMMENT.payload(row.id)),),),
        )
    ctx.clear_state(DIALOG)
    row.comment = comment
    return [Reply(_("Thank you: your feedback is saved. It helps the school and the employer."))]


def forget_feedback(session: Session, placement_ids: list[int]) -> None:
    """A student leaving: no more questions about them, and no words that could name them."""
    if not placement_ids:
        return
    session.execute(
        delete(Feedback).where(
            Feedback.placement_id.in_(placement_ids),
            Feedback.status.in_((FeedbackStatus.WAITING, FeedbackStatus.ASKED)),
        )
    )
    for row in session.scalars(select(Feedback).where(Feedback.placement_id.in_(placement_ids))):
        row.comment = None
