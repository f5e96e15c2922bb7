"""The conversation core: platform-free, synchronous, one transaction per thing a person did.

Adapters turn platform updates into ``Incoming`` values and render the returned ``Reply``
values; handlers (in ``handlers/``) register commands, button actions and dialog steps in a
``Registry``. Nothing here knows about Telegram or Slack: platform facts such as the longest
message arrive as ``Capabilities``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time as timer
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Engine, bindparam, delete, insert, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from bot import metrics
from bot.i18n import N_, _, fmt_number, language, supported
from storage.db import READ_ONLY, SYNC_LATER, make_durable, transaction
from storage.models import Account, ConversationState, Person, Role
from storage.outbox import (
    QUEUED,
    MessageRef,
    QuietHours,
    enqueue,
    enqueue_edit,
    place_reply,
    record_reply,
)
from storage.queries import first_delivery, seen_account, set_language

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Longest message the core reads; anything longer is refused rather than truncated. Room for a
# whole opportunity in one message (a 2,000-character description and every other field).
MAX_INPUT_CHARS = 5000
# The largest file a person may send (listings to import); adapters refuse bigger ones unread.
MAX_FILE_BYTES = 5 * 1024 * 1024
# Telegram's callback_data limit, the tightest of the platforms.
MAX_PAYLOAD_BYTES = 64
# A payload is an action's name, then its parts, each after a colon: "opp:42:interest".
_ACTION_NAME = r"[a-z][a-z0-9_]*"
_PAYLOAD_PART = r"[A-Za-z0-9_.+/-]+"
_PAYLOAD = re.compile(rf"{_ACTION_NAME}(?::{_PAYLOAD_PART})*")
_COMMAND = re.compile(r"/([A-Za-z0-9_]+)(?:@\S+)?(?:\s+(.*))?", re.DOTALL)
DIALOG = "dialog"
# What a typed message may end with and still be said as a command: "Cancel!", "¡Cancelar!".
_SAID_ENDINGS = " .!?¡¿؟…"
STALE_BUTTON_TEXT = N_("That button doesn't work any more. Send /help to see what you can do.")

Audience = frozenset[Role | None]
GUESTS: Audience = frozenset({None})
STUDENTS: Audience = frozenset({Role.STUDENT})
STAFF: Audience = frozenset({Role.TEACHER, Role.ADMIN})
EMPLOYERS: Audience = frozenset({Role.EMPLOYER})
MEMBERS: Audience = frozenset(Role)
EVERYONE: Audience = MEMBERS | GUESTS


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Capabilities:
    """What a platform can show; handlers size their output to it."""

    max_text: int = 4096
    max_button_label: int = 40
    page_size: int = 5


@dataclass(frozen=True)
class WorkLimits:
    """The most an under-16 may work on a placement before their teacher is warned.

    The defaults are the law for 14 to 15 year olds in England: 3 hours on a school day
    (Monday to Friday), 18 hours in a school week.
    """

    school_day_hours: float = 3.0
    school_week_hours: float = 18.0


@dataclass(frozen=True)
class Timing:
    """The school's rules for when things happen: reminders, digests, quiet hours, feedback,
    and how long under-16s may work."""

    # Deadline reminders this many days before the deadline, at ``reminder_at`` local time.
    reminder_offsets_days: tuple[int, ...] = (7, 1)
    reminder_at: time = time(9, 0)
    quiet: QuietHours = field(default_factory=QuietHours)
    # A reminder found due later than this (the bot was down) is marked missed, not sent.
    grace: timedelta = timedelta(minutes=60)
    digest_at: time = time(16, 0)
    # Placement feedback is asked at this local time, and asked again once if unanswered.
    feedback_at: time = time(16, 0)
    feedback_remind_after: timedelta = timedelta(days=3)
    work_limits: WorkLimits = field(default_factory=WorkLimits)
    # Handled platform event ids are remembered this long to skip redeliveries (which come
    # within a day); not longer, since Telegram may reuse update ids after a quiet week.
    events_kept: timedelta = timedelta(days=3)
    # The first day of the school year (month, day): evidence of encounters counts per year.
    school_year_start: tuple[int, int] = (9, 1)
    # A student's question no teacher has answered is raised again once, this many school
    # days (Monday to Friday) after it was asked, at the same time of day.
    question_raise_after_days: int = 1


@dataclass(frozen=True)
class Attachment:
    """A file: sent with a reply (a calendar export), or sent by a person (listings to import)."""

    filename: str
    content: bytes
    mime: str


@dataclass(frozen=True)
class Incoming:
    """One thing a person did on a platform: typed ``text``, pressed a button (``payload``)
    or sent a ``file`` (its caption, if any, is not read)."""

    platform: str
    user_id: str
    chat_id: str
    text: str | None = None
    payload: str | None = None
    display_name: str = ""
    language: str | None = None
    event_id: str | None = None
    file: Attachment | None = None


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class ActionRef:
    """A button action's name, declared once: the handler is registered with it and every
    button that presses the action builds its payload from it, so no button can name an
    action nobody handles (the tests check each declared one is registered)."""

    name: str

    def __post_init__(self) -> None:
        if not re.fullmatch(_ACTION_NAME, self.name):
            raise ValueError(f"bad action name {self.name!r}")

    def payload(self, *parts: str | int) -> str:
        """``name:part:part...``; refused here, where it is built, if a platform could not
        carry it back (too long, or a character a payload may not hold)."""
        texts = [str(part) for part in parts]
        for text in texts:
            if not re.fullmatch(_PAYLOAD_PART, text):
                raise ValueError(f"bad part {text!r} in a payload of {self.name!r}")
        payload = ":".join((self.name, *texts))
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload {payload!r} is over {MAX_PAYLOAD_BYTES} bytes")
        return payload


def stored_buttons(rows: Iterable[Iterable[Button]]) -> list[list[list[str]]]:
    """``rows`` as the outbox keeps them: [label, payload] pairs."""
    return [[[b.label, b.payload] for b in row] for row in rows]


@dataclass(frozen=True)
class Reply:
    """Plain text for the same chat; adapters escape it for their markup."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    replace: bool = False
    file: Attachment | None = None
    # A form refused: the problem with each field by its name, for an adapter that shows them
    # on the form itself (a Slack modal) rather than as this reply's text.
    field_errors: tuple[tuple[str, str], ...] = ()
    # The answer to a button belongs with the message it was pressed on: an adapter with
    # threads (Slack) answers in that message's thread.
    in_thread: bool = False
    # Kept as an outbox row under this key (``Context.tracked``): the adapter tells the core
    # where it showed it (``Core.shown``), so that a later outbox row can edit it.
    track: str | None = None


