"""The ``oppbot`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.app import App, build, run
from bot.config import Settings
from bot.console import ConsoleChat
from bot.core import utcnow
from bot.scheduler import board_fetcher
from handlers.common import (
    only_school,
    organisation_named,
    school_named,
    staff_labels,
    with_article,
)
from handlers.listings import (
    DEFAULT_FILTER,
    PROVIDERS,
    Owner,
    SourceProblem,
    add_source,
    describe,
    import_file,
    last_runs,
    remove_source,
    run_imports,
    status_lines,
    sync_sources,
    visible_sources,
)
from handlers.people import create_invite
from handlers.reports import (
    PeriodError,
    Scope,
    build_report,
    chart_data,
    coverage,
    coverage_markdown,
    long_csv,
    parse_period,
    render,
    report_csv,
    report_markdown,
    school_year,
    school_zone,
    wide_csv,
)
from storage.db import make_engine, transaction, upgrade
from storage.demo import seed
from storage.models import Organisation, Role, School, Source, SourceStatus

Named = TypeVar("Named", School, Organisation)


# Long because it is the argparse table of every command and option, read top to bottom.
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oppbot", description="oppbot connects students to opportunities from employers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--as", dest="user", required=True, metavar="NAME", help="who you are")
    chat.add_argument("--demo", action="store_true", help="add the demo school and employers")

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"], help="create or upgrade the schema")

    commands.add_parser(
        "run",
        help="serve Telegram and/or Slack (whichever has a token) with the scheduler and "
        "the outbox senders, until stopped",
    )
    commands.add_parser("demo", help="add the demo school, classes and employers")

    imports = commands.add_parser("import", help="import opportunities from CSV or JSON")
    imports.add_argument("file", type=Path)
    imports.add_argument(
        "--school", help="the school that owns the listings (needed when there are several)"
    )

    invite = commands.add_parser("invite", help="make an invite code for a teacher or employer")
    invite.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r != Role.STUDENT]
    )
    invite.add_argument("--organisation", help="the employer's organisation (for --role employer)")
    invite.add_argument("--school", help="the teacher's school (created if new)")
    invite.add_argument("--uses", type=int, default=1, help="how many people may use it")

    sources = commands.add_parser("sources", help="employers' job boards synced as opportunities")
    actions = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="connect a job board")
    add.add_argument("provider", help=", ".join(PROVIDERS))
    add.add_argument("board", help="the board's name (for listings: the URL)")
    add.add_argument("--organisation", help="the employer (needed but for listings)")
    add.add_argument("--school", help="the school that owns its listings (created if new)")
    add.add_argument(
        "--filter",
        dest="title_filter",
        help=f"title words, comma-separated, or '*' for all (default: {DEFAULT_FILTER})",
    )
    add.add_argument(
        "--review", action="store_true", help="new postings wait in /pending for a teacher"
    )
    actions.add_parser("list", help="the sources and their last runs")
    sync = actions.add_parser("sync", help="sync now (every active source, or one)")
    sync.add_argument("id", nargs="?", type=int)
    remove = actions.add_parser("remove", help="disconnect a source and close its listings")
    remove.add_argument("id", type=int)

    report = commands.add_parser("report", help="the partnership health report")
    report.add_argument("--school", help="the school (needed when there are several)")
    report.add_argument("--employer", help="only this employer's figures")
    report.add_argument(
        "--period",
        default="",
        help="30d, week, month, term (the default: 90 days), year, 'this month', 'last month', "
        "'last week', or 'YYYY-MM-DD YYYY-MM-DD'; days as the school's first teacher lives them",
    )
    report.add_argument("--format", choices=["md", "csv"], default="md", help="Markdown or CSV")
    report.add_argument("--chart", type=Path, metavar="FILE", help="also write the chart (PNG)")

    evidence = commands.add_parser(
        "evidence", help="students' encounters with employers this school year, per year group"
    )
    evidence.add_argument("--school", help="the school (needed when there are several)")
    evidence.add_argument("--year-group", type=int, metavar="N", help="only this year group")
    evidence.add_argument("--format", choices=["md", "csv"], default="md", help="Markdown or CSV")
    evidence.add_argument(
        "--long", action="store_true", help="CSV with one row per encounter, not per student"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # python-telegram-bot's future behaviour (retry_after as a timedelta), chosen now.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        for line in setting_problems(error):
            print(line, file=sys.stderr)
        return 2
    logs.configure(settings)
    if args.command not in ("db", "run"):
        # The schema upgrade's progress lines would land in the middle of the conversation,
        # or beside a report or an import summary.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "db":
        upgrade(make_engine(settings.database_url))
        print("Database schema is up to date.")
        return 0

    if args.command == "run":
        run(settings)
        return 0

    app = build(settings)
    if args.command == "chat":
        return _chat(app, settings, args)
    if args.command == "demo":
        return _demo(app)
    if args.command == "import":
        return _import(app, args)
    if args.command == "invite":
        return _invite(
            app.session_factory, Role(args.role), args.organisation, args.school, args.uses
        )
    if args.command == "report":
        return _report(app.session_factory, settings, args)
    if args.command == "evidence":
        return _evidence(app.session_factory, settings, args)
    if args.command == "sources":
        return _sources(app.session_factory, settings, args)
    raise AssertionError(args.command)


def _chat(app: App, settings: Settings, args: argparse.Namespace) -> int:
    if args.demo:
        with transaction(app.session_factory) as session:
            seed(session, utcnow())
    timing = settings.timing()
    ConsoleChat(
        app.core,
        app.session_factory,
        args.user,
        sys.stdout,
        echo=not sys.stdin.isatty(),
        # No scheduler here: a big file sent with /import is imported between turns.
        background=lambda: run_imports(app.session_factory, app.core.clock(), timing),
    ).run(sys.stdin)
    return 0


def _demo(app: App) -> int:
    with transaction(app.session_factory) as session:
        added = seed(session, utcnow())
    print("Demo data added." if added else "Demo data is already there.")
    return 0


def _import(app: App, args: argparse.Namespace) -> int:
    with app.session_factory() as session:
        school = _school(session, args.school)
        if isinstance(school, str):
            print(school, file=sys.stderr)
            return 2
    # The operator may give a school the listings that no school owns yet.
    owner = Owner(school.id, claim=True) if school is not None else Owner()
    try:
        report = import_file(
            app.session_factory,
            args.file,
            now=utcnow(),
            owner=owner,
            progress=_import_progress,
        )
    except (OSError, ValueError) as error:
        print(f"Import failed: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _import_progress(done: int, total: int) -> None:
    # Standard error, as logs: standard output holds the summary.
    print(f"{done:,} of {total:,} listings done so far…", file=sys.stderr)


def setting_problems(error: ValidationError) -> list[str]:
    """One line per invalid setting, named as it is set (OPPBOT_...), instead of a traceback."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    lines = []
    for problem in error.errors(include_url=False):
        # A rule across several settings (webhook mode) has no field and names them itself.
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            name = f"{prefix}{problem['loc'][0]}".upper()
            lines.append(f"Invalid setting {name}: {message}.")
        else:
            lines.append(f"Invalid settings: {message}.")
    return lines


