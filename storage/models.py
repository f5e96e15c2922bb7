"""The oppbot schema: typed SQLAlchemy 2 models.

People and their platform accounts are separate so that one person can use Telegram and Slack.
Enumerations are stored as strings with CHECK constraints (``native_enum=False``) so that the
same migrations work on SQLite and PostgreSQL and adding a value never needs ``ALTER TYPE``.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from storage.places import listing_keys

# Stable constraint names keep Alembic migrations identical on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}

    if TYPE_CHECKING:
        # SQLAlchemy types it as any FromClause (a model may map a join); each of ours maps
        # one Table, which is what inserts and ``.c`` lookups need.
        __table__: ClassVar[Table]


class Role(enum.StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    EMPLOYER = "employer"
    ADMIN = "admin"


class OpportunityKind(enum.StrEnum):
    INTERNSHIP = "internship"
    JOB_SHADOWING = "job_shadowing"
    COOP = "coop"
    MENTORING = "mentoring"
    SITE_VISIT = "site_visit"
    EVENT = "event"


class OpportunityStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    OPEN = "open"
    CLOSED = "closed"


class InterestStatus(enum.StrEnum):
    INTERESTED = "interested"
    INVITED = "invited"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    PLACED = "placed"


class ReminderKind(enum.StrEnum):
    DEADLINE = "deadline"
    EVENT = "event"
    CUSTOM = "custom"


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    CANCELLED = "cancelled"
    MISSED = "missed"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class HoursStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    QUERIED = "queried"


class FeedbackStage(enum.StrEnum):
    MIDPOINT = "midpoint"
    END = "end"


class FeedbackStatus(enum.StrEnum):
    WAITING = "waiting"
    ASKED = "asked"
    ANSWERED = "answered"
    SKIPPED = "skipped"


class ImportStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class MembershipStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class SourceStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class EncounterKind(enum.StrEnum):
    """Gatsby's two measures: meeting employers (Benchmark 5), and experiencing a workplace
    (Benchmark 6: a visit, shadowing, work experience)."""

    ENCOUNTER = "encounter"
    WORKPLACE = "workplace_experience"


class AnnouncementStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]

    cohorts: Mapped[list[Cohort]] = relationship(back_populates="school")


class Cohort(Base):
    """A class or year group that students join with its join code."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    join_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]

    school: Mapped[School] = relationship(back_populates="cohorts")


class Organisation(Base):
    """An employer: the company or institution that offers opportunities."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    website: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class Person(Base):
    """Someone who talks to the bot. ``role`` is None until they join with a code."""

    __tablename__ = "people"
    # Ids appear in audit rows and buttons: SQLite must never hand a deleted one out again.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name a person goes by (a student's first name; employers see no more of it).
    name: Mapped[str] = mapped_column(String(100), default="")
    # A student's family name or its initial, so that staff can tell namesakes apart; None for
    # students who joined before it was asked.
    family_name: Mapped[str | None] = mapped_column(String(60))
    role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # A teacher's school (from their invite code); students belong to one through their cohort.
    # An employer member's is the school whose teacher invited them: their proposals go there.
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), index=True
    )
    grade: Mapped[int | None] = mapped_column(Integer)
    under_18: Mapped[bool | None] = mapped_column(Boolean)
    # Under-16s may only work limited hours on a placement; None: not asked (or 16 and over).
    under_16: Mapped[bool | None] = mapped_column(Boolean)
    # Schools must hold a guardian's consent before a minor's details reach an employer.
    guardian_consent_at: Mapped[datetime | None]
    onboarded_at: Mapped[datetime | None]
    # Where the student can get to (a town or postcode area, as typed; None: not said) and
    # whether they want remote work (None: either), for the "for you" order.
    place: Mapped[str | None] = mapped_column(String(60))
    wants_remote: Mapped[bool | None] = mapped_column(Boolean)
    # The weekly digest: the day (0 is Monday; None: no digest), when the next one is due, and
    # since when opportunities count as new (the last digest, or the moment they opted in).
    digest_day: Mapped[int | None] = mapped_column(Integer)
    digest_next_at: Mapped[datetime | None] = mapped_column(index=True)
    digest_since: Mapped[datetime | None]
    # Alerts for new matches (see Alert): at most one every this many days (1 or 7), the
    # earliest moment the next may be queued, and a pause of alerts and the digest alike
    # (None: not paused; PAUSED_UNTIL_RESUMED: until the student resumes).
    alert_every_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    alert_next_at: Mapped[datetime | None] = mapped_column(index=True)
    news_paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    accounts: Mapped[list[Account]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )
    tags: Mapped[list[PersonTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PersonTag.tag"
    )
    cohort: Mapped[Cohort | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    school: Mapped[School | None] = relationship()

    @property
    def zone(self) -> ZoneInfo:
        """The person's time zone; UTC if the stored name is unknown to this machine."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