class Who(NamedTuple):
    """A person as an adapter may show them things: their role and language, and the command
    menu their chat was last given (``Account.menu``)."""

    role: Role | None
    language: str
    menu: str | None = None


@dataclass(frozen=True)
class Handled:
    """What ``Core.respond`` made of an update: the replies, and who the person is after it
    (None when it was not read, or nothing changed: input refused, a redelivery, a failure)."""

    replies: list[Reply]
    who: Who | None = None
    queued: bool = False  # messages for others were queued: the senders may look now


def stale_button() -> Reply:
    return Reply(_(STALE_BUTTON_TEXT))


def not_understood() -> Reply:
    return Reply(_("I'm not sure what you mean. Send /help to see what I can do."))


@dataclass(frozen=True)
class Item:
    """One line of a dashboard panel, with the buttons that act on it."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Panel:
    """A part of a dashboard: a title and its first items (of ``total`` waiting, if more), or
    what to say when there are none; ``more`` names the command that lists them all."""

    title: str
    items: tuple[Item, ...] = ()
    empty: str = ""
    more: str = ""
    total: int | None = None

    @property
    def count(self) -> int:
        return len(self.items) if self.total is None else max(self.total, len(self.items))


@dataclass(frozen=True)
class Dashboard:
    """What needs a person, at a glance (Slack's App Home): panels, and ``shortcuts`` (label,
    command name) that start the same flows as the commands."""

    title: str
    panels: tuple[Panel, ...]
    shortcuts: tuple[tuple[str, str], ...] = ()


class UserError(Exception):
    """Raised by a handler to refuse politely: the reply is shown and nothing is changed."""

    def __init__(
        self,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        *,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(text)
        self.reply = Reply(text, buttons, field_errors=tuple((fields or {}).items()))


@dataclass(frozen=True)
class Field:
    """One field of a ``Form``. ``kind`` tells an adapter how to ask for it: "text",
    "long_text", "choice" (one of ``options``), "choices" (any of them), "date"
    (YYYY-MM-DD), "time" (HH:MM), "number" (whole, within ``bounds``), "url", "flag" (yes
    or nothing), or "search" (one of the choices that the registry's options ``source``
    finds for what the person types; "choices" with a ``source``: any of them). A ``live``
    field changes the form's summary as soon as it changes."""

    name: str
    label: str
    kind: str = "text"
    optional: bool = False
    max_length: int | None = None
    options: tuple[tuple[str, str], ...] = ()  # (value, label)
    initial: str | None = None
    bounds: tuple[int, int] | None = None
    hint: str = ""
    source: str = ""
    live: bool = False


