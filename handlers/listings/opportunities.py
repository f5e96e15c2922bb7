"""Opportunities from the staff side: employers propose, teachers approve, publish, edit, close.

Proposing and publishing share one form, asked one question at a time: an employer's
proposal waits (pending) for a teacher's Approve; a teacher's own listing opens at once. A
teacher may also publish in one message, "/publish" then a "field: value" line per field
(``PUBLISH_FORM``, which Slack shows as a modal).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from enum import Enum
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, inspect, select

from bot.core import (
    DIALOG,
    EMPLOYERS,
    STAFF,
    Button,
    Context,
    Field,
    Form,
    Registry,
    Reply,
    UserError,
)
from handlers import actions
from handlers.common import (
    KIND_LABELS,
    all_staff,
    card_text,
    clip,
    example_deadline,
    headline,
    known_school,
    local_today,
    opportunity_arg,
    organisation_named,
    owns,
    parse_id,
    school_staff,
    staff_school,
)
from handlers.listings.flags import reported_card, reported_ids
from handlers.listings.schema import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_ORGANISATION,
    MAX_SPOTS,
    MAX_TITLE,
    MAX_URL,
    FieldProblems,
    OpportunityFields,
    check,
    check_one,
)
from storage.models import (
    AuditEntry,
    Opportunity,
    OpportunityKind,
    OpportunityStatus,
    OpportunityTag,
    Organisation,
    Person,
    School,
)
from storage.tags import TAGS, derive_tags

registry = Registry()

FORM = "opportunity_form"
REJECT = "reject_reason"
PROPOSE_STEPS = ("title", "kind", "description", "location", "deadline", "paid", "remote")
PUBLISH_STEPS = ("organisation", *PROPOSE_STEPS)
MAX_REASON = 500
MAX_LISTED = 10
MAX_LISTED_NUMBERS = 20
# The form's names (typed as "start: ...") for the schema's fields.
_SCHEMA_NAMES = {"start": "start_date", "end": "end_date"}

Answers = dict[str, Any]


class FormDialog(TypedDict, total=False):
    """The /propose or /publish form under way: its mode and the answers so far. Read
    back with ``.get`` because a form started by an earlier release may lack a key."""

    name: str
    mode: str
    answers: Answers


class RejectDialog(TypedDict):
    """The reason typed for turning a proposal down: which opportunity."""

    opportunity: int
# A record chosen from a form's search: "#12".
_CHOSEN = re.compile(r"#(\d+)")
# Choices a form's search offers at most (Slack shows at most 100).
MAX_CHOICES = 50


def _kept(value: object) -> Any:
    """``value`` as a dialog's answers keep it (they are stored as JSON)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _answer(ctx: Context, name: str, text: str) -> Any:
    """The value typed for field ``name``, checked by the opportunity schema."""
    if name == "organisation":
        text = _organisation_name(ctx, text)
    try:
        return check_one(_SCHEMA_NAMES.get(name, name), text, today=local_today(ctx))
    except FieldProblems as refused:
        raise UserError(str(refused)) from None


def _organisation_name(ctx: Context, text: str) -> str:
    """The name typed, or organisation 12's for "#12" (how a form's search names one)."""
    chosen = _CHOSEN.fullmatch(text.strip())
    if chosen is None:
        return text
    organisation = ctx.session.get(Organisation, int(chosen[1]))
    if organisation is None:
        raise UserError("That organisation is no longer listed. Please choose it again.")
    return organisation.name


def _example(ctx: Context) -> str:
    return f"{example_deadline(local_today(ctx)):%Y-%m-%d}"


