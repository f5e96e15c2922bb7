"""Ask a person: a student passes a question the bot can't answer to their school's teachers.

A student sends ``/ask`` (or presses "Ask my teacher" under the reply to text the bot did not
understand). Every teacher and coordinator of the student's school gets the question with an
Answer button; the first to answer wins, the student hears the answer on their own platform,
and the other teachers hear who answered. A question still open a school day later is raised
once more (``raise_unanswered``, run by the scheduler).

On Telegram Answer asks for the answer in the chat; an adapter that shows forms (a Slack modal)
opens ``/answer``'s form instead, whose lines come back as ``/answer question: N ...``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import (
    DIALOG,
    STAFF,
    STUDENTS,
    Button,
    Context,
    Field,
    Form,
    Registry,
    Reply,
    Timing,
    UserError,
    not_understood,
)
from bot.i18n import N_, _, _n, speaking_to
from handlers import actions
from handlers.common import (
    clip,
    fmt_when,
    is_number,
    known_school,
    parse_id,
    school_staff,
    staff_label,
    stamp,
    student_school_id,
)
from storage.db import transaction
from storage.models import Person, Question, School
from storage.outbox import Outgoing, enqueue_many

registry = Registry()

MAX_QUESTION = 1000
MAX_ANSWER = 2000
# Open questions a student may have at once: enough for real use, too few to flood teachers.
MAX_OPEN = 5
# How much of a question is quoted back in notes about it (the full text is in the first one).
QUOTE = 120
DRAFT = "ask_draft"
KIND = "question"

ANSWER_FORM = Form(
    N_("Answer a question"),
    N_("Send answer"),
    (
        Field("question", N_("Question number"), "number", bounds=(1, 2_000_000_000)),
        Field("answer", N_("Your answer"), "long_text", max_length=MAX_ANSWER),
    ),
    summary="question_asked",
)


class AskDialog(TypedDict, total=False):
    """A student typing the question they asked for with /ask (nothing to remember)."""


class AnswerDialog(TypedDict, total=False):
    """A teacher typing their answer to question ``question``."""

    question: int


# --- The student -----------------------------------------------------------------------------


def _school_of(ctx: Context) -> School:
    """The student's school, if it has teachers to ask; a polite refusal otherwise."""
    school_id = student_school_id(ctx.person)
    if school_id is None or not school_staff(ctx.session, school_id):
        raise UserError(
            _(
                "I can't pass questions on yet: your class has no teacher on oppbot. "
                "Please ask your teacher in person."
            )
        )
    return ctx.session.get_one(School, school_id)


def _open_questions(session: Session, student: Person) -> list[Question]:
    return list(
        session.scalars(
            select(Question)
            .where(Question.student_id == student.id, Question.answered_at.is_(None))
            .order_by(Question.asked_at, Question.id)
        )
    )


def _question_text(text: str) -> str:
    question = text.strip()
    if not question:
        raise UserError(_("Please type your question, then send it."))
    if len(question) > MAX_QUESTION:
        raise UserError(
            _(
                "That's a long question. Please keep it under {limit} characters.",
                limit=MAX_QUESTION,
            )
        )
    return question


def _ask(ctx: Context, text: str) -> list[Reply]:
    """Pass ``text`` on to the student's teachers."""
    question_text = _question_text(text)
    school = _school_of(ctx)
    if len(_open_questions(ctx.session, ctx.person)) >= MAX_OPEN:
        raise UserError(
            _n(
                "You have {n} question waiting for your teachers already. Please wait for an "
                "answer before asking more.",
                "You have {n} questions waiting for your teachers already. Please wait for an "
                "answer before asking more.",
                MAX_OPEN,
            )
        )
    question = Question(
        student_id=ctx.person.id, school_id=school.id, text=question_text, asked_at=ctx.now
    )
    ctx.session.add(question)
    ctx.session.flush()
    _tell_teachers(ctx.session, question, ctx.now, again=False)
    return [
        Reply(
            _(
                "I've passed your question on to your teachers. I'll tell you here when one "
                "of them answers."
            )
        )
    ]