# A pause "until I resume" lasts until this moment, which never comes.
PAUSED_UNTIL_RESUMED = datetime(9999, 12, 31, tzinfo=UTC)


class Alert(Base):
    """A student's wish to hear about new opportunities: in their fields (no words and no
    place), or matching a saved search (words, and a place the location must name)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    words: Mapped[str | None] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(60))
    # Only opportunities published after this are new to the alert.
    created_at: Mapped[datetime]


class AlertSent(Base):
    """An opportunity a student has heard about in an alert: each only once."""

    __tablename__ = "alerts_sent"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sent_at: Mapped[datetime]


class PersonTag(Base):
    """A field a student said they are interested in (used for matching and digests)."""

    __tablename__ = "person_tags"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Account(Base):
    """One person's identity on one platform."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    chat_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Set when the platform says the bot was blocked; cleared when the person writes again.
    unreachable_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # The command menu the platform was last told to show in this account's chat ("": its
    # default one; "teacher:es": a role's, in a language), so that it is set again only when
    # it changes, whichever process handles the chat; None: not known, set at the next update.
    menu: Mapped[str | None] = mapped_column(String(40))

    person: Mapped[Person] = relationship(back_populates="accounts")


# The columns of an opportunity that eligibility and the "for you" score read.
MATCH_KEYS = (
    "deadline",
    "min_age",
    "min_grade",
    "max_grade",
    "published_at",
    "paid",
    "remote",
    "tag_list",
    "location",
    "place_keys",
)