@dataclass(frozen=True)
class Form:
    """The fields a command takes all at once, one "name: value" line each.

    A person may type them; an adapter may show them as a form (a Slack modal) and send the
    answers as the same lines, so the command's handler reads one shape from everywhere. A
    line that starts with a space, or with no "name:", continues the value above it (a
    description of several paragraphs).
    """

    title: str  # at most 24 characters (Slack's limit for a modal's title)
    submit: str
    fields: tuple[Field, ...]
    # Lookups (``Registry.lookup``) given the lines filled in so far: ``summary``'s answer is
    # shown on the form as it is filled in, ``preview``'s before it is sent.
    summary: str = ""
    preview: str = ""

    def write(self, values: Mapping[str, str]) -> str:
        """The lines for ``values`` (blank ones left out), in the order of the fields."""
        lines = []
        for f in self.fields:
            value = (values.get(f.name) or "").strip()
            if value:
                first, *more = value.splitlines()
                lines.append(f"{f.name}: {first}")
                lines.extend(f" {line}" for line in more)
        return "\n".join(lines)

    def read(self, text: str) -> tuple[dict[str, str], list[str]]:
        """The value given for each field, and the problems: unknown, repeated or missing
        fields, worded for the person who wrote the lines."""
        names = {f.name for f in self.fields}
        values: dict[str, list[str]] = {}
        problems: list[str] = []
        current: str | None = None
        for line in text.splitlines():
            match = _FIELD_LINE.match(line)
            if match is None:
                if current is not None:
                    values[current].append(line.strip())
                elif line.strip():
                    problems.append(
                        _("Start each line with a field name: '{line}'", line=line.strip()[:40])
                    )
                continue
            name = " ".join(match.group(1).lower().split())
            if name not in names:
                # Refused rather than read as more of the field above: a misspelt field name
                # must never vanish into the description.
                problems.append(
                    _(
                        "I don't know the field '{field}' (to continue the line above, start "
                        "this one with a space).",
                        field=match.group(1).strip(),
                    )
                )
                continue
            if name in values:
                problems.append(_("{field} is given twice.", field=name))
            current = name
            values[name] = [match.group(2).strip()]
        found = {name: "\n".join(lines).strip() for name, lines in values.items()}
        for f in self.fields:
            if not f.optional and not found.get(f.name):
                problems.append(_("{field} is missing.", field=f.name))
        return {name: value for name, value in found.items() if value}, problems


# "name: value" at the very start of a line (an indented line continues the one above); a
# web address on a line of its own is no field name.
_FIELD_LINE = re.compile(r"([A-Za-z][A-Za-z ]{0,29}):(?!//)(.*)")