@registry.command("ask", roles=STUDENTS, help=N_("ask your teacher something I can't answer"))
def ask(ctx: Context, args: str) -> list[Reply]:
    if args:
        return _ask(ctx, args)
    _school_of(ctx)
    ctx.start_dialog("ask", AskDialog())
    prompt = _("What would you like to ask your teacher? Type it in one message (or /cancel).")
    waiting = _open_questions(ctx.session, ctx.person)
    if not waiting:
        return [Reply(prompt)]
    lines = [_("Your questions waiting for an answer:")] + [
        f"• {fmt_when(q.asked_at, ctx.person)}: {clip(q.text, QUOTE)}" for q in waiting
    ]
    return [Reply("\n".join(lines) + "\n\n" + prompt)]


@registry.dialog("ask")
def asked(ctx: Context, text: str, dialog: AskDialog) -> list[Reply]:
    ctx.clear_state(DIALOG)
    return _ask(ctx, text)


@registry.fallback
def offer_to_ask(ctx: Context, text: str) -> list[Reply] | None:
    """A student's text nothing understood: offer to pass it on to their teachers as it is."""
    if ctx.role not in STUDENTS or len(text) > MAX_QUESTION:
        return None
    school_id = student_school_id(ctx.person)
    if school_id is None or not school_staff(ctx.session, school_id):
        return None
    # The button can't carry the text: it waits here, and the button names it by its moment,
    # so an older button never sends a newer text.
    shown = stamp(ctx.now)
    ctx.set_state(DRAFT, {"text": text, "shown": shown})
    return [
        Reply(
            not_understood().text
            + "\n\n"
            + _("If it's a question for your teacher, I can pass it on."),
            ((Button(_("Ask my teacher"), actions.ASK_TEACHER.payload(shown)),),),
        )
    ]


@registry.action(actions.ASK_TEACHER, roles=STUDENTS)
def ask_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    draft = ctx.state(DRAFT) or {}
    text = draft.get("text")
    if args != [draft.get("shown")] or not isinstance(text, str):
        raise UserError(
            _(
                "That question was already passed on, or it's from too long ago. "
                "Send /ask to ask your teacher something."
            )
        )
    ctx.clear_state(DRAFT)
    return _ask(ctx, text)


# --- The teachers ----------------------------------------------------------------------------


def _answer_button(question: Question) -> Button:
    return Button(_("Answer"), actions.QUESTION_ANSWER.payload(question.id))


def _tell_teachers(session: Session, question: Question, now: datetime, *, again: bool) -> int:
    """Queue the question for each teacher of its school, in their language; how many."""
    label = staff_label(session, question.student)
    step = "again" if again else "ask"
    messages = []
    for teacher in school_staff(session, question.school_id):
        with speaking_to(teacher):
            text = _heading(question, label, teacher, step) + "\n\n"
            text += _("The first teacher to answer replies for everyone.")
            button = _answer_button(question)
        messages.append(
            Outgoing(
                teacher,
                text,
                KIND,
                f"question:{question.id}:{step}:{teacher.id}",
                [[[button.label, button.payload]]],
                about=question.student,
            )
        )
    return len(enqueue_many(session, messages, now=now))


def _heading(question: Question, label: str, teacher: Person, step: str) -> str:
    """A teacher's copy of the question (``step`` "ask", or "again" when raised again): who
    asked and what, in the current language."""
    if step == "again":
        heading = _(
            "Still waiting for an answer since {when}, a question from {student}:",
            when=fmt_when(question.asked_at, teacher),
            student=label,
        )
    else:
        heading = _("A question from {student}:", student=label)
    return heading + "\n\n" + question.text


def _staff_question(ctx: Context, raw_id: str | None) -> Question:
    """A question of this teacher's school; anything else reads as one that doesn't exist."""
    question = ctx.session.get(Question, parse_id(raw_id))
    school = known_school(ctx)
    if question is None or school is None or question.school_id != school.id:
        raise UserError(_("That question isn't for you, or it no longer exists."))
    return question