class Opportunity(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_opportunities_status_deadline", "status", "deadline"),
        # Everything the "for you" page reads of an open listing, in the order of its roles:
        # the page is read from this index alone, roles are counted in its order, and the
        # other listings of a role (``elsewhere``) are found in it. Migration 0018. SQLite's
        # index entries carry the id (the rowid); PostgreSQL's include it (migration 0019), or
        # every read of the page would visit the table for it.
        Index(
            "ix_opportunities_match",
            "status",
            "organisation_id",
            "title_key",
            *MATCH_KEYS,
            postgresql_include=["id"],
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[OpportunityKind] = mapped_column(_enum(OpportunityKind, "opportunity_kind"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    paid: Mapped[bool | None] = mapped_column(Boolean)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    spots: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[OpportunityStatus] = mapped_column(
        _enum(OpportunityStatus, "opportunity_status"), default=OpportunityStatus.DRAFT
    )
    url: Mapped[str | None] = mapped_column(String(1000))
    min_age: Mapped[int | None] = mapped_column(Integer)
    min_grade: Mapped[int | None] = mapped_column(Integer)
    max_grade: Mapped[int | None] = mapped_column(Integer)
    # Where an imported listing came from; (source, external_id) makes re-imports update.
    source: Mapped[str | None] = mapped_column(String(50))
    external_id: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # The school whose staff may change it: the one that published (or imported) it, or that
    # approved the employer's proposal. A pending proposal's is the proposer's school, if any.
    owner_school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), index=True
    )
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The role a listing is for: its title without case or surrounding spaces. The same role
    # from the same organisation in several places, or from several sources, is one listing
    # to a student (``storage.queries.browse_page``, ``elsewhere``).
    title_key: Mapped[str] = mapped_column(String(200), server_default="")
    # The tags as " business technology " (or ""), for the "for you" score to test on the row
    # itself. Both are written only by the database's triggers (migration 0015).
    tag_list: Mapped[str] = mapped_column(String(500), server_default="")
    # The keys of the places ``location`` names, as "|leeds |ls6 |" (``storage.places``): a
    # student is near a listing with a key their own begins. Set with every location.
    place_keys: Mapped[str] = mapped_column(String(500), server_default="")

    organisation: Mapped[Organisation] = relationship()
    owner_school: Mapped[School | None] = relationship()
    tags: Mapped[list[OpportunityTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="OpportunityTag.tag"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]

    @validates("location")
    def _location(self, _key: str, location: str) -> str:
        self.place_keys = listing_keys(location)
        return location


class OpportunityTag(Base):
    __tablename__ = "opportunity_tags"

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Interest(Base):
    """A student's registered interest in an opportunity, and where that application stands.

    ``person_id`` becomes NULL when a student deletes their data: the employer's figures keep
    the (withdrawn, anonymous) row, and nothing identifying remains.
    """

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("person_id", "opportunity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    # The student's school when they registered (or renewed) it, kept after they delete their
    # data so the school's figures stay whole, like a placement's.
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[InterestStatus] = mapped_column(
        _enum(InterestStatus, "interest_status"), default=InterestStatus.INTERESTED
    )
    note: Mapped[str | None] = mapped_column(Text)
    # When the employer was first told who the student is (never, while consent is missing).
    details_shared_at: Mapped[datetime | None]
    # When an employer member first answered (invite, question, decline), and when the one
    # friendly nudge to answer went out: what the reminder job needs to nudge exactly once.
    employer_replied_at: Mapped[datetime | None]
    nudged_at: Mapped[datetime | None]
    # For an employer's event or site visit the student was invited to: when the one "Did you
    # go?" went out after its day, and when the student answered that they didn't go (a "yes"
    # is an ``Encounter``).
    attendance_asked_at: Mapped[datetime | None]
    not_attended_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    opportunity: Mapped[Opportunity] = relationship()
    person: Mapped[Person | None] = relationship()


class InterestMessage(Base):
    """One message of the conversation the bot relays between an employer and a student.

    Kept so that the student's teacher can read the conversation; ``from_role`` says which
    side wrote it even after the writer's person row is gone.
    """

    __tablename__ = "interest_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    interest_id: Mapped[int] = mapped_column(
        ForeignKey("interests.id", ondelete="CASCADE"), index=True
    )
    from_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    from_role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    # invite, question, decline, reply or placed: what the message did to the application.
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]

    sender: Mapped[Person | None] = relationship()


class GuardianCode(Base):
    """A one-time code a student passes to a guardian, who confirms consent with it.

    Once used, it is the record of who confirmed: the account that used it and the name and
    relationship the guardian gave, which the student's teachers see.
    """

    __tablename__ = "guardian_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    guardian_name: Mapped[str | None] = mapped_column(String(100))
    guardian_relationship: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]

    student: Mapped[Person] = relationship(foreign_keys=[student_id])


class SavedOpportunity(Base):
    __tablename__ = "saved_opportunities"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]

    opportunity: Mapped[Opportunity] = relationship()


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ReminderKind] = mapped_column(_enum(ReminderKind, "reminder_kind"))
    text: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime]
    # What an event reminder is about: when the interview or visit starts.
    event_at: Mapped[datetime | None]
    status: Mapped[ReminderStatus] = mapped_column(
        _enum(ReminderStatus, "reminder_status"), default=ReminderStatus.PENDING
    )
    # The same reminder (person, opportunity, kind, due time) is never created twice.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message for someone other than the person whose action caused it.

    Written in the same transaction as that action; ``bot.delivery`` sends it later.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    # Rows of [label, payload] pairs, rendered by the adapter like a Reply's buttons.
    buttons: Mapped[list[list[list[str]]] | None] = mapped_column(JSON)
    # The student the message is about, so that /forget can cancel what has not gone out yet.
    about_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The announcement this message delivers, for its delivery report.
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # A lease: the sender that may send this row, until when (the database's clock). A sender
    # sends only a row it holds, so two senders never send one message twice.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claim_expires_at: Mapped[datetime | None]
    # Where the platform put the message once it accepted it (Slack: the channel and ts;
    # Telegram: the chat and message id), so that a later row can answer in its thread or
    # edit it.
    sent_chat_id: Mapped[str | None] = mapped_column(String(64))
    sent_message_id: Mapped[str | None] = mapped_column(String(64))
    # The idempotency key of an earlier row to the same account: this one goes in its thread
    # (a reply to it on Telegram), and only once that row is no longer pending.
    thread_of: Mapped[str | None] = mapped_column(String(200))
    # The idempotency key of an earlier row whose message this row rewrites instead of sending
    # a new one (its text and buttons become this row's).
    edits: Mapped[str | None] = mapped_column(String(200), index=True)