CommandFunc = Callable[["Context", str], list[Reply]]
ActionFunc = Callable[["Context", list[str]], list[Reply]]
DialogFunc = Callable[["Context", str, dict[str, Any]], list[Reply]]
# A dialog's or a capability's stored state, declared as a TypedDict so mypy checks its keys.
State = TypeVar("State", bound=Mapping[str, Any])
TextFunc = Callable[["Context", str], list[Reply] | None]
# What to say to text nothing understood (None: the core's own "I'm not sure what you mean").
FallbackFunc = Callable[["Context", str], list[Reply] | None]
FileFunc = Callable[["Context", Attachment], list[Reply]]
DashboardFunc = Callable[["Context"], Dashboard | None]
T = TypeVar("T")
# What a form's lines would do, told without doing it (read only).
LookupFunc = Callable[["Context", str], "Reply"]
# The choices (value, label) matching what a person has typed so far, best first.
OptionsFunc = Callable[["Context", str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Command:
    name: str
    func: CommandFunc
    roles: Audience
    help: str
    aliases: tuple[str, ...] = ()
    # The fields the command also takes all at once (see ``Form``), for adapters to ask for.
    form: Form | None = None
    # Whole messages that run the command even while a dialog waits for text ("cancelar").
    said: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Action:
    name: str
    func: ActionFunc
    roles: Audience
    # A command whose ``Form`` an adapter that shows forms (a Slack modal) opens instead, with
    # the payload's parts as the form's first fields; the action itself asks in the chat.
    form: str | None = None


@dataclass(frozen=True)
class Options:
    name: str
    func: OptionsFunc
    roles: Audience


@dataclass(frozen=True)
class Lookup:
    name: str
    func: LookupFunc
    roles: Audience


@dataclass(frozen=True)
class Dialog:
    name: str
    func: DialogFunc
    sticky: bool
    # The button action that answers this dialog's questions: pressing it keeps it open.
    action: str | None = None


@dataclass
class Registry:
    """Commands, button actions, dialog steps and free-text interpreters, by name."""

    commands: dict[str, Command] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    dialogs: dict[str, Dialog] = field(default_factory=dict)
    text_handlers: list[TextFunc] = field(default_factory=list)
    file_handler: FileFunc | None = None
    fallback_handler: FallbackFunc | None = None
    dashboard_builder: DashboardFunc | None = None
    sources: dict[str, Options] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)
    _lookup: dict[str, Command] = field(default_factory=dict)
    _said: dict[str, Command] = field(default_factory=dict)

    def command(
        self,
        name: str,
        *aliases: str,
        roles: Audience,
        help: str,
        form: Form | None = None,
        said: frozenset[str] = frozenset(),
    ) -> Callable[[CommandFunc], CommandFunc]:
        """Register a command; ``said`` holds the messages (in lower case) that run it, no
        slash needed, even in the middle of a dialog: a way out people type in any language."""

        def decorator(func: CommandFunc) -> CommandFunc:
            self._add_command(Command(name, func, roles, help, aliases, form, said))
            return func

        return decorator

    def action(
        self, ref: ActionRef, *, roles: Audience, form: str | None = None
    ) -> Callable[[ActionFunc], ActionFunc]:
        """Register what pressing a button built by ``ref.payload`` does (see ``Action.form``
        for ``form``)."""

        def decorator(func: ActionFunc) -> ActionFunc:
            self._add_action(Action(ref.name, func, roles, form))
            return func

        return decorator

    def _add_action(self, action: Action) -> None:
        if action.name in self.actions:
            raise ValueError(f"action {action.name!r} registered twice")
        self.actions[action.name] = action

    def dialog(
        self, name: str, *, sticky: bool = False, action: ActionRef | None = None
    ) -> Callable[
        [Callable[[Context, str, State], list[Reply]]], Callable[[Context, str, State], list[Reply]]
    ]:
        """Register the step that reads free text while dialog ``name`` is open.

        A dialog waits for exactly one message: any command or button press closes it, so a
        question left unanswered never swallows later text; only the buttons of its own
        ``action`` keep it open. A ``sticky`` dialog (a newcomer's onboarding) stays open
        across other commands until it finishes or is cancelled.
        """

        def decorator(
            func: Callable[[Context, str, State], list[Reply]],
        ) -> Callable[[Context, str, State], list[Reply]]:
            if name in self.dialogs:
                raise ValueError(f"dialog {name!r} registered twice")
            # The step is handed what its dialog was started with (see Context.start_dialog).
            step = cast(DialogFunc, func)
            self.dialogs[name] = Dialog(name, step, sticky, action.name if action else None)
            return func

        return decorator

    def text(self, func: TextFunc) -> TextFunc:
        """Register an interpreter for free text; the first one that answers wins."""
        self.text_handlers.append(func)
        return func

    def file(self, func: FileFunc) -> FileFunc:
        """Register what to do with a file a person sends (anyone may send one: it checks)."""
        if self.file_handler is not None:
            raise ValueError("a file handler is registered twice")
        self.file_handler = func
        return func

    def fallback(self, func: FallbackFunc) -> FallbackFunc:
        """Register what to answer text that no command, dialog or interpreter took."""
        if self.fallback_handler is not None:
            raise ValueError("a fallback is registered twice")
        self.fallback_handler = func
        return func

    def dashboard(self, func: DashboardFunc) -> DashboardFunc:
        """Register what a member's dashboard shows (None: nothing for their role)."""
        if self.dashboard_builder is not None:
            raise ValueError("a dashboard is registered twice")
        self.dashboard_builder = func
        return func

    def options(self, name: str, *, roles: Audience) -> Callable[[OptionsFunc], OptionsFunc]:
        """Register the choices a "search" field with this ``source`` offers (read only)."""

        def decorator(func: OptionsFunc) -> OptionsFunc:
            if name in self.sources:
                raise ValueError(f"options {name!r} registered twice")
            self.sources[name] = Options(name, func, roles)
            return func

        return decorator

    def lookup(self, name: str, *, roles: Audience) -> Callable[[LookupFunc], LookupFunc]:
        """Register a read-only answer about a form's lines (its summary or preview)."""

        def decorator(func: LookupFunc) -> LookupFunc:
            if name in self.lookups:
                raise ValueError(f"lookup {name!r} registered twice")
            self.lookups[name] = Lookup(name, func, roles)
            return func

        return decorator

    def include(self, other: Registry) -> None:
        for command in other.commands.values():
            self._add_command(command)
        for action in other.actions.values():
            self._add_action(action)
        for name, dialog in other.dialogs.items():
            if name in self.dialogs:
                raise ValueError(f"dialog {name!r} registered twice")
            self.dialogs[name] = dialog
        self.text_handlers.extend(other.text_handlers)
        if other.file_handler is not None:
            self.file(other.file_handler)
        if other.fallback_handler is not None:
            self.fallback(other.fallback_handler)
        if other.dashboard_builder is not None:
            self.dashboard(other.dashboard_builder)
        for name, options in other.sources.items():
            self.options(name, roles=options.roles)(options.func)
        for name, lookup in other.lookups.items():
            self.lookup(name, roles=lookup.roles)(lookup.func)

    def _add_command(self, command: Command) -> None:
        for word in (command.name, *command.aliases):
            if word.lower() in self._lookup:
                raise ValueError(f"command word {word!r} registered twice")
            self._lookup[word.lower()] = command
        for words in command.said:
            if words in self._said:
                raise ValueError(f"{words!r} said for two commands")
            self._said[words] = command
        self.commands[command.name] = command

    def find(self, word: str) -> Command | None:
        return self._lookup.get(word.lower())

    def said(self, text: str) -> Command | None:
        """The command a whole message means without a slash ("Cancel!"), if any."""
        return self._said.get(" ".join(text.lower().split()).strip(_SAID_ENDINGS))

    def available_to(self, role: Role | None) -> list[Command]:
        return [c for c in self.commands.values() if role in c.roles]

    def help_lines(self, role: Role | None) -> list[str]:
        """One line per command ``role`` may use, in the core's wording: /help's list, and
        what an adapter shows elsewhere (Slack's App Home), so that the two always agree."""
        return [
            _("{command} — {description}", command="/" + c.name, description=_(c.help))
            for c in self.available_to(role)
        ]


# A person's conversation state rows, and the statements that write one (built once: they
# run for nearly every update).
_STATES = select(ConversationState).where(ConversationState.person_id == bindparam("person"))
_STATE_TABLE = ConversationState.__table__
_ONE_STATE = (
    _STATE_TABLE.c.person_id == bindparam("state_person"),
    _STATE_TABLE.c.key == bindparam("state_key"),
)
_ADD_STATE = insert(_STATE_TABLE)
_SET_STATE = (
    update(_STATE_TABLE)
    .where(*_ONE_STATE)
    .values(data=bindparam("state_data"), updated_at=bindparam("state_at"))
)
_CLEAR_STATE = delete(_STATE_TABLE).where(*_ONE_STATE)


@dataclass
class Context:
    """What a handler gets: the open session, who is talking, and the time."""

    session: Session
    incoming: Incoming
    person: Person
    account: Account
    now: datetime
    caps: Capabilities
    registry: Registry
    timing: Timing

    # The person's state rows by key, read once with one query: a command reads its state
    # several times (a waiting dialog, its own), and most keys are absent, which the
    # session's identity map cannot remember. Rows are still fetched with ``session.get``, so
    # one deleted by a bulk DELETE in the meantime reads as gone.
    _states: dict[str, ConversationState] | None = field(default=None, init=False, repr=False)

    @property
    def role(self) -> Role | None:
        return self.person.role

    def _state_row(self, key: str) -> ConversationState | None:
        if self._states is None:
            rows = self.session.scalars(_STATES, {"person": self.person.id})
            self._states = {row.key: row for row in rows}
        if key not in self._states:
            return None
        return self.session.get(ConversationState, (self.person.id, key))

    def state(self, key: str) -> dict[str, Any] | None:
        row = self._state_row(key)
        return dict(row.data) if row is not None else None

    def typed_state(self, key: str, shape: type[State]) -> State | None:
        """The state under ``key`` as the TypedDict ``shape`` that wrote it. Not checked at
        run time: state outlives a release, so shapes declare every key optional and readers
        treat a missing one as unset."""
        return cast(State, self.state(key))

    def set_state(self, key: str, data: Mapping[str, Any]) -> None:
        # Written at once with one statement and kept as loaded: nearly every update sets
        # some state, and a unit-of-work flush for that one row was a tenth of a command.
        data = dict(data)
        row = self._state_row(key)
        if row is None:
            self.session.execute(
                _ADD_STATE,
                {"person_id": self.person.id, "key": key, "data": data, "updated_at": self.now},
            )
            row = ConversationState(
                person_id=self.person.id, key=key, data=data, updated_at=self.now
            )
            make_transient_to_detached(row)  # as if just read back
            self.session.add(row)
            assert self._states is not None
            self._states[key] = row
        else:
            self.session.execute(
                _SET_STATE,
                {
                    "state_person": self.person.id,
                    "state_key": key,
                    "state_data": data,
                    "state_at": self.now,
                },
            )
            set_committed_value(row, "data", data)
            set_committed_value(row, "updated_at", self.now)

    def clear_state(self, key: str) -> None:
        row = self._state_row(key)
        if row is not None:
            self.session.execute(_CLEAR_STATE, {"state_person": self.person.id, "state_key": key})
            self.session.expunge(row)
            assert self._states is not None
            del self._states[key]

    def start_dialog(self, name: str, state: Mapping[str, Any]) -> None:
        """Open dialog ``name``; its step is handed ``state`` (a TypedDict the step declares,
        so mypy checks both sides), with "name" added."""
        self.set_state(DIALOG, {**state, "name": name})

    def notify(
        self,
        person: Person,
        text: str,
        *,
        kind: str,
        key: str,
        buttons: Iterable[Iterable[Button]] = (),
        about: Person | None = None,
        urgent: bool = False,
        thread_of: str | None = None,
    ) -> bool:
        """Queue ``text`` for another person in this transaction; see ``storage.outbox``.

        A student gets it outside their quiet hours unless it is ``urgent`` (a teacher's
        announcement that cannot wait for the morning). With ``thread_of`` (an earlier
        message's key) it goes in that message's thread, once that one is sent.
        """
        rows = stored_buttons(buttons)
        quiet = self.timing.quiet if person.role == Role.STUDENT and not urgent else None
        return enqueue(
            self.session,
            person,
            text,
            kind=kind,
            key=key,
            now=self.now,
            buttons=rows or None,
            about=about,
            quiet=quiet,
            thread_of=thread_of,
        )

    def tracked(self, reply: Reply, key: str) -> Reply:
        """``reply``, kept as a sent outbox row under ``key`` that a later ``edit_notice`` can
        edit where it is shown (an adapter that cannot say where gets a new message instead)."""
        rows = stored_buttons(reply.buttons)
        record_reply(self.session, self.account.id, key, reply.text, rows, self.now)
        return replace(reply, track=key)

    def edit_notice(
        self,
        edits: str,
        text: str,
        *,
        kind: str,
        key: str,
        buttons: Iterable[Iterable[Button]] | None = None,
        about: Person | None = None,
    ) -> bool:
        """Queue a rewrite of the message queued earlier with the key ``edits``: ``text`` and
        ``buttons`` (None: the buttons it has; no rows: none). See
        ``storage.outbox.enqueue_edit``."""
        return enqueue_edit(
            self.session,
            edits,
            text,
            kind=kind,
            key=key,
            now=self.now,
            buttons=stored_buttons(buttons) if buttons is not None else None,
            keep_buttons=buttons is None,
            about=about,
        )


# Control characters and lone surrogates: nothing a person means to type, and PostgreSQL cannot
# store NUL or a lone surrogate at all.
_UNPRINTABLE = ("Cc", "Cs")


def _bad_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in _UNPRINTABLE and ch not in "\n\t\r" for ch in text)


