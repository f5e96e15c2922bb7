"""Announcements: audience, preview count, one outbox row per student, scheduling, report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Button, Core, Timing
from handlers.common.membership import school_named
from handlers.messaging.announcements import report_deliveries, send_due_announcements
from handlers.people.invites import create_invite
from storage.models import (
    Account,
    Announcement,
    AnnouncementStatus,
    Cohort,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
)
from storage.outbox import QuietHours
from tests.conftest import FakeClock, Snapshot
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    inbox,
    join_with_invite,
    make_employer,
    onboard,
    person_id,
    row_counts,
)

MESSAGE = "Careers fair on Friday in the hall! Bring a CV. <b>&*_~ <@U123>"


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    ada: Chat  # Year 11, technology, console
    bob: Chat  # Year 11, engineering, Telegram
    cal: Chat  # Year 12, technology, console and Telegram
    dee: Chat  # Hillside Academy
    tina: Chat  # teacher at Riverside High
    tom: Chat  # teacher at Hillside Academy
    maya: Chat  # employer

    def announcements(self) -> list[Announcement]:
        with self.factory() as session:
            return list(session.scalars(select(Announcement).order_by(Announcement.id)))

    def rows(self) -> list[tuple[str, str, str, int | None, str]]:
        """(platform, user, key, announcement id, text) of the announcement rows."""
        with self.factory() as session:
            found = session.execute(
                select(
                    Account.platform,
                    Account.external_id,
                    OutboxMessage.idempotency_key,
                    OutboxMessage.announcement_id,
                    OutboxMessage.text,
                )
                .join(Account, Account.id == OutboxMessage.account_id)
                .where(OutboxMessage.kind == "announcement")
                .order_by(Account.external_id)
            )
            return [tuple(row) for row in found]  # type: ignore[misc]

    def users(self) -> list[str]:
        return [user for _, user, *_ in self.rows()]


def _world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    year_11 = add_school(session_factory, clock.now)
    with session_factory.begin() as session:
        riverside = session.get(Cohort, year_11)
        assert riverside is not None
        session.add(
            Cohort(
                school_id=riverside.school_id,
                name="Year 12",
                join_code="RIVER-12",
                created_at=clock.now,
            )
        )
    tina = Chat(core, "tina", name="Tina Teacher")
    join_with_invite(session_factory, clock.now, tina, Role.TEACHER)
    add_school(session_factory, clock.now, school="Hillside Academy", cohort="Y10", code="HILL-10")
    tom = Chat(core, "tom", name="Tom Teacher")
    with session_factory.begin() as session:
        school = school_named(session, "Hillside Academy", clock.now)
        code = create_invite(session, Role.TEACHER, now=clock.now, school=school).code
    tom.send(f"/join {code}")
    add_opportunity(session_factory, clock.now, title="Software intern")
    maya = Chat(core, "maya", name="Maya")
    make_employer(session_factory, clock.now, maya, "Acme Ltd")

    ada = Chat(core, "ada", name="Ada")
    onboard(ada, under_18=False)
    bob = Chat(core, "bob", platform="telegram", name="Bob")
    onboard(bob, under_18=False, tags=("Engineering",))
    cal = Chat(core, "cal", name="Cal")
    onboard(cal, code="RIVER-12", under_18=False)
    # Cal also uses Telegram now, and did so last: the announcement goes there, once.
    clock.advance(minutes=1)
    with session_factory.begin() as session:
        person = session.get(Person, person_id(session_factory, cal))
        assert person is not None
        session.add(
            Account(
                person=person,
                platform="telegram",
                external_id="cal-tg",
                chat_id="cal-tg",
                last_seen_at=clock.now,
                created_at=clock.now,
            )
        )
    dee = Chat(core, "dee", name="Dee")
    onboard(dee, code="HILL-10", under_18=False)
    return World(core, session_factory, clock, ada, bob, cal, dee, tina, tom, maya)


@pytest.fixture
def world(snapshot: Snapshot) -> World:
    return snapshot(_world)


def write(world: World, teacher: Chat, text: str = MESSAGE) -> int:
    teacher.send("/announce")
    assert "What's your message for students?" in teacher.text
    teacher.send(text)
    assert "Who should get it?" in teacher.text, teacher.text
    return world.announcements()[-1].id


def test_everyone_at_the_school_gets_one_row_each_on_their_own_platform(world: World) -> None:
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    assert world.tina.text == (
        "To 3 students (everyone at Riverside High). Anyone in their quiet hours (21:00 to "
        "08:00 their time) gets it when those end, unless you send it as urgent.\n\n"
        "Here's what they'll read:\n\n"
        f"Announcement from Riverside High:\n\n{MESSAGE}"
    )
    assert [b.label for b in world.tina.buttons] == [
        "Send now",
        "Schedule",
        "Send now, even in quiet hours",
        "Schedule, even in quiet hours",
        "Cancel",
    ]
    assert world.rows() == []
    world.tina.press("Send now")
    assert world.tina.text == "Sending to 3 students. I'll tell you when it's delivered."
    assert world.tina.button("Delivery report").payload == f"anr:{aid}"
    text = f"Announcement from Riverside High:\n\n{MESSAGE}"
    ids = {chat.user: person_id(world.factory, chat) for chat in (world.ada, world.bob)}
    cal = person_id(world.factory, world.cal)
    assert world.rows() == [
        ("console", "ada", f"ann:{aid}:{ids['ada']}", aid, text),
        ("telegram", "bob", f"ann:{aid}:{ids['bob']}", aid, text),
        ("telegram", "cal-tg", f"ann:{aid}:{cal}", aid, text),
    ]
    (announcement,) = world.announcements()
    assert announcement.status == AnnouncementStatus.SENT
    assert (announcement.sent_at, announcement.recipient_count) == (world.clock.now, 3)
    assert announcement.audience == {"type": "school"}

    # The Send button again (a double tap, a retry) sends nothing more.
    world.tina.press_payload(f"ans:{aid}")
    assert "That announcement has already been sent" in world.tina.text
    assert len(world.rows()) == 3


def test_students_in_their_quiet_hours_get_it_when_they_end(world: World) -> None:
    with world.factory.begin() as session:
        session.execute(update(Person).where(Person.name == "Bob").values(timezone="Asia/Tokyo"))
    write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Send now")
    # 15:01 in London is 00:01 in Tokyo.
    assert world.tina.text == (
        "Sending to 3 students (1 will get it when their quiet hours end). "
        "I'll tell you when it's delivered."
    )
    with world.factory() as session:
        times = dict(
            session.execute(
                select(Account.external_id, OutboxMessage.next_attempt_at).join(
                    Account, Account.id == OutboxMessage.account_id
                )
            ).all()
        )
    assert times["bob"] == datetime.fromisoformat("2026-11-23T23:00:00+00:00")
    assert times["ada"] == world.clock.now


def _send_times(world: World, aid: int) -> set[datetime]:
    """When the outbox rows of announcement ``aid`` are due to go."""
    with world.factory() as session:
        return set(
            session.scalars(
                select(OutboxMessage.next_attempt_at).where(OutboxMessage.announcement_id == aid)
            )
        )


def test_an_urgent_announcement_goes_at_once_in_quiet_hours(world: World) -> None:
    world.clock.now = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 22:00 in London
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    normal = write(world, world.tina, "Fair moved to Monday.")
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Send now")
    assert world.tina.text == (
        "Sending to 3 students (3 will get it when their quiet hours end). "
        "I'll tell you when it's delivered."
    )
    assert _send_times(world, normal) == {morning}

    urgent = write(world, world.tina, "School is closed tomorrow: snow.")
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Send now, even in quiet hours")
    assert world.tina.text == (
        "Sending as urgent to 3 students, even those in their quiet hours. "
        "I'll tell you when it's delivered."
    )
    assert _send_times(world, urgent) == {world.clock.now}
    assert len(world.rows()) == 6
    assert world.announcements()[-1].audience == {"type": "school", "urgent": True}

    world.tina.press("Delivery report")
    assert world.tina.text.startswith(
        f"Announcement #{urgent} to everyone at Riverside High, sent 23 Nov 2026 22:00, urgent.\n"
        "Delivered: 0\nPending: 3"
    )
    world.tina.send("/delivery")
    assert world.tina.text.splitlines()[1:] == [
        f"#{urgent}, sent 23 Nov 2026 22:00, urgent: School is closed tomorrow: snow.",
        f"#{normal}, sent 23 Nov 2026 22:00: Fair moved to Monday.",
    ]
    # A tampered urgency button sends nothing.
    other = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press_payload(f"ans:{other}:loud")
    assert "That button is from an earlier question" in world.tina.text
    assert len(world.rows()) == 6


def test_a_scheduled_urgent_announcement_goes_at_its_time_in_quiet_hours(world: World) -> None:
    late = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 23:00 in London
    normal = write(world, world.tina, "Reminder: fair on Friday.")
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule")
    world.tina.send("2026-11-23 23:00")
    assert world.tina.text.startswith("Scheduled for 23 Nov 2026 23:00, to 3 students as of now")
    urgent = write(world, world.tina, "No buses tomorrow morning.")
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule, even in quiet hours")
    world.tina.send("2026-11-23 23:00")
    assert world.tina.text == (
        "Scheduled as urgent for 23 Nov 2026 23:00, to 3 students as of now "
        "(whoever fits the audience then gets it, even in their quiet hours)."
    )
    world.tina.press("Delivery report")
    assert world.tina.text == (
        f"Announcement #{urgent} to everyone at Riverside High, "
        "scheduled for 23 Nov 2026 23:00, urgent."
    )

    with world.factory.begin() as session:
        assert send_due_announcements(session, late, quiet=QuietHours()) == 2
    assert _send_times(world, urgent) == {late}
    assert _send_times(world, normal) == {datetime(2026, 11, 24, 8, 0, tzinfo=UTC)}


def test_without_quiet_hours_there_is_no_urgent_choice(world: World) -> None:
    never = Timing(quiet=QuietHours(time(0, 0), time(0, 0)))
    core = Core(world.factory, world.core.registry, clock=world.clock, timing=never)
    tina = Chat(core, "tina", name="Tina Teacher")
    tina.send("/announce Fair on Friday.")
    tina.press("Everyone at Riverside High")
    assert tina.text.startswith("To 3 students (everyone at Riverside High).\n\nHere's what")
    assert [b.label for b in tina.buttons] == ["Send now", "Schedule", "Cancel"]


def test_choosing_classes(world: World) -> None:
    write(world, world.tina)
    world.tina.press("Classes")
    assert [b.label for b in world.tina.buttons] == ["Year 11", "Year 12"]
    world.tina.press("Year 12")
    assert [b.label for b in world.tina.buttons] == ["Year 11", "✓ Year 12", "Done (1 chosen)"]
    world.tina.press("Done")
    assert world.tina.text.startswith("To 1 student (Year 12).")
    world.tina.press("Send now")
    assert world.users() == ["cal-tg"]


def test_choosing_both_classes_and_a_class_of_another_school(world: World) -> None:
    aid = write(world, world.tina)
    world.tina.press("Classes")
    world.tina.press("Year 11")
    world.tina.press("Year 12")
    world.tina.press("Done")
    assert world.tina.text.startswith("To 3 students (Year 11, Year 12).")
    with world.factory() as session:
        hill = session.scalars(select(Cohort.id).where(Cohort.name == "Y10")).one()
    world.tina.press_payload(f"anc:{aid}:{hill}")
    assert "That button is from an earlier question" in world.tina.text


def test_students_interested_in_a_field(world: World) -> None:
    write(world, world.tina)
    world.tina.press("A field")
    world.tina.press("Engineering")
    assert world.tina.text.startswith("To 1 student (students interested in Engineering).")
    world.tina.press("Send now")
    assert world.users() == ["bob"]


def test_students_interested_in_an_opportunity(world: World) -> None:
    opportunity = add_opportunity(world.factory, world.clock.now, title="Robot lab tour")
    for chat in (world.ada, world.bob, world.dee):
        chat.press_payload(f"int:{opportunity}")
        chat.press("Send without a note")
    world.bob.send("/mine")
    world.bob.press("Withdraw 1")
    world.bob.press("Yes, withdraw")
    aid = write(world, world.tina)
    world.tina.press("Interested in an opportunity")
    world.tina.send("nonsense")
    assert "Say which opportunity by its number" in world.tina.text
    world.tina.send(f"#{opportunity}")
    assert world.tina.text.startswith(
        "To 1 student (students interested in Robot lab tour — Acme Ltd)."
    )
    world.tina.press("Send now")
    assert world.users() == ["ada"]
    assert world.announcements()[-1].id == aid


def test_an_empty_audience_offers_another_choice(world: World) -> None:
    write(world, world.tina)
    world.tina.press("A field")
    world.tina.press("Health & care")
    assert world.tina.text.startswith(
        "To 0 students (students interested in Health & care): nobody to send it to."
    )
    assert "Send now" not in [b.label for b in world.tina.buttons]
    world.tina.press("Everyone at Riverside High")
    assert world.tina.text.startswith("To 3 students")


def test_scheduled_announcements_go_once_when_due(world: World) -> None:
    with world.factory.begin() as session:
        session.execute(
            update(Person).where(Person.name == "Tina Teacher").values(timezone="America/New_York")
        )
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule")
    assert "your time (America/New_York)" in world.tina.text
    for bad, expected in [
        ("tomorrow", "Please type it as YYYY-MM-DD HH:MM"),
        ("2026-11-31 09:00", "isn't a real date and time"),
        ("2026-11-23 09:00", "That time has passed"),
        ("2028-01-01 09:00", "more than a year ahead"),
    ]:
        world.tina.send(bad)
        assert expected in world.tina.text, bad
    world.tina.send("2026-11-24 9:00")
    assert world.tina.text.startswith("Scheduled for 24 Nov 2026 09:00, to 3 students as of now")
    (announcement,) = world.announcements()
    assert announcement.status == AnnouncementStatus.SCHEDULED
    due = datetime.fromisoformat("2026-11-24T14:00:00+00:00")
    assert announcement.scheduled_for == due
    assert world.rows() == []

    # A student who joins meanwhile gets it too: the audience is worked out when it goes.
    eve = Chat(world.core, "eve", name="Eve")
    onboard(eve, under_18=False)

    def run(at: datetime) -> int:
        with world.factory.begin() as session:
            return send_due_announcements(session, at)

    assert run(due - timedelta(seconds=1)) == 0
    assert world.rows() == []
    assert run(due) == 1
    assert sorted(world.users()) == ["ada", "bob", "cal-tg", "eve"]
    assert run(due + timedelta(minutes=1)) == 0
    assert len(world.rows()) == 4
    (announcement,) = world.announcements()
    assert (announcement.status, announcement.sent_at) == (AnnouncementStatus.SENT, due)
    assert announcement.recipient_count == 4
    world.tina.press_payload(f"anx:{aid}")
    assert "That announcement has already been sent" in world.tina.text


def test_a_cancelled_schedule_never_goes(world: World) -> None:
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule")
    world.tina.send("2026-11-24 09:00")
    world.tina.press("Cancel it")
    assert world.tina.text == "OK, cancelled. Nothing was sent."
    with world.factory.begin() as session:
        assert send_due_announcements(session, world.clock.now + timedelta(days=2)) == 0
    assert world.rows() == []
    world.tina.press_payload(f"ans:{aid}")
    assert "That announcement was cancelled" in world.tina.text


def test_the_delivery_report_counts_each_outcome(world: World) -> None:
    # Dee's school gets none of it; Ada can't be reached on any platform.
    with world.factory.begin() as session:
        session.execute(
            update(Account)
            .where(Account.external_id == "ada")
            .values(unreachable_at=world.clock.now)
        )
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Send now")
    world.tina.press("Delivery report")
    assert world.tina.text == (
        f"Announcement #{aid} to everyone at Riverside High, sent 23 Nov 2026 15:01.\n"
        "Delivered: 0\nPending: 2\nUnreachable: 0\nFailed: 0\n"
        "Not reachable on any platform: 1"
    )
    # As delivery proceeds, the report follows.
    with world.factory.begin() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.announcement_id == aid)
            .order_by(OutboxMessage.id)
        ).all()
        rows[0].status = OutboxStatus.SENT
        rows[1].status = OutboxStatus.UNREACHABLE
    world.tina.press("Refresh")
    assert "Delivered: 1\nPending: 0\nUnreachable: 1\nFailed: 0" in world.tina.text
    world.tina.send(f"/delivery {aid}")
    assert "Delivered: 1" in world.tina.text
    world.tina.send("/delivery")
    assert world.tina.text.startswith(f"Recent announcements:\n#{aid}, sent 23 Nov 2026 15:01:")
    world.tom.send(f"/delivery {aid}")
    assert world.tom.text == "I can't find that announcement at your school."
    world.tom.send("/delivery")
    assert world.tom.text == "No announcements yet. Send one with /announce."


def _finish(world: World, aid: int, *statuses: OutboxStatus) -> None:
    """Give the announcement's outbox rows these outcomes, in order, as the senders would."""
    with world.factory.begin() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.announcement_id == aid)
            .order_by(OutboxMessage.id)
        ).all()
        for row, status in zip(rows, statuses, strict=False):
            row.status = status


