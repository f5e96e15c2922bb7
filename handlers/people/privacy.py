"""/mydata and /forget: a person sees everything stored about them, and can delete it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from bot.core import EVERYONE, Button, Context, Registry, Reply
from bot.i18n import N_, _, language_name
from handlers import actions
from handlers.applications import withdraw
from handlers.common import ACTIVE, STATUS_LABELS, clip, fmt_when, headline
from handlers.messaging import DAYS, alerts_summary
from handlers.people.consent import confirmations, relationship_label
from handlers.people.onboarding import AGE_BANDS, age_band
from handlers.people.questions import mydata_lines as question_lines
from handlers.placements import HOURS_STATUS, STAGES, dates_phrase, forget_feedback, hours_phrase
from handlers.reports import mydata_lines as encounter_lines
from storage.models import (
    Account,
    AuditEntry,
    Encounter,
    Feedback,
    GuardianCode,
    HoursEntry,
    Interest,
    InterestMessage,
    Opportunity,
    OutboxMessage,
    Placement,
    Reminder,
    ReminderStatus,
    Role,
    SavedOpportunity,
)
from storage.tags import TAGS

registry = Registry()

ROLES = {
    Role.STUDENT: N_("student"),
    Role.TEACHER: N_("teacher"),
    Role.EMPLOYER: N_("employer"),
    Role.ADMIN: N_("admin"),
}


# Long because it lists everything stored about a person, one section per kind of data.
@registry.command(
    "mydata", "privacy", "data", roles=EVERYONE, help=N_("see everything I store about you")
)
def mydata(ctx: Context, args: str) -> list[Reply]:
    person = ctx.person
    lines = [
        _("Everything I store about you:"),
        "",
        _("Name: {name}", name=person.name or _("not given")),
    ]
    if person.family_name is not None:
        lines.append(_("Family name: {name}", name=person.family_name))
    lines.append(
        _("Role: {role}", role=_(ROLES[person.role]) if person.role else _("not joined yet"))
    )
    if person.cohort is not None:
        lines.append(
            _(
                "Class: {cohort}, {school}",
                cohort=person.cohort.name,
                school=person.cohort.school.name,
            )
        )
    if person.organisation is not None:
        lines.append(_("Organisation: {name}", name=person.organisation.name))
    if person.school is not None:
        lines.append(_("School: {name}", name=person.school.name))
    if person.grade is not None:
        lines.append(_("Grade: {grade}", grade=person.grade))
    band = age_band(person)
    known = _("under 18") if person.under_18 else _("not given")
    lines.append(_("Age: {age}", age=_(AGE_BANDS[band]) if band is not None else known))
    if person.under_18:
        lines.append(_("Guardian's consent: {consent}", consent=_consent_phrase(ctx)))
    fields = ", ".join(_(TAGS[t]) if t in TAGS else t for t in person.tag_names)
    lines.append(_("Fields: {fields}", fields=fields or _("none")))
    lines.append(_("Time zone: {zone}", zone=person.timezone))
    if person.place or person.wants_remote:
        lines.append(_("Where: {place}", place=person.place or _("remote only")))
    lines.append(
        _(
            "Language: {language} (change it with /language)",
            language=language_name(person.language),
        )
    )
    if person.role == Role.STUDENT:
        digest = (
            _("every {day}", day=_(DAYS[person.digest_day]))
            if person.digest_day is not None
            else _("off")
        )
        lines.append(_("Weekly digest: {digest}", digest=digest))
        lines.append(_("Alerts: {alerts}", alerts=alerts_summary(ctx.session, person, ctx.now)))
    lines.append(_("First contact: {when}", when=fmt_when(person.created_at, person)))
    accounts = ctx.session.scalars(select(Account).where(Account.person_id == person.id)).all()
    lines.append(
        _(
            "Accounts: {accounts}",
            accounts=", ".join(
                f"{a.platform} ({a.display_name or a.external_id})" for a in accounts
            ),
        )
    )
    interests = ctx.session.scalars(
        select(Interest)
        .where(Interest.person_id == person.id)
        .options(selectinload(Interest.opportunity).selectinload(Opportunity.organisation))
        .order_by(Interest.created_at, Interest.id)
    ).all()
    if interests:
        lines += ["", _("Applications:")]
        for interest in interests:
            listing = clip(headline(interest.opportunity), 80)
            label = _(STATUS_LABELS[interest.status][0])
            lines.append(
                _(
                    '• {listing}: {status} — your note: "{note}"',
                    listing=listing,
                    status=label,
                    note=interest.note,
                )
                if interest.note
                else f"• {listing}: {label}"
            )
        lines += _conversation_lines(ctx, interests)
    saved = ctx.session.scalars(
        select(SavedOpportunity)
        .where(SavedOpportunity.person_id == person.id)
        .options(selectinload(SavedOpportunity.opportunity).selectinload(Opportunity.organisation))
        .order_by(SavedOpportunity.created_at, SavedOpportunity.opportunity_id)
    ).all()
    if saved:
        lines += ["", _("Saved:")] + [f"• {clip(headline(s.opportunity), 80)}" for s in saved]
    reminders = ctx.session.scalars(
        select(Reminder)
        .where(Reminder.person_id == person.id, Reminder.status == ReminderStatus.PENDING)
        .order_by(Reminder.due_at, Reminder.id)
    ).all()
    if reminders:
        lines += ["", _("Reminders:")] + [
            f"• {fmt_when(r.due_at, person)}: {r.text}" for r in reminders
        ]
    lines += _placement_lines(ctx)
    lines += encounter_lines(ctx)
    lines += question_lines(ctx)
    lines += _guardian_lines(ctx)
    lines += ["", _("To delete all of this, send /forget.")]
    return [Reply("\n".join(lines))]


def _consent_phrase(ctx: Context) -> str:
    person = ctx.person
    if person.guardian_consent_at is None:
        return _("not on file yet")
    since = fmt_when(person.guardian_consent_at, person)
    code = confirmations(ctx, [person]).get(person.id)
    if code is not None and code.guardian_name is not None:
        return _(
            "on file since {when}, confirmed by {name} ({relationship})",
            when=since,
            name=code.guardian_name,
            relationship=relationship_label(code.guardian_relationship or ""),
        )
    return _("on file since {when}", when=since)


def _guardian_lines(ctx: Context) -> list[str]:
    """What a guardian told the bot when they confirmed a student's consent."""
    codes = ctx.session.scalars(
        select(GuardianCode)
        .where(GuardianCode.used_by_id == ctx.person.id)
        .order_by(GuardianCode.used_at, GuardianCode.id)
    ).all()
    if not codes:
        return []
    lines = ["", _("Consent you confirmed as a guardian:")]
    for code in codes:
        assert code.used_at is not None
        student = code.student
        values = {
            "student": student.first_name or _("A student"),
            "when": fmt_when(code.used_at, ctx.person),
            "name": code.guardian_name,
            "relationship": relationship_label(code.guardian_relationship or ""),
        }
        lines.append(
            _(
                "• {student} at {school}, {when}: you gave your name as {name} ({relationship})",
                school=student.cohort.school.name,
                **values,
            )
            if student.cohort is not None
            else _("• {student}, {when}: you gave your name as {name} ({relationship})", **values)
        )
    return lines