def _already_answered(question: Question) -> UserError:
    return UserError(
        _(
            "{teacher} already answered this question. Thank you all the same!",
            teacher=question.answered_by_name or _("A colleague"),
        )
    )


@registry.action(actions.QUESTION_ANSWER, roles=STAFF, form="answer")
def answer_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    question = _staff_question(ctx, args[0] if len(args) == 1 else None)
    if question.answered_at is not None:
        raise _already_answered(question)
    ctx.start_dialog("answer", AnswerDialog(question=question.id))
    return [
        Reply(
            _(
                "{student} asked:\n\n{question}\n\n"
                "Type your answer in one message (or /cancel). I'll pass it on as you write it.",
                student=staff_label(ctx.session, question.student),
                question=question.text,
            )
        )
    ]


@registry.dialog("answer")
def answer_typed(ctx: Context, text: str, dialog: AnswerDialog) -> list[Reply]:
    ctx.clear_state(DIALOG)
    return answer_question(ctx, str(dialog.get("question")), text)


@registry.command("answer", roles=STAFF, help=N_("answer a student's question"), form=ANSWER_FORM)
def answer_command(ctx: Context, args: str) -> list[Reply]:
    if not args:
        return questions_command(ctx, "")
    values, _problems = ANSWER_FORM.read(args)
    if "question" not in values:
        raise UserError(_("Press Answer under the question to answer it, or send /questions."))
    return answer_question(ctx, values["question"], values.get("answer", ""))


def answer_question(ctx: Context, raw_id: str, text: str) -> list[Reply]:
    """Record the answer if nobody answered first, and pass it on to the student."""
    question = _staff_question(ctx, raw_id)
    answer = text.strip()
    if not answer:
        raise UserError(_("Please type your answer."), fields={"answer": _("Please type it.")})
    if len(answer) > MAX_ANSWER:
        limit = _("Please keep it under {limit} characters.", limit=MAX_ANSWER)
        raise UserError(limit, fields={"answer": limit})
    # The name as the teacher gave it; a recipient without one reads it in their own words.
    name = ctx.person.name[:100] or None
    # One conditional update: of two teachers answering at once, exactly one changes the row.
    won = ctx.session.execute(
        update(Question)
        .where(Question.id == question.id, Question.answered_at.is_(None))
        .values(
            answered_at=ctx.now,
            answered_by_id=ctx.person.id,
            answered_by_name=name,
            answer=answer,
        )
        .execution_options(synchronize_session=False)
    )
    ctx.session.refresh(question)
    if cast(CursorResult[Any], won).rowcount != 1:
        raise _already_answered(question)
    student = question.student
    with speaking_to(student):
        ctx.notify(
            student,
            _(
                "{teacher} answered your question \u201c{question}\u201d:",
                teacher=name or _("Your teacher"),
                question=clip(question.text, QUOTE),
            )
            + "\n\n"
            + answer,
            kind=KIND,
            key=f"question:{question.id}:answer",
            about=student,
        )
    label = staff_label(ctx.session, student)
    # Every teacher's copy (the answerer's too) now says who answered, without its button.
    for colleague in school_staff(ctx.session, question.school_id):
        with speaking_to(colleague):
            answered = _(
                "Answered by {teacher}: {answer}", teacher=name or _("A colleague"), answer=answer
            )
            for step in ("ask", "again"):
                copy = f"question:{question.id}:{step}:{colleague.id}"
                ctx.edit_notice(
                    copy,
                    _heading(question, label, colleague, step) + "\n\n" + answered,
                    kind=KIND,
                    key=f"{copy}:answered",
                    buttons=(),
                    about=student,
                )
    return [Reply(_("Thank you! I've passed your answer on to {student}.", student=label))]


def waiting_questions(ctx: Context, school: School, limit: int) -> tuple[list[Question], int]:
    """The school's unanswered questions, oldest first (up to ``limit``), and how many."""
    waiting = Question.school_id == school.id, Question.answered_at.is_(None)
    total = ctx.session.scalar(select(func.count()).select_from(Question).where(*waiting)) or 0
    rows = ctx.session.scalars(
        select(Question).where(*waiting).order_by(Question.asked_at, Question.id).limit(limit)
    )
    return list(rows), total