def _told(world: World, teacher: Chat) -> list[tuple[str, list[Button]]]:
    return inbox(world.factory, teacher, "announcement_delivered")


def _report(world: World) -> int:
    return report_deliveries(world.factory, world.clock.now, Timing())


@pytest.mark.parametrize("platform", ["telegram", "slack"])
def test_the_author_hears_once_when_the_last_message_is_finished(
    world: World, platform: str
) -> None:
    teacher = Chat(world.core, f"tia-{platform}", platform=platform, name="Tia Teacher")
    with world.factory.begin() as session:
        school = school_named(session, "Riverside High", world.clock.now)
        code = create_invite(session, Role.TEACHER, now=world.clock.now, school=school).code
    teacher.send(f"/join {code}")
    aid = write(world, teacher)
    teacher.press("Everyone at Riverside High")
    teacher.press("Send now")
    assert teacher.text == "Sending to 3 students. I'll tell you when it's delivered."
    assert _report(world) == 0
    # One message still pending: not done yet.
    _finish(world, aid, OutboxStatus.SENT, OutboxStatus.UNREACHABLE)
    assert _report(world) == 0
    assert _told(world, teacher) == []
    _finish(world, aid, OutboxStatus.SENT, OutboxStatus.UNREACHABLE, OutboxStatus.FAILED)
    world.clock.advance(minutes=2)
    assert _report(world) == 1
    assert _told(world, teacher) == [
        (
            f"Announcement #{aid} delivered to 1 student, 2 unreachable: {MESSAGE}",
            [Button("Delivery report", f"anr:{aid}")],
        )
    ]
    # On the teacher's own platform account, and only once however often the job runs.
    with world.factory() as session:
        account = session.scalars(
            select(Account)
            .join(OutboxMessage, OutboxMessage.account_id == Account.id)
            .where(OutboxMessage.kind == "announcement_delivered")
        ).one()
        assert (account.platform, account.external_id) == (platform, f"tia-{platform}")
    assert _report(world) == 0
    assert len(_told(world, teacher)) == 1
    (announcement,) = world.announcements()
    assert announcement.delivery_reported_at == world.clock.now


