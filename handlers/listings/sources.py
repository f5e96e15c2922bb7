"""/sources: a teacher connects employers' job boards and looks after them.

The boards themselves are read by ``handlers.listings.sync`` on the scheduler's time, never while a
person waits: "Sync now" makes a source due, and the scheduler picks it up within a minute.
A teacher sees and changes their own school's sources; an admin every source.
"""

from __future__ import annotations

from bot.core import STAFF, Button, Context, Registry, Reply, UserError
from bot.i18n import N_, _, _n
from handlers import actions
from handlers.common import (
    MAX_ORG_NAME,
    fmt_when,
    is_number,
    organisation_named,
    staff_school,
)
from handlers.listings.sync.engine import DEFAULT_FILTER, describe
from handlers.listings.sync.manage import (
    SourceProblem,
    add_source,
    check_filter,
    last_runs,
    remove_source,
    status_lines,
    visible_sources,
)
from handlers.listings.sync.problems import Problem, stored
from handlers.listings.sync.providers import PROVIDERS
from storage.models import Role, Source, SourceStatus

registry = Registry()

# Translated where shown: _(USAGE, providers=...), _(FILTER_USAGE).
USAGE = N_(
    "/sources add PROVIDER BOARD ORGANISATION (like: /sources add greenhouse acme Acme Ltd); "
    "providers: {providers} (for listings, BOARD is the file's web address)"
)
FILTER_USAGE = N_(
    "/sources filter ID WORDS (like: /sources filter 3 intern, apprentice; * for all)"
)


def _usage() -> str:
    return _(USAGE, providers=", ".join(PROVIDERS))


def _school_id(ctx: Context) -> int | None:
    """Whose sources this person looks after: their school's, or (an admin) everyone's."""
    return None if ctx.role == Role.ADMIN else staff_school(ctx).id


def _source(ctx: Context, raw_id: str | None) -> Source:
    if raw_id is None or not is_number(raw_id.removeprefix("#")):
        raise UserError(
            _("Say which source by its number, as /sources shows it.") + " " + _(FILTER_USAGE)
        )
    source = ctx.session.get(Source, int(raw_id.removeprefix("#")))
    school_id = _school_id(ctx)
    if source is None or (school_id is not None and source.school_id != school_id):
        raise UserError(_("I can't find that source. Send /sources to see yours."))
    return source


def _card(ctx: Context, source: Source, *, note: str = "", replace: bool = False) -> Reply:
    run = last_runs(ctx.session, [source.id]).get(source.id)
    when = fmt_when(run.finished_at, ctx.person) if run is not None else None
    lines = status_lines(source, run, when)
    active = source.status == SourceStatus.ACTIVE
    buttons = (
        (
            Button(_("Sync now"), actions.SOURCE.payload("sync", source.id)),
            Button(_("Pause"), actions.SOURCE.payload("pause", source.id))
            if active
            else Button(_("Resume"), actions.SOURCE.payload("resume", source.id)),
        ),
        (
            Button(_("Publish at once"), actions.SOURCE.payload("open", source.id))
            if source.review
            else Button(_("Review first"), actions.SOURCE.payload("review", source.id)),
            Button(_("Remove"), actions.SOURCE.payload("remove", source.id)),
        ),
    )
    prefix = f"{note}\n\n" if note else ""
    return Reply(prefix + "\n".join(lines), buttons, replace=replace)


@registry.command(
    "sources",
    roles=STAFF,
    help=N_("employers' job boards synced as opportunities: /sources add greenhouse acme Acme Ltd"),
)
def sources(ctx: Context, args: str) -> list[Reply]:
    word, _space, rest = args.strip().partition(" ")
    if word.lower() == "add":
        return _add(ctx, rest)
    if word.lower() == "filter":
        return _filter(ctx, rest)
    if word:
        raise UserError(_("To connect a job board: {usage}", usage=_usage()))
    found = visible_sources(ctx.session, _school_id(ctx))
    if not found:
        return [Reply(_("No job boards are connected yet. {usage}", usage=_usage()))]
    return [
        Reply(
            _n(
                "{n} connected job board. New postings whose titles have one of the filter "
                "words come in. To connect another: {usage}. To change a filter: {filter}",
                "{n} connected job boards. New postings whose titles have one of the filter "
                "words come in. To connect another: {usage}. To change a filter: {filter}",
                len(found),
                usage=_usage(),
                filter=_(FILTER_USAGE),
            )
        ),
        *(_card(ctx, source) for source in found),
    ]


