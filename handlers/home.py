"""A member's dashboard: what needs them now, at a glance, and the flows they start most.

The areas say what is waiting (their public names); this module only picks, per role, what a
person should see first. Adapters that have a place for it (Slack's App Home) show it; the
buttons on it are the same as on the messages the items came from.
"""

from __future__ import annotations

from bot.core import Button, Context, Dashboard, Item, Panel, Registry
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
    ("New announcement", "announce"),
    ("Publish", "publish"),
    ("Pending", "pending"),
    ("Report", "report"),
    ("Invite", "invite"),
)
EMPLOYER_SHORTCUTS = (("Applications", "matches"), ("Propose", "propose"), ("Hours", "hours"))
STUDENT_SHORTCUTS = (("Browse", "browse"), ("Saved", "saved"), ("Reminders", "reminders"))


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
            "Your school",
            (Panel("Waiting for you", empty="You're not linked to a school yet."),),
            TEACHER_SHORTCUTS,
        )
    reported, proposals = review_queue(ctx, school, MAX_ITEMS)
    review = [
        Item(f"Reported #{o.id}: {clip(headline(o), 120)}", report_buttons(o)[0]) for o in reported
    ] + [
        Item(f"Proposal #{o.id}: {clip(headline(o), 120)}", proposal_buttons(o)[0])
        for o in proposals
    ]
    consent = [
        Item(
            f"{staff_label(ctx.session, s)}: an application waits for consent",
            (Button("Consent on file", actions.CONSENT_ON_FILE.payload(s.id)),),
        )
        for s in consent_waiting(ctx, school)
    ]
    asked, asked_total = waiting_questions(ctx, school, MAX_ITEMS)
    questions = [Item(question_line(ctx, q), answer_buttons(q)) for q in asked]
    return Dashboard(
        school.name,
        (
            Panel(
                "Questions waiting",
                tuple(questions),
                "No student questions are waiting.",
                "questions",
                asked_total,
            ),
            Panel(
                "Waiting for your review",
                tuple(review[:MAX_ITEMS]),
                "Nothing to review.",
                "pending",
            ),
            Panel(
                "Consent pending", tuple(consent[:MAX_ITEMS]), "No consent is waiting.", "consent"
            ),
            Panel("This term", (Item(_figures_line(ctx, school.id)),), more="report"),
        ),
        TEACHER_SHORTCUTS,
    )


def _figures_line(ctx: Context, school_id: int) -> str:
    period = parse_period("", local_today(ctx), person_zone(ctx.person))
    (breakdown,) = compute(ctx.session, Scope(school_id=school_id), [period])
    f = breakdown.overall
    return (
        f"{f.published} published, {f.reached} students reached, {f.interests} interested, "
        f"{f.invitations} invited, {f.placements} placed, {hours_phrase(f.minutes)} logged "
        f"(since {fmt_date(period.start)})"
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
            f"{student_label(e.placement.student)}: {hours_phrase(e.minutes)} on "
            f"{fmt_date(e.work_date)}",
            confirm_buttons(e),
        )
        for e in hours_to_confirm(ctx)
    ]
    return Dashboard(
        organisation.name if organisation is not None else "Your organisation",
        (
            Panel(
                "Applications waiting for your answer",
                tuple(waiting[:MAX_ITEMS]),
                "No application is waiting for an answer.",
                "matches",
            ),
            Panel("Hours to confirm", tuple(hours[:MAX_ITEMS]), "No hours to confirm.", "hours"),
            Panel(
                "Upcoming placements",
                tuple(placements[:MAX_ITEMS]),
                "No placements coming up.",
                "placements",
            ),
        ),
        EMPLOYER_SHORTCUTS,
    )


def _student(ctx: Context) -> Dashboard:
    applications = [
        Item(f"{clip(headline(i.opportunity), 120)}: {STATUS_LABELS[i.status][0]}")
        for i in my_applications(ctx)[:MAX_ITEMS]
    ]
    reminders = [
        Item(
            f"{fmt_moment(r.due_at, ctx.person, ctx.now)}: {clip(r.text, 120)}",
            (Button("Cancel", actions.REMINDER_CANCEL.payload(r.id)),),
        )
        for r in waiting_reminders(ctx)[:MAX_ITEMS]
    ]
    return Dashboard(
        "Your opportunities",
        (
            Panel(
                "Your applications",
                tuple(applications),
                "No applications yet: browse and tap I'm interested.",
                "mine",
            ),
            Panel("Your reminders", tuple(reminders), "No reminders waiting.", "reminders"),
        ),
        STUDENT_SHORTCUTS,
    )