def test_a_scheduled_announcement_is_reported_after_quiet_hours_and_counts_the_unreachable(
    world: World,
) -> None:
    with world.factory.begin() as session:
        session.execute(
            update(Account)
            .where(Account.external_id == "ada")
            .values(unreachable_at=world.clock.now)
        )
    aid = write(world, world.tina, "x" * 120)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule")
    world.tina.send("2026-11-23 22:00")
    assert _report(world) == 0  # not sent yet
    with world.factory.begin() as session:
        send_due_announcements(
            session, datetime(2026, 11, 23, 22, 0, tzinfo=UTC), quiet=QuietHours()
        )
    # Both reachable students are in their quiet hours: nothing is finished before morning.
    assert _report(world) == 0
    _finish(world, aid, OutboxStatus.SENT, OutboxStatus.SENT)
    assert _report(world) == 1
    ((text, _),) = _told(world, world.tina)
    assert text == f"Announcement #{aid} delivered to 2 students, 1 unreachable: {'x' * 79}…"


def test_an_announcement_that_reached_everyone_says_so(world: World) -> None:
    aid = write(world, world.tina)
    world.tina.press("Classes")
    world.tina.press("Year 12")
    world.tina.press("Done")
    world.tina.press("Send now")
    assert world.tina.text.startswith("Sending to 1 student.")
    _finish(world, aid, OutboxStatus.SENT)
    assert _report(world) == 1
    ((text, _),) = _told(world, world.tina)
    assert text == f"Announcement #{aid} delivered to 1 student: {MESSAGE}"


