"""A member's dashboard: what needs them now, at a glance, and the flows they start most.

The areas say what is waiting (their public names); this module only picks, per role, what a
person should see first. Adapters that have a place for it (Slack's App Home) show it; the
buttons on it are the same as on the messages the items came from.
"""

from __future__ import annotations

from bot.core import Button, Context, Dashboard, Item, Panel, Registry
from bot.i18n import N_, _
from handlers import actions
from handlers.applications import employer_buttons, live_applications, my_applications
from handlers.common import (
    STAFF_ROLES,
    STATUS_LABELS,
    clip,
    fmt_date,
    headline,
    known_school,
    local_today,
    person_zone,
    staff_label,
    student_label,
)
from handlers.listings import proposal_buttons, report_buttons, review_queue
from handlers.messaging import fmt_moment, waiting_reminders
from handlers.people import answer_buttons, consent_waiting, question_line, waiting_questions
from handlers.placements import (
    confirm_buttons,
    dates_phrase,
    hours_phrase,
    hours_to_confirm,
    upcoming_placements,
)
from handlers.reports import Scope, compute, parse_period
from storage.models import InterestStatus, Role

registry = Registry()

# Enough to act on from the dashboard; the command behind each panel lists the rest.
MAX_ITEMS = 10
TEACHER_SHORTCUTS = (
    (N_("New announcement"), "announce"),
    (N_("Publish"), "publish"),
    (N_("Pending"), "pending"),
    (N_("Report"), "report"),
    (N_("Invite"), "invite"),
)
EMPLOYER_SHORTCUTS = (
    (N_("Applications"), "matches"),
    (N_("Propose"), "propose"),
    (N_("Hours"), "hours"),
)
STUDENT_SHORTCUTS = (
    (N_("Browse"), "browse"),
    (N_("Saved"), "saved"),
    (N_("Reminders"), "reminders"),
)


def _shortcuts(shortcuts: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The shortcut buttons' labels in the person's language (the commands stay)."""
    return tuple((_(label), command) for label, command in shortcuts)


@registry.dashboard
def dashboard(ctx: Context) -> Dashboard | None:
    if ctx.role in STAFF_ROLES:
        return _teacher(ctx)
    if ctx.role == Role.EMPLOYER:
        return _employer(ctx)
    if ctx.role == Role.STUDENT:
        return _student(ctx)
    return None


def _teacher(ctx: Context) -> Dashboard:
    school = known_school(ctx)
    if school is None:
        return Dashboard(
            _("Your school"),
            (Panel(_("Waiting for you"), empty=_("You're not linked to a school yet.")),),
            _shortcuts(TEACHER_SHORTCUTS),
        )
    reported, proposals = review_queue(ctx, school, MAX_ITEMS)
    review = [
        Item(
            _("Reported #{number}: {title}", number=o.id, title=clip(headline(o), 120)),
            report_buttons(o)[0],
        )
        for o in reported
    ] + [
        Item(
            _("Proposal #{number}: {title}", number=o.id, title=clip(headline(o), 120)),
            proposal_buttons(o)[0],
        )
        for o in proposals
    ]
    consent = [
        Item(
            _(
                "{student}: an application waits for consent",
                student=staff_label(ctx.session, s),
            ),
            (Button(_("Consent on file"), actions.CONSENT_ON_FILE.payload(s.id)),),
        )
        for s in consent_waiting(ctx, school)
    ]
    asked, asked_total = waiting_questions(ctx, school, MAX_ITEMS)
    questions = [Item(question_line(ctx, q), answer_buttons(q)) for q in asked]
    return Dashboard(
        school.name,
        (
            Panel(
                _("Questions waiting"),
                tuple(questions),
                _("No student questions are waiting."),
                "questions",
                asked_total,
            ),
            Panel(
                _("Waiting for your review"),
                tuple(review[:MAX_ITEMS]),
                _("Nothing to review."),
                "pending",
            ),
            Panel(
                _("Consent pending"),
                tuple(consent[:MAX_ITEMS]),
                _("No consent is waiting."),
                "consent",
            ),
            Panel(_("This term"), (Item(_figures_line(ctx, school.id)),), more="report"),
        ),
        _shortcuts(TEACHER_SHORTCUTS),
    )


def _figures_line(ctx: Context, school_id: int) -> str:
    period = parse_period("", local_today(ctx), person_zone(ctx.person))
    (breakdown,) = compute(ctx.session, Scope(school_id=school_id), [period])
    f = breakdown.overall
    return _(
        "{published} published, {reached} students reached, {interested} interested, "
        "{invited} invited, {placed} placed, {hours} logged (since {date})",
        published=f.published,
        reached=f.reached,
        interested=f.interests,
        invited=f.invitations,
        placed=f.placements,
        hours=hours_phrase(f.minutes),
        date=fmt_date(period.start),
    )


def _employer(ctx: Context) -> Dashboard:
    organisation = ctx.person.organisation
    waiting = [
        Item(
            f"#{i.id} {student_label(i.person)}, {clip(i.opportunity.title, 100)}",
            tuple(b for row in employer_buttons(i) for b in row),
        )
        for i in live_applications(ctx, (InterestStatus.INTERESTED,))
        if i.details_shared_at is not None
    ]
    today = local_today(ctx)
    placements = [
        Item(
            f"{student_label(p.student)}, {clip(p.interest.opportunity.title, 100)}: "
            f"{dates_phrase(p)}"
        )
        for p in upcoming_placements(ctx, today)
    ]
    hours = [
        Item(
            _(
                "{student}: {hours} on {date}",
                student=student_label(e.placement.student),
                hours=hours_phrase(e.minutes),
                date=fmt_date(e.work_date),
            ),
            confirm_buttons(e),
        )
        for e in hours_to_confirm(ctx)
    ]
    return Dashboard(
        organisation.name if organisation is not None else _("Your organisation"),
        (
            Panel(
                _("Applications waiting for your answer"),
                tuple(waiting[:MAX_ITEMS]),
                _("No application is waiting for an answer."),
                "matches",
            ),
            Panel(
                _("Hours to confirm"),
                tuple(hours[:MAX_ITEMS]),
                _("No hours to confirm."),
                "hours",
            ),
            Panel(
                _("Upcoming placements"),
                tuple(placements[:MAX_ITEMS]),
                _("No placements coming up."),
                "placements",
            ),
        ),
        _shortcuts(EMPLOYER_SHORTCUTS),
    )


def _student(ctx: Context) -> Dashboard:
    applications = [
        Item(f"{clip(headline(i.opportunity), 120)}: {_(STATUS_LABELS[i.status][0])}")
        for i in my_applications(ctx)[:MAX_ITEMS]
    ]
    reminders = [
        Item(
            f"{fmt_moment(r.due_at, ctx.person, ctx.now)}: {clip(r.text, 120)}",
            (Button(_("Cancel"), actions.REMINDER_CANCEL.payload(r.id)),),
        )
        for r in waiting_reminders(ctx)[:MAX_ITEMS]
    ]
    return Dashboard(
        _("Your opportunities"),
        (
            Panel(
                _("Your applications"),
                tuple(applications),
                _("No applications yet: browse and tap I'm interested."),
                "mine",
            ),
            Panel(_("Your reminders"), tuple(reminders), _("No reminders waiting."), "reminders"),
        ),
        _shortcuts(STUDENT_SHORTCUTS),
    )