def _add(ctx: Context, args: str) -> list[Reply]:
    parts = args.split(maxsplit=2)
    if len(parts) < 2 or (len(parts) < 3 and parts[0].lower() != "listings"):
        raise UserError(
            _("Please give the provider, the board and the employer: {usage}", usage=_usage())
        )
    provider, board = parts[0], parts[1]
    name = " ".join(parts[2].split()) if len(parts) == 3 else ""
    if len(name) > MAX_ORG_NAME:
        raise UserError(_("Please keep the employer's name under {n} characters.", n=MAX_ORG_NAME))
    try:
        source = add_source(
            ctx.session,
            provider,
            board,
            organisation=organisation_named(ctx.session, name, ctx.now) if name else None,
            school=staff_school(ctx),
            created_by=ctx.person,
            now=ctx.now,
        )
    except SourceProblem as problem:
        raise UserError(str(problem)) from None
    return [
        _card(
            ctx,
            source,
            note=_(
                "Connected {source}. Its first sync runs within a minute. Titles with these "
                "words come in: {words} (change them with {usage}).",
                source=describe(source),
                words=DEFAULT_FILTER,
                usage=_(FILTER_USAGE),
            ),
        )
    ]


def _filter(ctx: Context, args: str) -> list[Reply]:
    raw_id, _space, words = args.strip().partition(" ")
    source = _source(ctx, raw_id or None)
    try:
        source.title_filter = check_filter(words)
    except SourceProblem as problem:
        raise UserError(f"{problem} {_(FILTER_USAGE)}") from None
    # The next sync applies it, reading the whole board even if unchanged: postings the
    # filter now leaves out close, new matches come in.
    source.next_sync_at = ctx.now
    source.etag = source.last_modified = None
    return [
        _card(ctx, source, note=_("Filter changed; it applies from the next sync, in a minute."))
    ]


def _paused_by(ctx: Context) -> str:
    """Who paused a source, stored and shown later to any teacher of the school, each in
    their own language."""
    if ctx.person.name:
        return stored([Problem.of(N_("paused by {name}"), name=ctx.person.name)])
    return stored([Problem.of(N_("paused by a teacher"))])


@registry.action(actions.SOURCE, roles=STAFF)
def pressed(ctx: Context, args: list[str]) -> list[Reply]:
    if len(args) != 2:
        raise UserError(_("That button doesn't work any more. Send /sources to start again."))
    what, source = args[0], _source(ctx, args[1])
    if what == "sync":
        if source.status != SourceStatus.ACTIVE:
            raise UserError(_("That source is paused: press Resume first."))
        source.next_sync_at = ctx.now
        return [_card(ctx, source, note=_("It syncs within a minute: /sources shows the result."))]
    if what == "pause":
        source.status = SourceStatus.PAUSED
        source.paused_reason = _paused_by(ctx)
        return [_card(ctx, source, note=_("Paused: its listings stay as they are."), replace=True)]
    if what == "resume":
        source.status = SourceStatus.ACTIVE
        source.failures = 0
        source.paused_reason = None
        source.next_sync_at = ctx.now
        return [_card(ctx, source, note=_("Resumed: it syncs within a minute."), replace=True)]
    if what in ("open", "review"):
        source.review = what == "review"
        note = (
            _("New postings now wait for your review in /pending.")
            if source.review
            else _("New postings now open to students at once.")
        )
        return [_card(ctx, source, note=note, replace=True)]
    if what == "remove":
        return [
            Reply(
                _(
                    "Remove {source}? Its open listings close, and students who saved them are "
                    "told.",
                    source=describe(source),
                ),
                (
                    (
                        Button(_("Yes, remove it"), actions.SOURCE.payload("removed", source.id)),
                        Button(_("Keep it"), actions.SOURCE.payload("keep", source.id)),
                    ),
                ),
                replace=True,
            )
        ]
    if what == "removed":
        name = describe(source)
        closed = remove_source(ctx.session, source, now=ctx.now, quiet=ctx.timing.quiet)
        done = _n(
            "Removed {source}; {n} of its listings closed.",
            "Removed {source}; {n} of its listings closed.",
            closed,
            source=name,
        )
        return [Reply(done, replace=True)]
    if what == "keep":
        return [_card(ctx, source, note=_("Kept."), replace=True)]
    raise UserError(_("That button doesn't work any more. Send /sources to start again."))