def _conversation_lines(ctx: Context, interests: Sequence[Interest]) -> list[str]:
    """What the student and employers wrote to each other through the bot."""
    by_id = {i.id: i for i in interests}
    messages = ctx.session.scalars(
        select(InterestMessage)
        .where(InterestMessage.interest_id.in_(by_id), InterestMessage.text != "")
        .order_by(InterestMessage.created_at, InterestMessage.id)
    ).all()
    if not messages:
        return []
    lines = ["", _("Messages with employers:")]
    for m in messages:
        who = (
            _("You")
            if m.from_role == Role.STUDENT
            else by_id[m.interest_id].opportunity.organisation.name
        )
        lines.append(f"• {fmt_when(m.created_at, ctx.person)}, {who}: {clip(m.text, 200)}")
    return lines


def _placement_lines(ctx: Context) -> list[str]:
    """A student's placements, the hours they logged and the feedback they gave."""
    placements = ctx.session.scalars(
        select(Placement)
        .where(Placement.student_id == ctx.person.id)
        .order_by(Placement.created_at, Placement.id)
    ).all()
    if not placements:
        return []
    ids = [p.id for p in placements]
    hours = ctx.session.scalars(
        select(HoursEntry)
        .where(HoursEntry.placement_id.in_(ids))
        .order_by(HoursEntry.work_date, HoursEntry.id)
    ).all()
    given = ctx.session.scalars(
        select(Feedback)
        .where(Feedback.respondent_id == ctx.person.id, Feedback.rating.is_not(None))
        .order_by(Feedback.answered_at, Feedback.id)
    ).all()
    lines = ["", _("Placements:")]
    for p in placements:
        lines.append(
            _(
                "• {title} at {organisation}: {dates}",
                title=p.interest.opportunity.title,
                organisation=p.organisation.name,
                dates=dates_phrase(p),
            )
        )
    if hours:
        lines += ["", _("Hours logged:")] + [
            f"• {h.work_date.isoformat()}: {hours_phrase(h.minutes)}, {_(HOURS_STATUS[h.status])}"
            for h in hours
        ]
    if given:
        lines += ["", _("Feedback you gave:")] + [
            f"• {_(STAGES[f.stage])}: {f.rating}/5" + (f' "{f.comment}"' if f.comment else "")
            for f in given
        ]
    return lines