PUBLISH_FORM = Form(
    "New opportunity",
    "Publish",
    (
        Field(
            "organisation",
            "Organisation",
            "search",
            max_length=MAX_ORGANISATION,
            hint="Type to find it, or to add a new one",
            source="organisations",
        ),
        Field("title", "Title", max_length=MAX_TITLE, hint="Summer software internship"),
        Field(
            "kind",
            "Kind",
            "choice",
            options=tuple((kind.value, label) for kind, label in KIND_LABELS.items()),
        ),
        Field(
            "description",
            "Description for students",
            "long_text",
            max_length=MAX_DESCRIPTION,
            hint="What they'll do and learn, in a few sentences",
        ),
        Field("location", "Location", max_length=MAX_LOCATION, hint="A town, or an address"),
        Field(
            "remote",
            "Can students take part remotely?",
            "choice",
            optional=True,
            options=(("no", "In person"), ("yes", "Remote")),
            initial="no",
        ),
        Field(
            "paid",
            "Is it paid?",
            "choice",
            optional=True,
            options=(("yes", "Paid"), ("no", "Unpaid"), ("not sure", "Not sure")),
            initial="not sure",
        ),
        Field("start", "Starts on", "date", optional=True),
        Field("end", "Ends on", "date", optional=True),
        Field("deadline", "Deadline to register interest", "date", optional=True),
        Field("spots", "Places", "number", optional=True, bounds=(1, MAX_SPOTS)),
        Field("url", "Web page", "url", optional=True, max_length=MAX_URL),
        Field(
            "tags",
            "Fields of interest",
            "choices",
            optional=True,
            options=tuple(TAGS.items()),
            hint="Found from the title and description if left empty",
        ),
    ),
)
_REQUIRED = ", ".join(f.name for f in PUBLISH_FORM.fields if not f.optional)
_OPTIONAL = ", ".join(f.name for f in PUBLISH_FORM.fields if f.optional)


