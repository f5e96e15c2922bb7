"""Slack under a burst: 200 signed requests from 50 people at the same moment, HTTP mode.

40 onboarded students and 10 teachers each send four requests at once (slash commands,
DMs, and for teachers two /publish commands that open a modal) to the adapter's signed HTTP
endpoint; the fake Slack Web API on 127.0.0.1 takes the answers. Slack wants every request
acknowledged within 3 seconds, and a modal opened within 3 seconds of its command (the
trigger expires); the goal here is 1 second for both.

    .venv/bin/python -m bench.slack_burst [--people 50] [--requests 200] [--database-url URL]

Prints the acknowledgement times, how long after its command each modal was opened, and how
long until every answer was posted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import insert, select

from bot.app import build
from bot.config import Settings
from bot.core import utcnow
from bot.slack import EVENTS_PATH, SlackAdapter
from handlers.people import create_invite
from storage.db import transaction
from storage.demo import seed
from storage.models import Account, Cohort, Person, Role, School
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers import Chat

TEACHERS_SHARE = 5  # one person in five is a teacher


def _people(app: Any, fake: FakeSlack, people: int) -> tuple[list[str], list[str]]:
    """Onboarded students and teachers who joined with an invite code, all on Slack."""
    now = utcnow()
    teachers = [f"UT{n:04d}" for n in range(people // TEACHERS_SHARE)]
    students = [f"US{n:04d}" for n in range(people - len(teachers))]
    with transaction(app.session_factory) as session:
        seed(session, now)
        cohort = session.scalars(select(Cohort)).first()
        school = session.scalars(select(School)).first()
        assert cohort is not None and school is not None
        ids = session.scalars(
            insert(Person).returning(Person.id),
            [
                {
                    "name": f"Student {n}",
                    "role": Role.STUDENT,
                    "cohort_id": cohort.id,
                    "grade": 11,
                    "under_18": True,
                    "onboarded_at": now,
                    "created_at": now,
                }
                for n in range(len(students))
            ],
        ).all()
        session.execute(
            insert(Account),
            [
                {
                    "person_id": pid,
                    "platform": "slack",
                    "external_id": user,
                    "chat_id": fake.dm(user),
                    "display_name": "",
                    "last_seen_at": now,
                    "created_at": now,
                }
                for pid, user in zip(ids, students, strict=True)
            ],
        )
        codes = [
            create_invite(session, Role.TEACHER, now=now, school=school).code for _ in teachers
        ]
    for user, code in zip(teachers, codes, strict=True):
        Chat(app.core, user, platform="slack", name="Tess Teacher").send(f"/join {code}")
    for user in (*students, *teachers):
        fake.add_user(user, f"Person {user}")
    return students, teachers


async def run(url: str, people: int, requests: int) -> None:
    async with FakeSlack() as fake:
        settings = Settings(
            database_url=url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.base_url,
            slack_listen="127.0.0.1",
            slack_port=0,
        )
        app = build(settings)
        students, teachers = _people(app, fake, people)
        adapter = SlackAdapter(app.core, settings)
        await adapter.start()
        fake.request_url = f"http://127.0.0.1:{adapter.port}{EVENTS_PATH}"

        # When each modal's trigger was sent, and when Slack was asked to open it.
        triggered: dict[str, float] = {}
        opened: dict[str, float] = {}

        async def watch_modals() -> None:
            seen = 0
            while True:
                calls = await fake.called("views.open", seen + 1, timeout=3600)
                for call in calls[seen:]:
                    opened[call.params["trigger_id"]] = time.perf_counter()
                seen = len(calls)

        student_asks = ["/oppbot browse", "/oppbot help", "dm:saved", "/oppbot mydata"]
        teacher_asks = ["/publish", "/oppbot help", "/publish", "dm:help"]
        plan: list[tuple[str, str]] = []
        for round_ in range(4):
            plan += [(u, student_asks[round_]) for u in students]
            plan += [(u, teacher_asks[round_]) for u in teachers]
        plan = plan[:requests]
        acks: list[float] = []

        async def send(user: str, ask: str) -> None:
            if ask.startswith("dm:"):
                start = time.perf_counter()
                delivered = await fake.dm_message(user, ask.removeprefix("dm:"))
            else:
                command, _, text = ask.partition(" ")
                form = fake.command_form(user, text, command=command)
                start = time.perf_counter()
                if command == "/publish":
                    triggered[form["trigger_id"]] = start
                delivered = await fake.deliver(urlencode(form), "application/x-www-form-urlencoded")
            acks.append(time.perf_counter() - start)
            assert delivered.status == 200, delivered

        watcher = asyncio.create_task(watch_modals())
        started = time.perf_counter()
        await asyncio.gather(*(send(user, ask) for user, ask in plan))
        await adapter.idle()
        done = time.perf_counter() - started
        watcher.cancel()
        await adapter.stop()
        app.engine.dispose()

    delays = [opened[t] - sent for t, sent in triggered.items() if t in opened]
    acks.sort()
    print(f"database:               {app.engine.dialect.name}")
    print(f"requests:               {len(plan)} from {len(students) + len(teachers)} people")
    print(
        f"ack (s):                median {statistics.median(acks):.3f}, "
        f"p99 {acks[int(len(acks) * 0.99) - 1]:.3f}, max {acks[-1]:.3f}, "
        f"over 1 s: {sum(a > 1 for a in acks)}"
    )
    if delays:
        print(
            f"modal opened after (s): max {max(delays):.3f} of {len(delays)} "
            f"(of {len(triggered)} asked), over 1 s: {sum(d > 1 for d in delays)}"
        )
    print(f"all answered after:     {done:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(url, args.people, args.requests))


if __name__ == "__main__":
    main()