class Announcement(Base):
    """A teacher's message to a group of students, sent now or at ``scheduled_for``.

    ``audience`` describes who (``{"type": "school"}``, ``{"type": "cohorts", "ids": [...]}``,
    ``{"type": "tag", "tag": ...}``, ``{"type": "opportunity", "id": ...}``, ``{"type":
    "students", "ids": [...]}``: the ones /evidence found without an encounter), within the
    author's school; the recipients are worked out when it is sent. ``"urgent": true`` in it
    sends it even to students in their quiet hours.
    """

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_status_scheduled_for", "status", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[AnnouncementStatus] = mapped_column(
        _enum(AnnouncementStatus, "announcement_status"), default=AnnouncementStatus.DRAFT
    )
    scheduled_for: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # How many students the audience held when it was sent (some may have no reachable account).
    recipient_count: Mapped[int | None] = mapped_column(Integer)
    # When the author was told how it was delivered (once no message of it was left pending).
    delivery_reported_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    author: Mapped[Person | None] = relationship()
    school: Mapped[School] = relationship()


class OpportunityView(Base):
    """A student opened an opportunity's card: who the partnership reached, for its report.

    ``person_id`` becomes NULL when the student deletes their data, so the figure survives
    without naming anyone.
    """

    __tablename__ = "opportunity_views"
    __table_args__ = (UniqueConstraint("person_id", "opportunity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    # The student's school at the time, kept after they delete their data (see Interest).
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), index=True
    )
    first_seen_at: Mapped[datetime] = mapped_column(index=True)


class Placement(Base):
    """A student placed with an employer: when, with which supervisor, for how many hours.

    ``school_id`` and ``organisation_id`` are copied in so that the partnership's figures stay
    right after the student deletes their data (``student_id`` becomes NULL).
    """

    __tablename__ = "placements"

    id: Mapped[int] = mapped_column(primary_key=True)
    interest_id: Mapped[int] = mapped_column(
        ForeignKey("interests.id", ondelete="CASCADE"), unique=True
    )
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="SET NULL"), index=True
    )
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    expected_hours: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    interest: Mapped[Interest] = relationship()
    student: Mapped[Person | None] = relationship(foreign_keys=[student_id])
    supervisor: Mapped[Person | None] = relationship(foreign_keys=[supervisor_id])
    organisation: Mapped[Organisation] = relationship()