def test_only_the_author_and_only_staff_may_act_on_a_draft(world: World) -> None:
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    before = row_counts(world.factory)
    for payload in (f"ans:{aid}", f"ana:{aid}:school", f"ansc:{aid}", f"anx:{aid}"):
        world.tom.press_payload(payload)
        assert "I can't find that announcement of yours" in world.tom.text
        for chat in (world.ada, world.maya):
            chat.press_payload(payload)
            assert "Sorry, that is only for admins or teachers" in chat.text
    world.ada.send("/announce Hello everyone")
    assert "Sorry, that is only for admins or teachers" in world.ada.text
    after = row_counts(world.factory)
    assert after["outbox"] == before["outbox"]
    assert world.announcements()[0].status == AnnouncementStatus.DRAFT
    for payload in ("ans:999999", "ans:abc", "ant:1:nonsense", "ana:1:weird"):
        world.tina.press_payload(payload)
        assert "Sorry, something went wrong" not in world.tina.text


def test_a_message_typed_with_the_command_and_cancelling(world: World) -> None:
    world.tina.send("/announce Exams start Monday.")
    assert "Who should get it?" in world.tina.text
    assert world.announcements()[0].text == "Exams start Monday."
    world.tina.press("Cancel")
    assert world.announcements()[0].status == AnnouncementStatus.CANCELLED
    world.tina.send("/announce")
    world.tina.press("Cancel")
    assert world.tina.text == "OK, stopped. Nothing was sent."
    world.tina.send("This is not an announcement")
    assert len(world.announcements()) == 1


