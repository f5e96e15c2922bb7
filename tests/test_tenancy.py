"""Schools and organisations are tenants: staff change only their school's listings, and an
organisation decides who else becomes its member."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.app import build
from bot.cli import main
from bot.config import Settings
from bot.core import Core, Timing
from handlers.common.membership import school_named
from handlers.listings.import_jobs import run_imports
from handlers.listings.importer import BATCH_SIZE
from handlers.people.invites import create_invite
from storage.db import alembic_config, upgrade
from storage.models import (
    Account,
    AuditEntry,
    ImportJob,
    Interest,
    MembershipRequest,
    MembershipStatus,
    Opportunity,
    OpportunityStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    School,
)
from tests.conftest import FakeClock
from tests.helpers import (
    Chat,
    add_opportunity,
    add_school,
    inbox,
    last_message,
    onboard,
    person_id,
    row_counts,
)


@dataclass
class World:
    core: Core
    factory: sessionmaker[Session]
    clock: FakeClock
    riverside: int
    hillside: int
    tina: Chat  # teacher at Riverside High
    tom: Chat  # teacher at Hillside Academy

    def opportunity(self, oid: int) -> Opportunity:
        with self.factory() as session:
            return session.get_one(Opportunity, oid)

    def person(self, chat: Chat) -> Person:
        with self.factory() as session:
            return session.get_one(Person, person_id(self.factory, chat))

    def invite(self, teacher: Chat, organisation: str) -> str:
        teacher.send(f"/invite employer {organisation}")
        found = re.search(r"/join (\S+)", teacher.text)
        assert found is not None, teacher.text
        return found.group(1)


def _teacher(
    core: Core, factory: sessionmaker[Session], now: datetime, user: str, school: str
) -> Chat:
    chat = Chat(core, user, name=f"{user.title()} Teacher")
    with factory.begin() as session:
        place = school_named(session, school, now)
        code = create_invite(session, Role.TEACHER, now=now, school=place).code
    chat.send(f"/join {code}")
    assert "set up as a teacher" in chat.text
    return chat


@pytest.fixture
def world(core: Core, session_factory: sessionmaker[Session], clock: FakeClock) -> World:
    add_school(session_factory, clock.now)
    add_school(session_factory, clock.now, school="Hillside Academy", cohort="Y10", code="HILL-10")
    with session_factory() as session:
        ids = {name: id_ for name, id_ in session.execute(select(School.name, School.id))}
    tina = _teacher(core, session_factory, clock.now, "tina", "Riverside High")
    tom = _teacher(core, session_factory, clock.now, "tom", "Hillside Academy")
    return World(
        core, session_factory, clock, ids["Riverside High"], ids["Hillside Academy"], tina, tom
    )


def apply(world: World, organisation: str) -> None:
    """Bob, an adult student, registers interest in a listing of ``organisation``."""
    oid = add_opportunity(
        world.factory, world.clock.now, title="Robot lab", organisation=organisation
    )
    bob = Chat(world.core, "bob", name="Bob Smith")
    onboard(bob, under_18=False)
    bob.press_payload(f"int:{oid}")
    bob.press("Send without a note")
    assert "Done!" in bob.text, bob.text


def test_a_teacher_changes_only_their_own_schools_listings(world: World) -> None:
    world.tina.send(
        "/publish\norganisation: Alpha Labs\ntitle: Lab assistant\nkind: internship\n"
        "description: Help run experiments in a real lab.\nlocation: Leeds"
    )
    found = re.search(r"#(\d+)", world.tina.text)
    assert found is not None, world.tina.text
    oid = int(found.group(1))
    assert world.opportunity(oid).owner_school_id == world.riverside
    before = row_counts(world.factory)

    world.tom.send(f"/edit {oid} description Log in at https://phish.example to apply")
    assert world.tom.text == (
        f"Sorry, #{oid} Lab assistant isn't your school's listing, so I haven't changed it: "
        "only the school that published or approved it can."
    )
    world.tom.send(f"/close {oid}")
    assert "isn't your school's listing" in world.tom.text
    assert row_counts(world.factory) == before
    listing = world.opportunity(oid)
    assert (listing.description, listing.status) == (
        "Help run experiments in a real lab.",
        OpportunityStatus.OPEN,
    )
    world.tom.send("/listings lab")
    assert f"#{oid} Lab assistant — Alpha Labs (not your school's)" in world.tom.text

    world.tina.send(f"/edit {oid} title Lab helper")
    assert world.tina.text.startswith(f"Updated #{oid}")
    world.tina.send("/listings lab")
    assert "not your school's" not in world.tina.text
    world.tina.send(f"/close {oid}")
    assert world.opportunity(oid).status == OpportunityStatus.CLOSED


def test_a_listing_without_an_owner_is_changed_by_no_school_of_several(world: World) -> None:
    oid = add_opportunity(world.factory, world.clock.now, title="Old import")
    for teacher in (world.tina, world.tom):
        teacher.send(f"/close {oid}")
        assert "isn't your school's listing" in teacher.text
    assert world.opportunity(oid).status == OpportunityStatus.OPEN


def test_a_lone_school_takes_the_listings_without_an_owner(
    core: Core, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    add_school(session_factory, clock.now)
    oid = add_opportunity(session_factory, clock.now, title="Old import")
    tina = _teacher(core, session_factory, clock.now, "tina", "Riverside High")
    tina.send(f"/close {oid}")
    assert tina.text.startswith(f"Closed #{oid}")
    with session_factory() as session:
        owner = session.get_one(Opportunity, oid).owner_school
        assert owner is not None and owner.name == "Riverside High"


def test_proposals_go_to_the_school_that_invited_the_employer(world: World) -> None:
    maya = Chat(world.core, "maya", name="Maya Jones")
    maya.send(f"/join {world.invite(world.tina, 'XCorp')}")
    assert "set up as an employer for XCorp" in maya.text
    maya.send("/propose")
    for answer in (
        "Robot lab",
        "internship",
        "Build and test small robots with our engineers.",
        "Leeds",
        "none",
        "yes",
        "no",
    ):
        maya.send(answer)
    maya.press("Submit for approval")
    with world.factory() as session:
        proposal = session.scalars(select(Opportunity.id)).one()
    assert world.opportunity(proposal).status == OpportunityStatus.PENDING
    assert "XCorp proposes" in last_message(world.factory, world.tina, "proposal")[0]
    assert inbox(world.factory, world.tom, "proposal") == []

    world.tom.send("/pending")
    assert world.tom.text.startswith("No proposals are waiting")
    before = row_counts(world.factory)
    for payload in (f"opa:{proposal}", f"opr:{proposal}"):
        world.tom.press_payload(payload)
        assert "was proposed to another school, so it's theirs to decide" in world.tom.text
    assert row_counts(world.factory) == before
    assert world.opportunity(proposal).status == OpportunityStatus.PENDING

    world.tina.send("/pending")
    assert f"Proposal #{proposal}" in world.tina.text
    world.tina.press("Approve")
    approved = world.opportunity(proposal)
    assert (approved.status, approved.owner_school_id) == (OpportunityStatus.OPEN, world.riverside)
    world.tom.send(f"/edit {proposal} title Phishing")
    assert "isn't your school's listing" in world.tom.text
    assert world.opportunity(proposal).title == "Robot lab"


def test_a_proposal_from_an_employer_no_school_invited_is_owned_by_the_approver(
    world: World,
) -> None:
    add_opportunity(world.factory, world.clock.now, title="Seed", organisation="Acme Ltd")
    oid = add_opportunity(
        world.factory,
        world.clock.now,
        title="Shadow a nurse",
        organisation="Acme Ltd",
        status=OpportunityStatus.PENDING,
    )
    for teacher in (world.tina, world.tom):
        teacher.send("/pending")
        assert f"Proposal #{oid}" in teacher.text
    world.tom.press_payload(f"opa:{oid}")
    assert world.opportunity(oid).owner_school_id == world.hillside
    world.tina.send(f"/close {oid}")
    assert "isn't your school's listing" in world.tina.text


def test_an_invite_to_an_organisation_with_members_waits_for_a_members_approval(
    world: World,
) -> None:
    maya = Chat(world.core, "maya", name="Maya Jones")
    maya.send(f"/join {world.invite(world.tina, 'XCorp')}")
    assert "You're now set up as an employer for XCorp" in maya.text
    # A student applies, so XCorp has applicants with names and notes.
    apply(world, "XCorp")

    world.tom.send("/invite employer XCorp")
    assert "XCorp already has members here: one of them confirms the newcomer" in world.tom.text
    found = re.search(r"/join (\S+)", world.tom.text)
    assert found is not None
    code = found.group(1)
    eve = Chat(world.core, "eve", name="Eve Evans")
    eve.send(f"/join {code}")
    assert eve.text.startswith("Thanks! XCorp already has members here, so one of them confirms")
    assert world.person(eve).role is None
    eve.send("/matches")
    assert "Bob" not in eve.text and "haven't joined yet" in eve.text
    eve.send(f"/join {code}")
    assert "Your request to join XCorp is waiting" in eve.text

    asked, buttons = last_message(world.factory, maya, "membership")
    assert asked.startswith(
        "Tom Teacher (Hillside Academy) invited Eve Evans (on the console) to join XCorp"
    )
    assert [b.label for b in buttons] == ["Approve", "Decline"]
    maya.send("/colleagues")
    assert "Waiting for your approval:\n• Eve Evans (on the console), invited by Tom Teacher" in (
        maya.text
    )
    maya.press_payload(buttons[0].payload)
    assert maya.text == "Approved: Eve Evans is now a member of XCorp."
    assert world.person(eve).role == Role.EMPLOYER
    assert last_message(world.factory, eve, "membership")[0].startswith(
        "Welcome! Maya Jones confirmed you, so you're now set up as an employer for XCorp."
    )
    eve.send("/matches")
    assert "Bob" in eve.text
    maya.press_payload(buttons[1].payload)
    assert "That request was already approved by Maya Jones." in maya.text


def test_a_declined_newcomer_sees_nothing(world: World) -> None:
    maya = Chat(world.core, "maya", name="Maya Jones")
    maya.send(f"/join {world.invite(world.tina, 'XCorp')}")
    dan = Chat(world.core, "dan", name="Dan Dee")
    dan.send(f"/join {world.invite(world.tom, 'XCorp')}")
    _, buttons = last_message(world.factory, maya, "membership")
    maya.press_payload(buttons[1].payload)
    assert maya.text == "Declined: Dan Dee hasn't joined XCorp."
    assert world.person(dan).role is None
    assert "didn't confirm you" in last_message(world.factory, dan, "membership")[0]
    with world.factory() as session:
        request = session.scalars(select(MembershipRequest)).one()
        assert request.status == MembershipStatus.DECLINED
    # Another organisation's member can't decide on it.
    zed = Chat(world.core, "zed", name="Zed")
    zed.send(f"/join {world.invite(world.tina, 'Other Org')}")
    zed.press_payload(buttons[0].payload)
    assert "I can't find that request" in zed.text
    assert world.person(dan).role is None


def test_members_see_and_remove_colleagues(world: World) -> None:
    maya = Chat(world.core, "maya", name="Maya Jones")
    maya.send(f"/join {world.invite(world.tina, 'XCorp')}")
    dan = Chat(world.core, "dan", name="Dan Dee")
    dan.send(f"/join {world.invite(world.tina, 'XCorp')}")
    maya.press_payload(last_message(world.factory, maya, "membership")[1][0].payload)
    assert world.person(dan).role == Role.EMPLOYER

    maya.send("/colleagues")
    assert maya.text == "Members of XCorp:\n• Maya Jones (you)\n• Dan Dee"
    assert [b.label for b in maya.buttons] == ["Remove Dan Dee"]
    dan.send("/team")
    assert "• Dan Dee (you)\n" not in dan.text and "• Maya Jones" in dan.text
    maya_id = world.person(maya).id
    dan.press_payload(f"colr:{maya_id}")
    assert world.person(maya).role == Role.EMPLOYER
    maya.press_payload(f"colr:{maya_id}")
    assert "That's you" in maya.text

    # A match notification for Dan is still waiting to go out when he is removed.
    apply(world, "XCorp")
    assert "Bob" in last_message(world.factory, dan, "match")[0]

    maya.send("/colleagues")
    maya.press("Remove Dan Dee")
    assert maya.text.startswith("Remove Dan Dee from XCorp?")
    maya.press("Cancel")
    assert world.person(dan).role == Role.EMPLOYER
    maya.send("/colleagues")
    maya.press("Remove Dan Dee")
    maya.press("Yes, remove")
    assert maya.text == "Removed: Dan Dee is no longer a member of XCorp."
    removed = world.person(dan)
    assert (removed.role, removed.organisation_id) == (None, None)
    told = last_message(world.factory, dan, "membership")[0]
    assert told.startswith("Maya Jones removed you from XCorp's members")
    with world.factory() as session:
        waiting = session.scalars(
            select(OutboxMessage.status).where(
                OutboxMessage.kind == "match", OutboxMessage.account_id.in_(_accounts(session, dan))
            )
        ).all()
        assert waiting == [OutboxStatus.CANCELLED]
        assert session.scalars(select(AuditEntry.action)).all()[-1] == "member_removed"
    dan.send("/matches")
    assert "Bob" not in dan.text
    with world.factory() as session:
        interest = session.scalars(select(Interest)).one()
    dan.press_payload(f"emo:{interest.id}")
    assert "Bob" not in dan.text
    maya.send("/colleagues")
    assert maya.text == "Members of XCorp:\n• Maya Jones (you)"


def _accounts(session: Session, chat: Chat) -> list[int]:
    return list(session.scalars(select(Account.id).where(Account.external_id == chat.user)))


def test_a_teachers_import_is_their_schools_and_cannot_overwrite_another_schools(
    world: World,
) -> None:
    header = "external_id,title,organisation,description\n"
    world.tina.send_file(
        "alpha.csv", (header + "ALPHA-1,Lab assistant,Alpha Labs,Real lab\n").encode()
    )
    assert "1 created" in world.tina.text
    with world.factory() as session:
        listing = session.scalars(select(Opportunity)).one()
    assert listing.owner_school_id == world.riverside

    hostile = header + "ALPHA-1,Lab assistant,Alpha Labs,Apply at https://phish.example\n"
    world.tom.send_file("beta.csv", hostile.encode())
    assert "0 updated" in world.tom.text
    assert "row 2: 'ALPHA-1' is another school's listing, left unchanged" in world.tom.text
    assert world.opportunity(listing.id).description == "Real lab"
    world.tina.send_file("alpha.csv", (header + "ALPHA-1,Lab assistant,Alpha Labs,New\n").encode())
    assert "1 updated" in world.tina.text


def test_a_big_import_in_the_background_is_the_schools_and_skips_other_schools_ids(
    world: World,
) -> None:
    header = "external_id,title,organisation,description\n"
    world.tina.send_file("alpha.csv", (header + "ALPHA-1,Lab assistant,Alpha Labs,Real\n").encode())
    assert "1 created" in world.tina.text
    # Imported before there were schools: with two schools, it is nobody's to claim.
    old = add_opportunity(
        world.factory, world.clock.now, title="Old import", source="csv", external_id="OLD-1"
    )
    before = world.opportunity(old).description
    records = 2 * BATCH_SIZE + 10
    rows = [f"H{n},Role {n},Org {n % 7},Desc" for n in range(records)]
    # Neither in the first batch nor the last: the job has to remember the skips till the end.
    rows[BATCH_SIZE + 4] = "ALPHA-1,Lab assistant,Alpha Labs,Apply at https://phish.example"
    rows[BATCH_SIZE + 9] = "OLD-1,Old import,Acme Ltd,Changed"
    world.tom.send_file("big.csv", (header + "\n".join(rows) + "\n").encode())
    assert world.tom.text.startswith(f"Importing {records:,} listings from big.csv.")
    with world.factory() as session:
        job = session.scalars(select(ImportJob)).one()
        assert (job.school_id, job.claim_unowned) == (world.hillside, False)

    assert run_imports(world.factory, world.clock.now, Timing()) == 1
    created = records - 2
    assert inbox(world.factory, world.tom, "import") == [
        (
            f"Imported big.csv: {created} opportunities: {created} created, 0 updated, "
            "0 unchanged; 2 rows skipped\n"
            f"row {BATCH_SIZE + 6}: 'ALPHA-1' is another school's listing, left unchanged\n"
            f"row {BATCH_SIZE + 11}: 'OLD-1' is another school's listing, left unchanged",
            [],
        )
    ]
    with world.factory() as session:
        owners = session.execute(
            select(Opportunity.owner_school_id, func.count())
            .where(Opportunity.external_id.like("H%"))
            .group_by(Opportunity.owner_school_id)
        ).all()
        alpha = session.scalars(select(Opportunity).where(Opportunity.external_id == "ALPHA-1"))
        assert [(a.description, a.owner_school_id) for a in alpha] == [("Real", world.riverside)]
    assert owners == [(world.hillside, created)]
    assert (world.opportunity(old).description, world.opportunity(old).owner_school_id) == (
        before,
        None,
    )


def test_the_cli_imports_for_the_school_it_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPPBOT_DATABASE_URL", url)
    for school in ("Riverside High", "Hillside Academy"):
        assert main(["invite", "--role", "teacher", "--school", school]) == 0
    path = tmp_path / "listings.csv"
    path.write_text("external_id,title,organisation\nH-1,Site visit,Acme Ltd\n")
    assert main(["import", str(path)]) == 2
    assert "Say which school. Choose one with --school: Hillside Academy, Riverside High." in (
        capsys.readouterr().err
    )
    assert main(["import", str(path), "--school", "Nowhere"]) == 2
    assert "No school called Nowhere." in capsys.readouterr().err
    assert main(["import", str(path), "--school", "hillside  academy"]) == 0
    with build(Settings(database_url=url)).session_factory() as session:
        listing = session.scalars(select(Opportunity)).one()
        assert listing.owner_school is not None and listing.owner_school.name == "Hillside Academy"


def test_the_migration_gives_listings_the_school_that_approved_or_published_them(
    engine: Engine,
) -> None:
    command.downgrade(alembic_config(engine), "0004")
    at = "2026-11-20 10:00:00+00:00"
    with engine.begin() as conn:
        for sid, name in ((1, "Alpha High"), (2, "Beta High")):
            conn.execute(
                text("INSERT INTO schools (id, name, created_at) VALUES (:id, :n, :at)"),
                {"id": sid, "n": name, "at": at},
            )
        conn.execute(
            text("INSERT INTO organisations (id, name, created_at) VALUES (1, 'Acme', :at)"),
            {"at": at},
        )
        people = ((1, "teacher", 1), (2, "teacher", 2), (3, "employer", None))
        for pid, role, school in people:
            conn.execute(
                text(
                    "INSERT INTO people (id, name, role, school_id, timezone, created_at)"
                    " VALUES (:id, 'P', :r, :s, 'UTC', :at)"
                ),
                {"id": pid, "r": role, "s": school, "at": at},
            )
        # 1: published by Alpha's teacher; 2: proposed by the employer, approved by Beta's;
        # 3: imported (no creator) with two schools; 4: a proposal nobody decided on yet.
        for oid, creator, status in (
            (1, 1, "open"),
            (2, 3, "open"),
            (3, None, "open"),
            (4, 3, "pending"),
        ):
            conn.execute(
                text(
                    "INSERT INTO opportunities (id, organisation_id, kind, title, description,"
                    " location, remote, status, created_by_id, created_at, updated_at) VALUES"
                    " (:id, 1, 'internship', 'T', '', '', false, :st, :c, :at, :at)"
                ),
                {"id": oid, "c": creator, "st": status, "at": at},
            )
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor_id, subject_id, action, detail)"
                " VALUES (:at, 2, 2, 'opportunity_approved', '{}')"
            ),
            {"at": at},
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, owner_school_id FROM opportunities"))
        owners = {oid: owner for oid, owner in rows}
    assert owners == {1: 1, 2: 2, 3: None, 4: None}