class HoursEntry(Base):
    """Hours a student worked on one day of a placement, and the supervisor's answer.

    One entry per placement and day: logging the same day again corrects it until it is
    confirmed.
    """

    __tablename__ = "hours_entries"
    __table_args__ = (UniqueConstraint("placement_id", "work_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"))
    work_date: Mapped[date] = mapped_column(Date, index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[HoursStatus] = mapped_column(
        _enum(HoursStatus, "hours_status"), default=HoursStatus.PENDING
    )
    # What the supervisor asked about the entry, when they queried it.
    query: Mapped[str | None] = mapped_column(Text)
    # Over the legal limit for the student's age when logged: the teacher was warned.
    over_limit: Mapped[bool] = mapped_column(Boolean, default=False)
    logged_at: Mapped[datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]

    placement: Mapped[Placement] = relationship()


class Feedback(Base):
    """A few questions, once, to one side of a placement at its midpoint or its end.

    ``due_at`` is when to ask (a reasonable local hour for the respondent); the row is the
    truth the scheduler works from, so a restart neither loses nor repeats a question.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("placement_id", "stage", "respondent_role"),
        Index("ix_feedback_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id", ondelete="CASCADE"))
    stage: Mapped[FeedbackStage] = mapped_column(_enum(FeedbackStage, "feedback_stage"))
    respondent_role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    respondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[FeedbackStatus] = mapped_column(
        _enum(FeedbackStatus, "feedback_status"), default=FeedbackStatus.WAITING
    )
    due_at: Mapped[datetime]
    asked_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)

    placement: Mapped[Placement] = relationship()
    respondent: Mapped[Person | None] = relationship()


class Objective(Base):
    """A number a partnership aims for over a period ("10 placements this term"), or a share
    of a year group with an encounter or experience by a date ("90% of Year 10 with a
    workplace experience by July").

    ``organisation_id`` None means the school's partnerships as a whole; ``grade`` is the year
    group of a coverage objective (None for the partnership metrics).
    """

    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    metric: Mapped[str] = mapped_column(String(30))
    grade: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[float] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation | None] = relationship()


class ProcessedEvent(Base):
    """Platform event ids already handled: a redelivered event is recognised and skipped."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    processed_at: Mapped[datetime]


class ConversationState(Base):
    """Per-person state that outlives one message: the open dialog, browse filters."""

    __tablename__ = "conversation_state"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class InviteCode(Base):
    """A code that grants a role. Roles are never self-declared."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation | None] = relationship()


class MembershipRequest(Base):
    """Someone redeemed an employer invite for an organisation that already has members.

    They become a member only when one of those members approves: a teacher alone cannot let
    a stranger see an organisation's applicants.
    """

    __tablename__ = "membership_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invite_codes.id", ondelete="CASCADE"))
    status: Mapped[MembershipStatus] = mapped_column(
        _enum(MembershipStatus, "membership_status"), default=MembershipStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship()
    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    invite: Mapped[InviteCode] = relationship()


class ImportJob(Base):
    """A listings file a teacher sent, imported in short batches in the background.

    ``total`` is the file's records (listings, or CSV rows), ``done`` how many of them are
    through: each batch stores the valid rows among the next records and moves ``done`` in one
    transaction, so a crash resumes where the last batch ended and no row is imported twice.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    # The importing school: it owns what the import creates (handlers.listings.importer.Owner).
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    # Whether listings no school owns yet become the school's (it was the only school).
    claim_unowned: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.PENDING, index=True
    )
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    # Rows the batches so far skipped (another school's listings), [row, reason], for the
    # summary: the file's own bad rows are found again by reading it.
    skipped: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    # The file as it was sent, until the job ends.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """Role changes and deletions. Holds ids, never the deleted person's details."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Source(Base):
    """An employer's public job board, synced into opportunities on a schedule.

    Its opportunities carry ``source = "source:<id>"`` and the provider's posting id as
    ``external_id``, so that the unique (source, external_id) makes every posting one row.
    """

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("provider", "board"),
        # Ids name the source's opportunities: SQLite must never hand a removed one out again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # greenhouse, lever, ashby, smartrecruiters or listings (a URL serving the listings JSON).
    provider: Mapped[str] = mapped_column(String(20))
    # The board's token or company identifier; for listings, the URL.
    board: Mapped[str] = mapped_column(String(1000))
    # The employer the postings belong to; None for a listings URL naming each row's company.
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # The school that connected it (None: connected from the command line for everyone).
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), index=True
    )
    # Comma-separated words a posting's title must contain one of ("*": every posting).
    title_filter: Mapped[str] = mapped_column(Text)
    # New postings wait in /pending for a teacher instead of opening at once.
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[SourceStatus] = mapped_column(
        _enum(SourceStatus, "source_status"), default=SourceStatus.ACTIVE
    )
    # Failed runs in a row; the third pauses the source.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Validators of the last response, sent back so an unchanged board costs a 304.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_sync_at: Mapped[datetime] = mapped_column(index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation | None] = relationship()
    school: Mapped[School | None] = relationship()

    @property
    def tag(self) -> str:
        """The ``Opportunity.source`` of this source's opportunities."""
        return f"source:{self.id}"