def _invite(
    factory: sessionmaker[Session],
    role: Role,
    organisation: str | None,
    school: str | None,
    uses: int,
) -> int:
    if role == Role.EMPLOYER and not organisation:
        print("An employer invite needs --organisation NAME.", file=sys.stderr)
        return 2
    if uses < 1:
        print("--uses must be at least 1.", file=sys.stderr)
        return 2
    now = utcnow()
    with transaction(factory) as session:
        org = organisation_named(session, organisation, now) if organisation else None
        place = school_named(session, school, now) if school else None
        code = create_invite(
            session, role, now=now, organisation=org, school=place, max_uses=uses
        ).code
    print(f"Invite code for {with_article(role.value)}: {code} (they send /join {code} to the bot)")
    return 0


def _school(session: Session, name: str | None) -> School | str | None:
    """The school ``--school`` names (or the only one), None if there are no schools yet, or
    what is wrong."""
    school = _named(session, School, name) if name else only_school(session)
    names = ", ".join(session.scalars(select(School.name).order_by(School.name)))
    if school is not None or not (name or names):
        return school
    return " ".join(
        (
            f"No school called {name}." if name else "Say which school.",
            f"Choose one with --school: {names}." if names else "There are no schools yet.",
        )
    )


def _sources(factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> int:
    now = utcnow()
    if args.action == "add":
        return _source_add(factory, args, now)
    if args.action == "list":
        return _source_list(factory)
    if args.action == "sync":
        return _source_sync(factory, settings, args, now)
    if args.action == "remove":
        return _source_remove(factory, settings, args, now)
    raise AssertionError(args.action)


def _source_add(factory: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    try:
        with transaction(factory) as session:
            organisation = (
                organisation_named(session, args.organisation, now) if args.organisation else None
            )
            school = school_named(session, args.school, now) if args.school else None
            source = add_source(
                session,
                args.provider,
                args.board,
                organisation=organisation,
                school=school,
                created_by=None,
                now=now,
                title_filter=args.title_filter,
                review=args.review,
            )
            print(f"Connected {describe(source)}. Sync it now: oppbot sources sync {source.id}")
    except SourceProblem as problem:
        print(problem, file=sys.stderr)
        return 2
    return 0


def _source_list(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        found = visible_sources(session, None)
        runs = last_runs(session, [source.id for source in found])
        if not found:
            print(
                "No sources yet. Connect one: oppbot sources add greenhouse BOARD "
                '--organisation "Acme Ltd"'
            )
        for source in found:
            run = runs.get(source.id)
            when = f"{run.finished_at:%Y-%m-%d %H:%M} UTC" if run is not None else None
            print("\n    ".join(status_lines(source, run, when)))
    return 0


def _source_sync(
    factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    with factory() as session:
        if args.id is None:
            ids = [s.id for s in visible_sources(session, None) if s.status == SourceStatus.ACTIVE]
        elif session.get(Source, args.id) is None:
            print(f"There's no source #{args.id}.", file=sys.stderr)
            return 2
        else:
            ids = [args.id]
    results = sync_sources(
        factory,
        board_fetcher(settings),
        ids,
        now=now,
        every=settings.sources_every,
        quiet=settings.timing().quiet,
        progress=_progress_bar if sys.stdout.isatty() else None,
    )
    for result in results:
        print(f"#{result.source_id}: {result.summary()}")
    return 1 if any(result.errors for result in results) else 0


def _source_remove(
    factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    with transaction(factory) as session:
        removed = session.get(Source, args.id)
        if removed is None:
            print(f"There's no source #{args.id}.", file=sys.stderr)
            return 2
        name = describe(removed)
        closed = remove_source(session, removed, now=now, quiet=settings.timing().quiet)
    print(f"Removed {name}; {closed} of its listings closed.")
    return 0


def _progress_bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // total if total else width
    end = "\n" if done >= total else ""
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<20}",
        end=end,
        flush=True,
    )


def _report(factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> int:
    with factory() as session:
        school = _school(session, args.school)
        if school is None or isinstance(school, str):
            print(school or "There are no schools yet.", file=sys.stderr)
            return 2
        employer = _named(session, Organisation, args.employer) if args.employer else None
        if args.employer and employer is None:
            print(f"No employer called {args.employer}.", file=sys.stderr)
            return 2
        # The school's days, as its teachers see them in the chat.
        zone = school_zone(session, school.id)
        try:
            period = parse_period(args.period, utcnow().astimezone(zone).date(), zone)
        except PeriodError as error:
            print(error, file=sys.stderr)
            return 2
        scope = Scope(school.id, employer.id if employer else None)
        title = f"{school.name}, {employer.name}" if employer else school.name
        built = build_report(
            session, scope, title, period, year_start=settings.timing().school_year_start
        )
        print(report_csv(built) if args.format == "csv" else report_markdown(built), end="")
        if args.chart is not None:
            try:
                args.chart.write_bytes(render(chart_data(built)))
            except OSError as error:
                print(
                    f"Couldn't write the chart to {args.chart}: {error.strerror}.", file=sys.stderr
                )
                return 2
            # Standard output holds the report, which may be piped into a file.
            print(f"Chart written to {args.chart}", file=sys.stderr)
    return 0


def _evidence(factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> int:
    with factory() as session:
        school = _school(session, args.school)
        if school is None or isinstance(school, str):
            print(school or "There are no schools yet.", file=sys.stderr)
            return 2
        # The school's days, as its teachers see them in the chat.
        today = utcnow().astimezone(school_zone(session, school.id)).date()
        year = school_year(today, settings.timing().school_year_start)
        groups = coverage(session, school.id, year, today, grade=args.year_group)
        if args.format == "csv":
            print(long_csv(groups) if args.long else wide_csv(groups), end="")
            return 0
        labels = staff_labels(session, [s.student for g in groups for s in g.students])
        print(coverage_markdown(school.name, groups, labels, year), end="")
    return 0


def _named(session: Session, model: type[Named], name: str) -> Named | None:
    """The school or employer of that name, ignoring case and extra spaces."""
    clean = " ".join(name.split()).lower()
    return session.scalar(select(model).where(func.lower(model.name) == clean))


if __name__ == "__main__":
    raise SystemExit(main())