def _printable(text: str) -> str:
    """``text`` without the characters of ``_bad_characters`` (for names a platform gives us)."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in _UNPRINTABLE)


def file_too_big(size: int) -> Reply:
    """The refusal of a file over ``MAX_FILE_BYTES``; adapters send it without downloading."""
    # Rounded up: a file just over the limit must not read as "5.0 MB" against "up to 5 MB".
    megabytes = math.ceil(size * 10 / 1024 / 1024) / 10
    return Reply(
        _(
            "That file is too big for me ({size} MB). Please send files of up to {limit} MB.",
            size=format(megabytes, ".1f"),
            limit=MAX_FILE_BYTES // 1024 // 1024,
        )
    )


_ROLE_NAMES = {
    Role.ADMIN: N_("admins"),
    Role.EMPLOYER: N_("employers"),
    Role.STUDENT: N_("students"),
    Role.TEACHER: N_("teachers"),
}


def role_label(roles: Audience) -> str:
    names = sorted(r.value for r in roles if r is not None)
    if not names:
        return _("people who have joined")
    label = _(_ROLE_NAMES[Role(names[0])])
    for name in names[1:]:
        label = _("{some} or {others}", some=label, others=_(_ROLE_NAMES[Role(name)]))
    return label


class Core:
    """Routes each ``Incoming`` to a handler inside one database transaction."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        registry: Registry,
        *,
        clock: Clock = utcnow,
        capabilities: Mapping[str, Capabilities] | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.clock = clock
        self.capabilities = dict(capabilities or {})
        self.timing = timing or Timing()
        # SQLite has one writer, and every transaction here begins as one (BEGIN IMMEDIATE).
        # Left to SQLite, concurrent updates wait in its busy handler, which sleeps and polls
        # (up to 100 ms a turn); queued on a lock, the next one starts the moment one commits.
        self._engine: Engine = session_factory.kw["bind"]
        self._writer: AbstractContextManager[object] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else nullcontext()
        )

    def role_of(self, platform: str, user_id: str) -> Role | None:
        """The role of the person behind a platform account (None for guests and strangers)."""
        with self.session_factory() as session:
            session.connection(execution_options={READ_ONLY: True})
            return session.scalar(
                select(Person.role)
                .join(Account, Account.person_id == Person.id)
                .where(Account.platform == platform, Account.external_id == user_id)
            )

    def language_of(self, platform: str, user_id: str, default: str | None = None) -> str:
        """The language we speak with the person behind a platform account (``default``, the
        platform's code, for someone we haven't met)."""
        with self.session_factory() as session:
            session.connection(execution_options={READ_ONLY: True})
            return supported(
                session.scalar(
                    select(Person.language)
                    .join(Account, Account.person_id == Person.id)
                    .where(Account.platform == platform, Account.external_id == user_id)
                )
                or default
            )

    def dashboard(self, platform: str, user_id: str) -> Dashboard | None:
        """The member's dashboard as it stands now; None for a stranger or a guest, or with no
        dashboard registered. Reads only: nothing is recorded of the person looking."""
        builder = self.registry.dashboard_builder
        if builder is None:
            return None

        def build(ctx: Context) -> Dashboard | None:
            if ctx.person.role is None:
                return None
            with language(ctx.person.language):
                return builder(ctx)

        return self._read(platform, user_id, build)

    def options(
        self, platform: str, user_id: str, source: str, typed: str
    ) -> list[tuple[str, str]]:
        """The choices options ``source`` offers this member for ``typed`` (none for anyone
        whose role may not see them). Reads only, like the dashboard."""
        options = self.registry.sources.get(source)
        if options is None:
            return []

        def choices(ctx: Context) -> list[tuple[str, str]]:
            if ctx.person.role not in options.roles:
                return []
            with language(ctx.person.language):
                try:
                    return options.func(ctx, typed.strip())
                except UserError:
                    return []

        return self._read(platform, user_id, choices) or []

    def lookup(self, platform: str, user_id: str, name: str, text: str) -> Reply | None:
        """Lookup ``name``'s answer for ``text``, worked out and then forgotten: a refusal is
        its reply (with the fields' problems); None for anyone whose role may not ask."""
        lookup = self.registry.lookups.get(name)
        if lookup is None:
            return None

        def answer(ctx: Context) -> Reply | None:
            if ctx.person.role not in lookup.roles:
                return None
            with language(ctx.person.language):
                try:
                    return lookup.func(ctx, text)
                except UserError as refused:
                    return refused.reply

        return self._read(platform, user_id, answer)

    def _read(self, platform: str, user_id: str, read: Callable[[Context], T]) -> T | None:
        """``read`` in a context for the member behind the account, rolled back after; None
        for a stranger."""
        with self.session_factory() as session:
            account = session.scalars(
                select(Account).where(Account.platform == platform, Account.external_id == user_id)
            ).one_or_none()
            if account is None:
                return None
            ctx = Context(
                session=session,
                incoming=Incoming(platform=platform, user_id=user_id, chat_id=account.chat_id),
                person=account.person,
                account=account,
                now=self.clock(),
                caps=self.capabilities.get(platform, Capabilities()),
                registry=self.registry,
                timing=self.timing,
            )
            try:
                return read(ctx)
            finally:
                session.rollback()

    def shown(self, key: str, ref: MessageRef) -> None:
        """Where an adapter showed the tracked reply ``key`` (see ``Reply.track``)."""
        try:
            with transaction(self.session_factory) as session:
                place_reply(session, key, ref)
        except Exception:  # the reply was shown; only editing it later is lost
            log.warning("could not record where reply %s was shown", key, exc_info=True)

    def handle(self, incoming: Incoming) -> list[Reply]:
        return self.respond(incoming).replies

    def respond(self, incoming: Incoming) -> Handled:
        """``handle``, also telling who the person is after the update, read in the same
        transaction (an adapter's command menu follows their role and language)."""
        started = timer.perf_counter()
        try:
            # The platform's language until the person is known (refusals of bad input, a crash).
            with language(incoming.language):
                return self._handle_safely(incoming)
        finally:
            metrics.UPDATES.labels(incoming.platform, self.label(incoming)).inc()
            metrics.HANDLING.labels(incoming.platform).observe(timer.perf_counter() - started)

    def label(self, incoming: Incoming) -> str:
        """What kind of update this is, in a few known words (a metric's label, a log field)."""
        if incoming.payload is not None:
            return "button"
        if incoming.file is not None:
            return "other"
        match = _COMMAND.fullmatch((incoming.text or "").strip())
        if match is None:
            return "text"
        command = self.registry.find(match.group(1))
        return command.name if command is not None else "other"

    def _handle_safely(self, incoming: Incoming) -> Handled:
        refusal = self._check_input(incoming)
        if refusal is not None:
            return Handled([refusal])
        try:
            with self._writer, transaction(self.session_factory) as session:
                session.connection(execution_options={SYNC_LATER: True})
                handled = self._handle(session, incoming)
            # Durable before anyone is answered, but the next update's transaction need not
            # wait for the disk: the updates committed meanwhile share this sync.
            make_durable(self._engine)
            return handled
        except UserError as refused:
            # Rolled back whole, the event id too: a refused form may be sent again as it was.
            # Nothing changed, so neither did who the person is.
            return Handled([refused.reply])
        except Exception:
            metrics.ERRORS.labels(incoming.platform).inc()
            # What the person wrote stays out of the log; the event and our own payload are
            # enough to find the update.
            log.exception(
                "failed to handle %s update (event %s, payload %r)",
                incoming.platform,
                incoming.event_id,
                incoming.payload,
            )
            return Handled(
                [Reply(_("Sorry, something went wrong on our side. Please try again in a moment."))]
            )

    def _check_input(self, incoming: Incoming) -> Reply | None:
        if incoming.payload is not None:
            payload = incoming.payload
            # A payload that matches is ASCII, so its length in characters is its size in bytes.
            if len(payload) > MAX_PAYLOAD_BYTES or not _PAYLOAD.fullmatch(payload):
                return stale_button()
            return None
        if incoming.file is not None:
            size = len(incoming.file.content)
            if size > MAX_FILE_BYTES:
                return file_too_big(size)
            return None
        text = incoming.text or ""
        if len(text) > MAX_INPUT_CHARS:
            return Reply(
                _(
                    "That message is too long for me ({length} characters). "
                    "Please keep it under {limit}.",
                    length=fmt_number(len(text)),
                    limit=fmt_number(MAX_INPUT_CHARS),
                )
            )
        if _bad_characters(text):
            return Reply(
                _("Your message has invisible control characters in it. Please retype it.")
            )
        if not text.strip():
            return Reply(_("I didn't get any text there. Send /help to see what I can do."))
        return None

    def _handle(self, session: Session, incoming: Incoming) -> Handled:
        now = self.clock()
        if incoming.event_id is not None and not first_delivery(
            session, incoming.platform, incoming.event_id, now, kept=self.timing.events_kept
        ):
            log.info("skipping duplicate %s event %s", incoming.platform, incoming.event_id)
            return Handled([])
        account = self._account(session, incoming, now)
        with language(account.person.language):
            replies = self._dispatch(session, incoming, account, now)
        session.flush()  # the commit's own flush, early: a deleted person now reads as such
        person = account.person
        queued = bool(session.info.get(QUEUED))
        if inspect(person).deleted:  # they asked to be forgotten: a stranger now
            return Handled(replies, Who(None, supported(None)), queued)
        who = Who(person.role, supported(person.language), account.menu)
        return Handled(replies, who, queued)

    def _dispatch(
        self, session: Session, incoming: Incoming, account: Account, now: datetime
    ) -> list[Reply]:
        ctx = Context(
            session=session,
            incoming=incoming,
            person=account.person,
            account=account,
            now=now,
            caps=self.capabilities.get(incoming.platform, Capabilities()),
            registry=self.registry,
            timing=self.timing,
        )
        if incoming.payload is not None:
            return self._press(ctx, incoming.payload)
        if incoming.file is not None:
            return self._file(ctx, incoming.file)
        return self._text(ctx, (incoming.text or "").strip())

    def remember_menu(self, platform: str, user_id: str, menu: str) -> None:
        """Record the command menu an account's chat was given (see ``Account.menu``)."""
        with self._writer, transaction(self.session_factory) as session:
            session.execute(
                update(Account)
                .where(Account.platform == platform, Account.external_id == user_id)
                .values(menu=menu)
            )

    def first_delivery(self, platform: str, event_id: str) -> bool:
        """Record an event an adapter handles without the core; False for a redelivery."""
        with transaction(self.session_factory) as session:
            return first_delivery(
                session, platform, event_id, self.clock(), kept=self.timing.events_kept
            )

    def _account(self, session: Session, incoming: Incoming, now: datetime) -> Account:
        account = seen_account(session, incoming.platform, incoming.user_id, incoming.chat_id, now)
        if account is None:
            display_name = _printable(incoming.display_name)
            person = Person(
                name=display_name[:100].strip(),
                language=supported(incoming.language) if incoming.language else None,
                created_at=now,
            )
            account = Account(
                person=person,
                platform=incoming.platform,
                external_id=incoming.user_id,
                chat_id=incoming.chat_id,
                display_name=display_name[:200],
                last_seen_at=now,
                created_at=now,
            )
            session.add(account)
            session.flush()
            return account
        if incoming.language and not account.person.language:
            set_language(session, account.person, supported(incoming.language))
        return account

    def _press(self, ctx: Context, payload: str) -> list[Reply]:
        name, *args = payload.split(":")
        action = self.registry.actions.get(name)
        if action is None:
            return [stale_button()]
        if ctx.role not in action.roles:
            return [self._denied(ctx, action.roles)]
        self._close_waiting_dialog(ctx, pressed=name)
        return action.func(ctx, args)

    def _file(self, ctx: Context, file: Attachment) -> list[Reply]:
        if self.registry.file_handler is None:
            return [Reply(_("I can't do anything with files. Send /help to see what I can do."))]
        self._close_waiting_dialog(ctx)
        return self.registry.file_handler(ctx, file)

    def _text(self, ctx: Context, text: str) -> list[Reply]:
        match = _COMMAND.fullmatch(text)
        if match:
            command = self.registry.find(match.group(1))
            if command is None:
                return [
                    Reply(
                        _(
                            "I don't know {command}. Send /help to see what I can do.",
                            command="/" + match.group(1),
                        )
                    )
                ]
            return self._run(ctx, command, (match.group(2) or "").strip())
        said = self.registry.said(text)
        if said is not None and ctx.role in said.roles:
            return self._run(ctx, said, "")
        dialog = ctx.state(DIALOG)
        if dialog is not None and dialog.get("name") in self.registry.dialogs:
            return self.registry.dialogs[dialog["name"]].func(ctx, text, dialog)
        # Without a slash, a command's own name ("help") always works; an alias ("data",
        # "list") only when the text means nothing else here, so a search for "data" while
        # browsing stays a search.
        word, _space, rest = text.partition(" ")
        command = self.registry.find(word)
        if command is not None and ctx.role not in command.roles:
            command = None
        if command is not None and command.name == word.lower():
            return self._run(ctx, command, rest.strip())
        for interpret in self.registry.text_handlers:
            replies = interpret(ctx, text)
            if replies is not None:
                return replies
        if command is not None:
            return self._run(ctx, command, rest.strip())
        fallback = self.registry.fallback_handler
        replies = fallback(ctx, text) if fallback is not None else None
        return replies or [not_understood()]

    def _run(self, ctx: Context, command: Command, args: str) -> list[Reply]:
        if ctx.role not in command.roles:
            return [self._denied(ctx, command.roles)]
        self._close_waiting_dialog(ctx)
        return command.func(ctx, args)

    def _close_waiting_dialog(self, ctx: Context, *, pressed: str | None = None) -> None:
        dialog = ctx.state(DIALOG)
        if dialog is None:
            return
        registered = self.registry.dialogs.get(dialog.get("name", ""))
        keep = registered is not None and (
            registered.sticky or (pressed is not None and pressed == registered.action)
        )
        if not keep:
            ctx.clear_state(DIALOG)

    def _denied(self, ctx: Context, roles: Audience) -> Reply:
        if ctx.role is None:
            return Reply(_("You haven't joined yet. Send /start to get set up first."))
        return Reply(
            _(
                "Sorry, that is only for {people}. Send /help to see what you can do.",
                people=role_label(roles),
            )
        )