class SourceRun(Base):
    """One sync of a source and what it changed."""

    __tablename__ = "source_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # Why the run failed (worded for a teacher), or why postings were skipped.
    error: Mapped[str | None] = mapped_column(Text)


class ListingReport(Base):
    """A student's report that a listing is closed, broken, a duplicate or wrong.

    Reports from two different students hide the listing (it goes back to pending) until a
    teacher restores or closes it, which resolves them.
    """

    __tablename__ = "listing_reports"
    __table_args__ = (UniqueConstraint("opportunity_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    # closed, link, duplicate or wrong.
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Encounter(Base):
    """A student's encounter with an employer that oppbot did not see happen by itself.

    What oppbot already knows is not copied here: a placement is its own evidence (read from
    ``placements``, with its hours and feedback), so moving its dates or deleting it can never
    leave a stale duplicate. This table holds the rest: what a teacher recorded for a class
    or some students (a careers fair, a talk, a visit outside oppbot), and a student's "I went"
    to an employer's event they were invited to through oppbot (``interest_id``, once each).

    ``student_id`` becomes NULL when the student deletes their data, and the notes go: the
    school, year group, date and kind stay, so anonymous counts remain (as for hours).
    """

    __tablename__ = "encounters"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    # The student's year group when it happened, for the counts that outlive the student.
    grade: Mapped[int | None] = mapped_column(Integer)
    happened_on: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[EncounterKind] = mapped_column(_enum(EncounterKind, "encounter_kind"))
    # What it was, in the teacher's words or from the opportunity: "careers fair", "site visit".
    activity: Mapped[str] = mapped_column(String(80))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # The employer as the teacher named it (one oppbot may not know).
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    # Whether the student talked with the employer, not only listened: what makes it meaningful.
    two_way: Mapped[bool] = mapped_column(Boolean)
    # The student's confirmed attendance of an event they were invited to through oppbot.
    interest_id: Mapped[int | None] = mapped_column(
        ForeignKey("interests.id", ondelete="CASCADE"), unique=True
    )
    # The teacher who recorded it; None when the student confirmed it themselves.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    student: Mapped[Person | None] = relationship(foreign_keys=[student_id])
    organisation: Mapped[Organisation | None] = relationship()
    recorded_by: Mapped[Person | None] = relationship(foreign_keys=[recorded_by_id])


class Question(Base):
    """A student's question for their teachers, passed on when the bot could not answer it.

    It goes to every teacher and coordinator of the student's school; the first to answer
    wins (``answered_at`` is set once, by a conditional update), and the answer is relayed to
    the student. One still open a school day later is raised once more (``raised_again_at``).
    The row goes with the student when they delete their data.
    """

    __tablename__ = "questions"
    # Ids are in buttons and outbox keys: SQLite must never hand a deleted one out again.
    __table_args__ = (
        Index("ix_questions_school_id_answered_at", "school_id", "answered_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime]
    raised_again_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # The teacher's name as the student and colleagues saw it, kept if the teacher leaves.
    answered_by_name: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)

    student: Mapped[Person] = relationship(foreign_keys=[student_id])