def test_a_teacher_without_a_school_cannot_announce(world: World) -> None:
    tess = Chat(world.core, "tess")
    join_with_invite(world.factory, world.clock.now, tess, Role.TEACHER)
    tess.send("/announce")
    assert "You're not linked to a school yet" in tess.text


def _dates(text: str) -> list[date]:
    found = [date.fromisoformat(d) for d in re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)]
    assert found, text
    return found


@pytest.mark.parametrize("today", [date(2027, 12, 30), date(2031, 6, 10)])
def test_example_dates_in_prompts_are_worked_out_from_today(world: World, today: date) -> None:
    """Whatever the day, an example of a time to choose is ahead of it, and one of a day
    already worked is behind it, in the person's own time zone."""
    with world.factory.begin() as session:
        session.execute(
            update(Person).where(Person.name == "Ada").values(timezone="Pacific/Auckland")
        )
    # 23:30 UTC is already the next day in Auckland.
    world.clock.now = datetime.combine(today, time(23, 30), tzinfo=UTC)
    ada_today = today + timedelta(days=1)
    aid = write(world, world.tina)
    world.tina.press("Everyone at Riverside High")
    world.tina.press("Schedule")
    world.tina.send("soon")
    assert all(d > today for d in _dates(world.tina.text))
    world.tina.send("/objective")
    assert all(d > today for d in _dates(world.tina.text))
    world.tina.send("/objective placements 3 by soon")
    assert all(d > today for d in _dates(world.tina.text))
    world.tina.send("/report soon")
    assert all(d <= today for d in _dates(world.tina.text))
    world.tina.press_payload(f"anx:{aid}")

    oid = add_opportunity(world.factory, world.clock.now, title="Robotics club")
    world.ada.press_payload(f"rmd:{oid}")
    assert all(d > ada_today for d in _dates(world.ada.text))
    world.ada.send("/remind sometime to call Acme")
    assert all(d > ada_today for d in _dates(world.ada.text))
    world.ada.send("/hours someday 3h")
    assert all(d < ada_today for d in _dates(world.ada.text))