@registry.command(
    "forget", "deleteme", roles=EVERYONE, help=N_("delete everything I store about you")
)
def forget(ctx: Context, args: str) -> list[Reply]:
    return [
        Reply(
            _(
                "This deletes your profile, applications, saved list and reminders, on every "
                "platform. Employers are only told that you withdrew. It can't be undone. Sure?"
            ),
            (
                (
                    Button(_("Yes, delete everything"), actions.FORGET_YES.payload()),
                    Button(_("No, keep it"), actions.FORGET_NO.payload()),
                ),
            ),
        )
    ]


@registry.action(actions.FORGET_NO, roles=EVERYONE)
def keep_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply(_("Good, nothing was deleted."), replace=True)]


# Long because every deletion is listed in one place, each with why it goes or stays.
@registry.action(actions.FORGET_YES, roles=EVERYONE)
def forget_confirmed(ctx: Context, args: list[str]) -> list[Reply]:
    person = ctx.person
    # Messages about this person that have not gone out yet must never go out.
    ctx.session.execute(delete(OutboxMessage).where(OutboxMessage.about_person_id == person.id))
    # A guardian's name and relationship go; the consent they confirmed stays on file for the
    # student (the school withdraws it if it must), shown as confirmed by a guardian.
    ctx.session.execute(
        update(GuardianCode)
        .where(GuardianCode.used_by_id == person.id)
        .values(guardian_name=None, guardian_relationship=None)
    )
    interests = ctx.session.scalars(select(Interest).where(Interest.person_id == person.id)).all()
    # The conversations with employers were about this student: their words go. What happened
    # (an invitation, a placement, and when) stays for the partnership's figures.
    ctx.session.execute(
        update(InterestMessage)
        .where(InterestMessage.interest_id.in_([i.id for i in interests]))
        .values(text="")
    )
    # Placement figures stay for the partnership's report, without a word that names anyone.
    placement_ids = list(
        ctx.session.scalars(select(Placement.id).where(Placement.student_id == person.id))
    )
    forget_feedback(ctx.session, placement_ids)
    ctx.session.execute(
        update(HoursEntry).where(HoursEntry.placement_id.in_(placement_ids)).values(query=None)
    )
    # Encounters stay as anonymous counts (school, year group, day, kind), without the notes.
    ctx.session.execute(
        update(Encounter)
        .where(Encounter.student_id == person.id)
        .values(student_id=None, notes=None)
    )
    withdrawn = 0
    for interest in interests:
        # A placed student leaving is news for the employer too.
        if interest.status in ACTIVE:
            withdraw(ctx, interest)
            withdrawn += 1
        # The row stays for the employer's figures, with nothing that points back to the student.
        interest.person_id = None
        interest.note = None
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=person.id,
            subject_id=person.id,
            action="forget",
            detail={
                "role": person.role.value if person.role else None,
                "interests_withdrawn": withdrawn,
            },
        )
    )
    ctx.session.flush()
    ctx.session.delete(person)
    return [
        Reply(
            _(
                "Done: everything I stored about you is deleted. If you write to me again, "
                "you'll start fresh. Take care!"
            ),
            replace=True,
        )
    ]