@registry.options("organisations", roles=STAFF)
def organisation_choices(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """Organisations whose name contains what was typed, then adding it as a new one (unless
    it exists): a typo must be chosen as a new organisation, never become one unnoticed."""
    name = " ".join(typed.split())
    query = select(Organisation).order_by(Organisation.name, Organisation.id).limit(MAX_CHOICES)
    if name:
        query = query.where(Organisation.name.icontains(name, autoescape=True))
    found = ctx.session.scalars(query).all()
    choices = [(f"#{o.id}", o.name) for o in found]
    exists = any(o.name.lower() == name.lower() for o in found)
    if 2 <= len(name) <= MAX_ORGANISATION and not exists:
        choices.append((name, f"New organisation: {name}"))
    return choices


@registry.options("listings", roles=STAFF)
def listing_choices(ctx: Context, typed: str) -> list[tuple[str, str]]:
    """The school's own listings (open or pending) whose number, title or organisation
    matches what was typed, newest first."""
    school = staff_school(ctx)
    word = " ".join(typed.split()).removeprefix("#")
    query = (
        select(Opportunity)
        .join(Organisation, Organisation.id == Opportunity.organisation_id)
        .where(
            Opportunity.owner_school_id == school.id,
            Opportunity.status.in_((OpportunityStatus.OPEN, OpportunityStatus.PENDING)),
        )
        .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
        .limit(MAX_CHOICES)
    )
    if word:
        matches = Opportunity.title.icontains(word, autoescape=True) | Organisation.name.icontains(
            word, autoescape=True
        )
        if word.isdigit():
            matches |= Opportunity.id == int(word)
        query = query.where(matches)
    return [(f"#{o.id}", f"#{o.id} {headline(o)}") for o in ctx.session.scalars(query)]

# Buttons answer these steps with the same words a person could type.
_KIND_BUTTONS = tuple(
    Button(label, actions.FORM.payload("kind", kind.value)) for kind, label in KIND_LABELS.items()
)
QUESTIONS: dict[str, tuple[str, tuple[tuple[Button, ...], ...]]] = {
    "organisation": ("Which organisation offers it? Type its name.", ()),
    "title": ("What's the title? (For example: Summer software internship)", ()),
    "kind": (
        "What kind of opportunity is it?",
        (_KIND_BUTTONS[:2], _KIND_BUTTONS[2:4], _KIND_BUTTONS[4:]),
    ),
    "description": ("Describe it for students in a few sentences: what they'll do and learn.", ()),
    "location": ("Where is it? (A town, or an address)", ()),
    "deadline": (
        "What's the deadline to register interest? Type it as YYYY-MM-DD.",
        ((Button("No deadline", actions.FORM.payload("deadline", "none")),),),
    ),
    "paid": (
        "Is it paid?",
        (
            (
                Button("Paid", actions.FORM.payload("paid", "yes")),
                Button("Unpaid", actions.FORM.payload("paid", "no")),
                Button("Not sure", actions.FORM.payload("paid", "unknown")),
            ),
        ),
    ),
    "remote": (
        "Can students take part remotely?",
        (
            (
                Button("Remote", actions.FORM.payload("remote", "yes")),
                Button("In person", actions.FORM.payload("remote", "no")),
            ),
        ),
    ),
}


def _steps(mode: str) -> tuple[str, ...]:
    return PUBLISH_STEPS if mode == "publish" else PROPOSE_STEPS


@registry.command("propose", roles=EMPLOYERS, help="propose an opportunity (a teacher approves it)")
def propose(ctx: Context, args: str) -> list[Reply]:
    if ctx.person.organisation is None:
        raise UserError("You're not linked to an organisation. Ask your school coordinator.")
    return _begin(
        ctx,
        "propose",
        {},
        f"Let's describe the opportunity {ctx.person.organisation.name} offers. A teacher "
        "approves it before students see it. Send /cancel to stop at any time.",
    )


@registry.command(
    "publish", roles=STAFF, help="publish an opportunity for students", form=PUBLISH_FORM
)
def publish(ctx: Context, args: str) -> list[Reply]:
    if args:
        return _publish_at_once(ctx, args)
    return _begin(ctx, "publish", {}, "Let's add an opportunity. Send /cancel to stop at any time.")


def _publish_at_once(ctx: Context, args: str) -> list[Reply]:
    """Publish the opportunity of "/publish" then "field: value" lines; any problem with any
    field refuses it whole, with every problem listed."""
    given, problems = PUBLISH_FORM.read(args)
    by_field: dict[str, str] = {}
    fields = OpportunityFields()
    if "organisation" in given:
        try:
            given["organisation"] = _organisation_name(ctx, given["organisation"])
        except UserError as refused:
            del given["organisation"]
            by_field["organisation"] = refused.reply.text
    try:
        fields = check(
            {_SCHEMA_NAMES.get(name, name): value for name, value in given.items()},
            today=local_today(ctx),
            typed=True,
        )
    except FieldProblems as refused:
        form_names = {schema: form for form, schema in _SCHEMA_NAMES.items()}
        refusals = {form_names.get(name, name): text for name, text in refused.problems.items()}
        by_field |= {f.name: refusals[f.name] for f in PUBLISH_FORM.fields if f.name in refusals}
    problems += [f"{name}: {problem}" for name, problem in by_field.items()]
    if problems:
        raise UserError(
            "Nothing was published. Please fix this and send it again:\n"
            + "\n".join(f"• {problem}" for problem in problems)
            + f"\n\nOne line per field: {_REQUIRED} (needed); {_OPTIONAL}. "
            "Or send /publish alone and I'll ask one question at a time.",
            fields=by_field,
        )
    answers = {step: _kept(getattr(fields, step)) for step in PUBLISH_STEPS}
    answers["remote"] = bool(fields.remote)
    organisation = _organisation(ctx, "publish", answers)
    if inspect(organisation).transient:
        organisation = organisation_named(ctx.session, organisation.name, ctx.now)
    opportunity = _build(ctx, "publish", answers, organisation)
    opportunity.start_date, opportunity.end_date = fields.start_date, fields.end_date
    opportunity.spots, opportunity.url = fields.spots, fields.url
    if fields.tags:
        opportunity.tags = [OpportunityTag(tag=tag) for tag in fields.tags]
    opportunity.status = OpportunityStatus.OPEN
    opportunity.published_at = ctx.now
    ctx.session.add(opportunity)
    ctx.session.flush()
    body = card_text(opportunity, local_today(ctx), ctx.caps.max_text - 100)
    return [
        Reply(f"Published (#{opportunity.id}): students can find it with /browse now.\n\n{body}")
    ]


def _begin(ctx: Context, mode: str, answers: Answers, note: str) -> list[Reply]:
    ctx.start_dialog(FORM, FormDialog(mode=mode, answers=answers))
    return [_next(ctx, mode, answers, note=note)]


def _next(ctx: Context, mode: str, answers: Answers, *, note: str = "") -> Reply:
    step = next((s for s in _steps(mode) if s not in answers), None)
    prefix = f"{note}\n\n" if note else ""
    if step is None:
        return _preview(ctx, mode, answers, prefix)
    text, buttons = QUESTIONS[step]
    return Reply(prefix + text, (*buttons, (Button("Cancel", actions.FORM_CANCEL.payload()),)))


def _form(ctx: Context) -> tuple[str, Answers]:
    dialog = ctx.typed_state(DIALOG, FormDialog)
    if dialog is None or dialog.get("name") != FORM:
        raise UserError("That form was closed. Send /propose or /publish to start again.")
    return str(dialog.get("mode")), dict(dialog.get("answers", {}))


@registry.dialog(FORM, action=actions.FORM)
def form_typed(ctx: Context, text: str, dialog: FormDialog) -> list[Reply]:
    mode, answers = _form(ctx)
    step = next((s for s in _steps(mode) if s not in answers), None)
    if step is None:
        raise UserError("All done: tap Submit (or Publish) above, or Cancel.")
    answers[step] = _kept(_answer(ctx, step, text))
    ctx.start_dialog(FORM, FormDialog(mode=mode, answers=answers))
    return [_next(ctx, mode, answers)]


@registry.action(actions.FORM, roles=EMPLOYERS | STAFF)
def form_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    mode, answers = _form(ctx)
    step = next((s for s in _steps(mode) if s not in answers), None)
    if args == ["done"] and step is None:
        ctx.clear_state(DIALOG)
        return _finish(ctx, mode, answers)
    if len(args) != 2 or args[0] != step:
        raise UserError("That button is from an earlier question. Please answer the one above.")
    answers[step] = _kept(_answer(ctx, step, args[1].replace("_", " ")))
    ctx.start_dialog(FORM, FormDialog(mode=mode, answers=answers))
    return [_next(ctx, mode, answers)]


@registry.action(actions.FORM_CANCEL, roles=EMPLOYERS | STAFF)
def form_cancelled(ctx: Context, args: list[str]) -> list[Reply]:
    return [Reply("OK, stopped. Nothing was saved.", replace=True)]


def _organisation(ctx: Context, mode: str, answers: Answers) -> Organisation:
    if mode == "propose":
        if ctx.person.organisation is None:
            raise UserError("You're not linked to an organisation any more.")
        return ctx.person.organisation
    name = answers["organisation"]
    found = ctx.session.scalar(select(Organisation).where(Organisation.name == name))
    # The preview shows a new organisation without creating it (a transient object, with no
    # id yet); finishing creates it.
    return found or Organisation(name=name, created_at=ctx.now)


def _build(ctx: Context, mode: str, answers: Answers, organisation: Organisation) -> Opportunity:
    deadline = answers["deadline"]
    if mode == "publish":
        school = known_school(ctx)
        owner = school.id if school is not None else None
    else:
        # A proposal waits for the teachers of the school that invited the proposer.
        owner = ctx.person.school_id
    return Opportunity(
        organisation=organisation,
        kind=OpportunityKind(answers["kind"]),
        title=answers["title"],
        description=answers["description"],
        location=answers["location"],
        deadline=date.fromisoformat(deadline) if deadline else None,
        paid=answers["paid"],
        remote=answers["remote"],
        tags=[OpportunityTag(tag=t) for t in derive_tags(answers["title"], answers["description"])],
        created_by_id=ctx.person.id,
        owner_school_id=owner,
        created_at=ctx.now,
        updated_at=ctx.now,
    )


def _preview(ctx: Context, mode: str, answers: Answers, prefix: str) -> Reply:
    opportunity = _build(ctx, mode, answers, _organisation(ctx, mode, answers))
    body = card_text(opportunity, local_today(ctx), ctx.caps.max_text - 200)
    finish = "Submit for approval" if mode == "propose" else "Publish"
    return Reply(
        f"{prefix}Here's how students will see it:\n\n{body}",
        (
            (
                Button(finish, actions.FORM.payload("done")),
                Button("Cancel", actions.FORM_CANCEL.payload()),
            ),
        ),
    )


def _finish(ctx: Context, mode: str, answers: Answers) -> list[Reply]:
    organisation = _organisation(ctx, mode, answers)
    if inspect(organisation).transient:
        organisation = organisation_named(ctx.session, organisation.name, ctx.now)
    opportunity = _build(ctx, mode, answers, organisation)
    if mode == "publish":
        opportunity.status = OpportunityStatus.OPEN
        opportunity.published_at = ctx.now
    else:
        opportunity.status = OpportunityStatus.PENDING
    ctx.session.add(opportunity)
    ctx.session.flush()
    if mode == "publish":
        return [Reply(f"Published (#{opportunity.id}): students can find it with /browse now.")]
    reviewers = (
        all_staff(ctx.session)
        if opportunity.owner_school_id is None
        else school_staff(ctx.session, opportunity.owner_school_id)
    )
    for teacher in reviewers:
        ctx.notify(
            teacher,
            f"{organisation.name} proposes a new opportunity (#{opportunity.id}):\n\n"
            + card_text(opportunity, local_today(ctx), 3000),
            kind="proposal",
            key=f"proposal:{opportunity.id}:{teacher.id}",
            buttons=proposal_buttons(opportunity),
        )
    return [
        Reply(
            f"Thank you! {opportunity.title} is waiting for a teacher's approval. "
            "I'll tell you as soon as it's decided."
        )
    ]


def proposal_buttons(opportunity: Opportunity) -> tuple[tuple[Button, ...], ...]:
    """A teacher's answers to a proposal."""
    return (
        (
            Button("Approve", actions.PROPOSAL_APPROVE.payload(opportunity.id)),
            Button("Reject", actions.PROPOSAL_REJECT.payload(opportunity.id)),
        ),
    )


def _for_school(school: School) -> ColumnElement[bool]:
    """Proposals a school's staff decide on: its own, and those of employers no school invited
    (the first school to decide owns the listing)."""
    return Opportunity.owner_school_id.is_(None) | (Opportunity.owner_school_id == school.id)


def _proposal(ctx: Context, raw_id: str | None) -> tuple[Opportunity, School]:
    school = staff_school(ctx)
    opportunity = ctx.session.get(Opportunity, parse_id(raw_id))
    if opportunity is None:
        raise UserError("That proposal no longer exists.")
    if opportunity.status != OpportunityStatus.PENDING:
        state = "approved" if opportunity.status == OpportunityStatus.OPEN else "dealt with"
        raise UserError(f"{opportunity.title} was already {state}. Send /pending for the rest.")
    if opportunity.owner_school_id not in (None, school.id):
        raise UserError(
            f"{opportunity.title} was proposed to another school, so it's theirs to decide. "
            "Send /pending for your school's proposals."
        )
    return opportunity, school


def _tell_proposer(ctx: Context, opportunity: Opportunity, text: str, key: str) -> None:
    if opportunity.created_by_id is None:
        return
    proposer = ctx.session.get(Person, opportunity.created_by_id)
    if proposer is not None:
        ctx.notify(proposer, text, kind="proposal", key=key)


def _audit(ctx: Context, opportunity: Opportunity, action: str, **detail: Any) -> None:
    ctx.session.add(
        AuditEntry(
            at=ctx.now,
            actor_id=ctx.person.id,
            subject_id=opportunity.id,
            action=action,
            detail=detail,
        )
    )


@registry.action(actions.PROPOSAL_APPROVE, roles=STAFF)
def approve(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity, school = _proposal(ctx, args[0] if args else None)
    opportunity.owner_school_id = school.id
    opportunity.status = OpportunityStatus.OPEN
    opportunity.published_at = ctx.now
    opportunity.updated_at = ctx.now
    _audit(ctx, opportunity, "opportunity_approved")
    _tell_proposer(
        ctx,
        opportunity,
        f"Good news: {opportunity.title} is approved, and students can find it now.",
        key=f"proposal-approved:{opportunity.id}",
    )
    return [Reply(f"Approved: {headline(opportunity)}. Students can find it now.")]


@registry.action(actions.PROPOSAL_REJECT, roles=STAFF)
def reject_pressed(ctx: Context, args: list[str]) -> list[Reply]:
    opportunity, _ = _proposal(ctx, args[0] if args else None)
    ctx.start_dialog(REJECT, RejectDialog(opportunity=opportunity.id))
    return [
        Reply(
            f"Why isn't {opportunity.title} right for your students? Type a short reason: "
            f"I'll pass it on to {opportunity.organisation.name}.",
            ((Button("Cancel", actions.FORM_CANCEL.payload()),),),
        )
    ]


@registry.dialog(REJECT)
def reject_typed(ctx: Context, text: str, dialog: RejectDialog) -> list[Reply]:
    opportunity, school = _proposal(ctx, str(dialog.get("opportunity")))
    reason = text.strip()
    if len(reason) > MAX_REASON:
        raise UserError(f"Please keep the reason under {MAX_REASON} characters.")
    ctx.clear_state(DIALOG)
    # Back to a draft: never shown to students, and the record of what was proposed stays.
    opportunity.status = OpportunityStatus.DRAFT
    opportunity.owner_school_id = school.id
    opportunity.updated_at = ctx.now
    _audit(ctx, opportunity, "opportunity_rejected", reason=reason)
    _tell_proposer(
        ctx,
        opportunity,
        f"Sorry, {opportunity.title} wasn't approved. The school said: {reason}\n"
        "You're welcome to /propose it again with changes.",
        key=f"proposal-rejected:{opportunity.id}",
    )
    return [Reply(f"Rejected. I've told {opportunity.organisation.name} why.")]


def review_queue(
    ctx: Context, school: School, limit: int = MAX_LISTED
) -> tuple[list[Opportunity], list[Opportunity]]:
    """What waits for ``school``'s teachers in /pending: the reported listings, oldest report
    first, and the employers' proposals, oldest first (at most ``limit`` of each)."""
    reported = reported_ids(ctx, school)[:limit]
    proposals = ctx.session.scalars(
        select(Opportunity)
        .where(
            Opportunity.status == OpportunityStatus.PENDING,
            _for_school(school),
            Opportunity.id.not_in(reported),
        )
        .order_by(Opportunity.created_at, Opportunity.id)
        .limit(limit)
    ).all()
    return [ctx.session.get_one(Opportunity, oid) for oid in reported], list(proposals)


@registry.command("pending", roles=STAFF, help="proposals and reported listings to review")
def pending(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    reported, proposals = review_queue(ctx, school)
    if not proposals and not reported:
        return [Reply("No proposals are waiting. Employers send them with /propose.")]
    today = local_today(ctx)
    room = ctx.caps.max_text - 100
    return [
        *(reported_card(ctx, o) for o in reported),
        *(
            Reply(f"Proposal #{o.id}:\n\n{card_text(o, today, room)}", proposal_buttons(o))
            for o in proposals
        ),
    ]


@registry.command(
    "listings",
    roles=STAFF,
    help="opportunities and their numbers: /listings robot",
)
def listings(ctx: Context, args: str) -> list[Reply]:
    school = staff_school(ctx)
    query = (
        select(Opportunity)
        .join(Organisation, Organisation.id == Opportunity.organisation_id)
        .where(
            (Opportunity.status == OpportunityStatus.OPEN)
            | ((Opportunity.status == OpportunityStatus.PENDING) & _for_school(school))
        )
        .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
        .limit(MAX_LISTED_NUMBERS)
    )
    word = " ".join(args.split())
    if word:
        query = query.where(
            Opportunity.title.icontains(word, autoescape=True)
            | Organisation.name.icontains(word, autoescape=True)
        )
    found = ctx.session.scalars(query).all()
    if not found:
        return [Reply("Nothing open matches that." if word else "Nothing is open right now.")]
    lines = ["Open and pending opportunities, newest first:"]
    for opportunity in found:
        pending = (
            " (waiting for approval)" if opportunity.status == OpportunityStatus.PENDING else ""
        )
        theirs = "" if owns(ctx.session, school, opportunity) else " (not your school's)"
        lines.append(f"#{opportunity.id} {clip(headline(opportunity), 80)}{pending}{theirs}")
    if len(found) == MAX_LISTED_NUMBERS:
        lines.append("Add a word to narrow it down: /listings robot")
    return [Reply("\n".join(lines))]


def owned_opportunity(ctx: Context, text: str, usage: str) -> tuple[Opportunity, str]:
    """``opportunity_arg`` for a change: only to a listing the teacher's school owns."""
    school = staff_school(ctx)
    opportunity, rest = opportunity_arg(ctx, text, usage)
    if not owns(ctx.session, school, opportunity):
        raise UserError(
            f"Sorry, #{opportunity.id} {opportunity.title} isn't your school's listing, so I "
            "haven't changed it: only the school that published or approved it can."
        )
    return opportunity, rest


@registry.command("close", roles=STAFF, help="close an opportunity: /close 12")
def close(ctx: Context, args: str) -> list[Reply]:
    opportunity, _ = owned_opportunity(ctx, args, "/close 12")
    if opportunity.status == OpportunityStatus.CLOSED:
        raise UserError(f"#{opportunity.id} {opportunity.title} is already closed.")
    opportunity.status = OpportunityStatus.CLOSED
    opportunity.updated_at = ctx.now
    _audit(ctx, opportunity, "opportunity_closed")
    return [Reply(f"Closed #{opportunity.id} {headline(opportunity)}. Students no longer see it.")]


EDITABLE = ("title", "kind", "description", "location", "deadline", "paid", "remote")
EDIT_FORM = Form(
    "Change a listing",
    "Save",
    (
        Field(
            "opportunity",
            "Listing",
            "search",
            hint="Type its number or title",
            source="listings",
        ),
        *(
            replace(f, optional=True, initial=None)
            for f in PUBLISH_FORM.fields
            if f.name in EDITABLE
        ),
    ),
)


@registry.command(
    "edit", roles=STAFF, help="change an opportunity: /edit 12 location Leeds", form=EDIT_FORM
)
def edit(ctx: Context, args: str) -> list[Reply]:
    if args.lstrip().lower().startswith("opportunity:"):
        return _edit_at_once(ctx, args)
    usage = f"/edit 12 deadline {_example(ctx)} (fields: " + ", ".join(EDITABLE) + ")"
    opportunity, rest = owned_opportunity(ctx, args, usage)
    field, _, value = rest.partition(" ")
    field = field.lower()
    if field not in EDITABLE or not value.strip():
        raise UserError(f"Say what to change and the new value: {usage}")
    setattr(opportunity, field, _answer(ctx, field, value))
    opportunity.updated_at = ctx.now
    _audit(ctx, opportunity, "opportunity_edited", field=field)
    body = card_text(opportunity, local_today(ctx), ctx.caps.max_text - 100)
    return [Reply(f"Updated #{opportunity.id}:\n\n{body}")]


def _edit_at_once(ctx: Context, args: str) -> list[Reply]:
    """Change the fields of "/edit" then "opportunity: 12" and a "field: value" line per
    change; any problem refuses it whole, each on its field."""
    given, problems = EDIT_FORM.read(args)
    by_field: dict[str, str] = {}
    opportunity = None
    if "opportunity" in given:
        try:
            opportunity, _ = owned_opportunity(ctx, given["opportunity"], "opportunity: 12")
        except UserError as refused:
            by_field["opportunity"] = refused.reply.text
    changes: Answers = {}
    for f in EDIT_FORM.fields[1:]:
        if f.name in given:
            try:
                changes[f.name] = _answer(ctx, f.name, given[f.name])
            except UserError as refused:
                by_field[f.name] = refused.reply.text
    if not given.keys() - {"opportunity"} and "opportunity" not in by_field:
        by_field["opportunity"] = "Fill in at least one thing to change."
    problems += [f"{name}: {problem}" for name, problem in by_field.items()]
    if problems or opportunity is None:
        raise UserError(
            "Nothing was changed. Please fix this and send it again:\n"
            + "\n".join(f"• {problem}" for problem in problems),
            fields=by_field,
        )
    for name, value in changes.items():
        setattr(opportunity, name, value)
    opportunity.updated_at = ctx.now
    _audit(ctx, opportunity, "opportunity_edited", fields=sorted(changes))
    body = card_text(opportunity, local_today(ctx), ctx.caps.max_text - 100)
    return [Reply(f"Updated #{opportunity.id}:\n\n{body}")]