def test_an_announcement_at_once_from_its_form_lines(world: World) -> None:
    """The lines Slack's form sends work anywhere: problems all at once, nothing sent."""
    tina = world.tina
    tina.send(
        "/announce text: Fair on Friday\naudience: cohorts\nclasses: Year 13\ndate: 2027-01-10"
    )
    assert tina.text.startswith("Nothing was sent. Please fix this and send it again:")
    assert "• classes: Your school has no class Year 13." in tina.text
    assert "• time: Choose a time too, or no date to send it now." in tina.text
    assert world.announcements() == [] and world.rows() == []
    # Another school's class is no class of this school's.
    tina.send("/announce text: Fair on Friday\naudience: cohorts\nclasses: Y10")
    assert "• classes: Your school has no class Y10." in tina.text
    tina.send("/announce text: Fair on Friday\naudience: cohorts\nclasses: year 12, Year 11")
    assert tina.text == "Sending to 3 students. I'll tell you when it's delivered."
    assert world.users() == ["ada", "bob", "cal-tg"]
    tina.send(
        "/announce text: Lab day\naudience: tag\nfield: engineering\n"
        "date: 2027-01-10\ntime: 9:30\nurgent: yes"
    )
    assert tina.text.startswith("Scheduled as urgent for ")
    scheduled = world.announcements()[-1]
    assert scheduled.audience == {"type": "tag", "tag": "engineering", "urgent": True}
    # A message that only starts with "Text:" is a message, drafted as before.
    tina.send("/announce Text: bring a CV")
    assert "Who should get it?" in tina.text