def question_line(ctx: Context, question: Question) -> str:
    """One waiting question as staff see it in a list."""
    return _(
        "{student}, {when}: {question}",
        student=staff_label(ctx.session, question.student),
        when=fmt_when(question.asked_at, ctx.person),
        question=clip(question.text, QUOTE),
    )


def answer_buttons(question: Question) -> tuple[Button, ...]:
    return (_answer_button(question),)


@registry.command("questions", roles=STAFF, help=N_("students' questions waiting for an answer"))
def questions_command(ctx: Context, args: str) -> list[Reply]:
    school = known_school(ctx)
    if school is None:
        raise UserError(_("You're not linked to a school yet."))
    shown, total = waiting_questions(ctx, school, ctx.caps.page_size)
    if not shown:
        return [Reply(_("No student questions are waiting. Well done!"))]
    replies = [Reply(question_line(ctx, q), (answer_buttons(q),)) for q in shown]
    if total > len(shown):
        more = total - len(shown)
        replies.append(
            Reply(_n("…and {n} more, oldest first.", "…and {n} more, oldest first.", more))
        )
    return replies


@registry.lookup("question_asked", roles=STAFF)
def question_asked(ctx: Context, args: str) -> Reply:
    """The question an answer form is for, shown on the form."""
    values, _problems = ANSWER_FORM.read(args)
    raw = values.get("question")
    if raw is None or not is_number(raw):
        return Reply(_("Type the question's number, from /questions."))
    try:
        question = _staff_question(ctx, raw)
        if question.answered_at is not None:
            raise _already_answered(question)
    except UserError as refused:
        # On the question's field: a form for it is not worth opening (see Action.form).
        raise UserError(refused.reply.text, fields={"question": refused.reply.text}) from None
    return Reply(
        _(
            "{student} asked: {question}",
            student=staff_label(ctx.session, question.student),
            question=clip(question.text, 2000),
        )
    )


# --- Raised again ----------------------------------------------------------------------------


def school_days_later(moment: datetime, person: Person, days: int) -> datetime:
    """``days`` school days (Monday to Friday) after ``moment``, at the same local time."""
    # Adding days to an aware time keeps its wall-clock time, across a change of clocks too.
    local = moment.astimezone(person.zone)
    while days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def raise_unanswered(session_factory: sessionmaker[Session], now: datetime, timing: Timing) -> int:
    """Raise each question still unanswered a school day after it was asked once more;
    returns how many teachers were told."""
    told = 0
    # At least a calendar day per school day passes, so older rows are the only candidates.
    cutoff = now - timedelta(days=timing.question_raise_after_days)
    with transaction(session_factory) as session:
        candidates = session.scalars(
            select(Question)
            .where(
                Question.answered_at.is_(None),
                Question.raised_again_at.is_(None),
                Question.asked_at <= cutoff,
            )
            .order_by(Question.asked_at, Question.id)
            .with_for_update(skip_locked=True)
        )
        for question in candidates:
            due = school_days_later(
                question.asked_at, question.student, timing.question_raise_after_days
            )
            if due <= now:
                question.raised_again_at = now
                told += _tell_teachers(session, question, now, again=True)
    return told


# --- The student's own data ------------------------------------------------------------------


def mydata_lines(ctx: Context) -> list[str]:
    """The student's questions and the answers they got, for /mydata."""
    questions = ctx.session.scalars(
        select(Question)
        .where(Question.student_id == ctx.person.id)
        .order_by(Question.asked_at, Question.id)
    ).all()
    if not questions:
        return []
    lines = ["", _("Questions you asked your teachers:")]
    for q in questions:
        lines.append(f"• {fmt_when(q.asked_at, ctx.person)}: {q.text}")
        if q.answered_at is not None:
            lines.append(
                "  "
                + _(
                    "{teacher} answered: {answer}",
                    teacher=q.answered_by_name or _("A teacher"),
                    answer=q.answer or "",
                )
            )
        else:
            lines.append("  " + _("Waiting for an answer."))
    return lines
