"""Every benchmark in ``bench/`` in one run, at sizes that finish in under ten minutes on a
2-core machine, printed as one markdown block: date, commit, machine, then each benchmark's
command and figures.

    .venv/bin/python -m bench.all --listings PATH > /tmp/figures.md
    .venv/bin/python -m bench.all --listings PATH --write docs/PERFORMANCE.md

``--write`` puts the block into the file between the lines ``<!-- figures:start -->`` and
``<!-- figures:end -->`` instead of printing it. Without ``--listings`` (or
``$OPPBOT_BENCH_LISTINGS``) the listing benchmarks use the repository's 304-listing sample, and the
block says so. The PostgreSQL benchmarks use ``--database-url`` (default: the database
``bench`` on 127.0.0.1, created if absent); that database is emptied before each of them, so
never point it at one whose data you want.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.latency import LISTINGS_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "internship-listings-sample.json"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


class Benchmark(NamedTuple):
    title: str
    args: tuple[str, ...]  # after ``python -m``
    postgres: bool = False  # needs an empty PostgreSQL database (added as --database-url)


def benchmarks(listings: Path) -> list[Benchmark]:
    """Each benchmark at a size that keeps the whole run under ten minutes here."""
    data = ("--listings", str(listings))
    return [
        Benchmark(
            "Inbound: Telegram /browse through the webhook, SQLite, against bare "
            "python-telegram-bot",
            ("bench.inbound", "--updates", "1000"),
        ),
        Benchmark(
            "Inbound: one oppbot run process against two, PostgreSQL",
            ("bench.inbound", "--updates", "1000", "--processes", "2"),
            postgres=True,
        ),
        Benchmark("Slack under a burst", ("bench.slack_burst",)),
        Benchmark(
            "Core latency and matching, SQLite",
            ("bench.latency", *data, "--runs", "100", "--students", "2000"),
        ),
        Benchmark("Reminder storm, SQLite", ("bench.reminders",)),
        Benchmark("Reminder storm, PostgreSQL (two workers)", ("bench.reminders",), postgres=True),
        Benchmark(
            "Broadcast: one announcement to 1,000 students",
            ("bench.broadcast", "--students", "1000"),
        ),
        Benchmark("Memory of oppbot run", ("bench.memory", *data)),
    ]


def fresh_database(url: str) -> None:
    """Drop and create the PostgreSQL database ``url`` names, so a benchmark starts empty."""
    parsed = make_url(url)
    name = parsed.database
    if not name or name == "test":
        raise SystemExit(f"refusing to empty the database {name!r}: give one for benchmarks")
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()


def _command(benchmark: Benchmark, database: str) -> list[str]:
    extra = ["--database-url", database] if benchmark.postgres else []
    return [sys.executable, "-m", *benchmark.args, *extra]


def _shown(command: list[str]) -> str:
    """The command as someone would type it in a checkout."""
    shown = [".venv/bin/python", *command[1:]]
    return " ".join(
        re.sub(r"^/.*/(internship-listings[^/]*\.json)$", r"\1", part) for part in shown
    )


def _git(*args: str) -> str:
    found = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return found.stdout.strip()


def _machine(database: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    engine = create_engine(database)
    with engine.connect() as conn:
        postgres = str(conn.scalar(text("SHOW server_version")))
    engine.dispose()
    return [
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {postgres} (127.0.0.1)",
    ]


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# Long because it writes the block's heading, each benchmark's command and output, and the
# load around them, in the order they ran.
def run(listings: Path, database: str) -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    fresh_database(database)
    lines = [
        f"Figures from one run of `python -m bench.all` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}.",
        "",
        *(f"- {line}" for line in _machine(database)),
        f"- listings: {listings.name}"
        + (" (the repository's sample, not the full file)" if listings == SAMPLE else ""),
        f"- load average (1, 5, 15 min) at the start: {_load()}",
        "",
    ]
    started = time.perf_counter()
    for benchmark in benchmarks(listings):
        if benchmark.postgres:
            fresh_database(database)
        command = _command(benchmark, database)
        print(f"running {_shown(command)}", file=sys.stderr, flush=True)
        began, load = time.perf_counter(), _load()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        took = time.perf_counter() - began
        output = done.stdout.strip() or "(no output)"
        if done.returncode != 0:
            output += f"\n(exit code {done.returncode})\n{done.stderr.strip()[-2000:]}"
        lines += [
            f"**{benchmark.title}** ({took:.0f} s; load average {load} at its start)",
            "",
            "```sh",
            _shown(command),
            "```",
            "",
            "```text",
            output,
            "```",
            "",
        ]
    lines.append(
        f"The whole run took {(time.perf_counter() - started) / 60:.1f} min; load average at "
        f"the end: {_load()}."
    )
    return "\n".join(lines) + "\n"


def write(path: Path, block: str) -> None:
    """Put ``block`` between the markers in ``path``, in place of what was there."""
    content = path.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{path} has no {START} ... {END} lines to write between")
    before, rest = content.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{block}{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--listings",
        type=Path,
        default=os.environ.get(LISTINGS_VARIABLE),
        help="the full internship-listings.json (default: $OPPBOT_BENCH_LISTINGS, else the sample)",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_POSTGRES,
        help=f"a PostgreSQL database the benchmarks may empty (default: {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--write", type=Path, help="a markdown file with the markers to fill")
    args = parser.parse_args()
    listings = args.listings if args.listings is not None else SAMPLE
    if not listings.is_file():
        raise SystemExit(f"bench.all: no listings file at {listings}")
    block = run(listings.resolve(), args.database_url)
    if args.write is not None:
        write(args.write, block)
    else:
        print(block, end="")


if __name__ == "__main__":
    main()
