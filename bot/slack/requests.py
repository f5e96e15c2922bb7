"""What the Slack adapter accepts from Slack: signed requests, checked before any of it is used.

Over HTTP the signature is checked first, on the raw bytes; requests refused for it are counted
and reported in one line a minute at most (``Refusals``), since anyone can send them. Then every
part a listener reads is checked as declared here, with its type: a request that lacks one, or has
one of another shape, is refused as a whole (HTTP 400, or acknowledged and dropped in Socket
Mode) instead of failing halfway through its work. Parts nobody reads are ignored, so a field
Slack adds tomorrow changes nothing. The checked request waits in Bolt's context for the
listener it was matched for (``parsed``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

log = logging.getLogger(__name__)

# An id, a timestamp or a trigger: present and not empty (and never a number or an object).
Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]
# Longer than any reason pydantic gives for one part; the body itself is never quoted.
MAX_REASON = 200
# Where a request's checked parts wait in Bolt's context for the listener.
CHECKED = "oppbot_request"
# How old a signed request may be, in seconds (Slack's advice).
MAX_AGE = 5 * 60


class Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ref(Part):
    """A user, team or channel as interactions name them: ``{"id": ...}``."""

    id: Id


class SlashCommand(Part):
    command: Annotated[str, StringConstraints(pattern=r"^/\S+$")]
    text: str = ""
    user_id: Id
    team_id: Id
    channel_id: str = ""
    trigger_id: Id
    response_url: Id


class Action(Part):
    action_id: Id
    value: str = ""


class Container(Part):
    """Where the button was: a message (its channel and ts) or a view (the App Home)."""

    type: str = "message"
    channel_id: str = ""
    message_ts: str = ""
    # Set when the message is a reply in a thread: the thread's first message.
    thread_ts: str = ""


class Option(Part):
    value: str


class ElementState(Part):
    """One input's value in a submitted modal, whichever kind of input it is."""

    value: str | None = None
    selected_option: Option | None = None
    selected_options: list[Option] | None = None
    selected_date: str | None = None
    selected_time: str | None = None

    @property
    def answer(self) -> str:
        """The text a person would type for it."""
        if self.selected_options is not None:
            return ", ".join(o.value for o in self.selected_options)
        if self.selected_option is not None:
            return self.selected_option.value
        return self.selected_date or self.selected_time or self.value or ""


class ViewState(Part):
    values: dict[str, dict[str, ElementState]]


class ShownView(Part):
    """The view a button or input was used on: a modal, or the App Home (no state)."""

    id: Id
    callback_id: str = ""
    # Slack's version of the view: an update naming an older one is refused.
    hash: str = ""
    private_metadata: str = ""
    state: ViewState = ViewState(values={})


class View(ShownView):
    """A submitted modal."""

    callback_id: Id
    state: ViewState


class BlockActions(Part):
    """A button pressed on one of the bot's messages, or on its App Home (no channel), or a
    live input changed in a modal (its ``view``)."""

    type: Literal["block_actions"]
    user: Ref
    team: Ref
    trigger_id: Id
    actions: Annotated[list[Action], Field(min_length=1)]
    container: Container = Container()
    channel: Ref | None = None
    view: ShownView | None = None

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def channel_id(self) -> str:
        if self.container.channel_id or self.channel is None:
            return self.container.channel_id
        return self.channel.id


class ViewSubmission(Part):
    type: Literal["view_submission"]
    user: Ref
    team: Ref
    view: View


class BlockSuggestion(Part):
    """An external select asking for the choices that match what the person has typed."""

    type: Literal["block_suggestion"]
    user: Ref
    team: Ref
    action_id: Id
    value: str = ""


class SharedFile(Part):
    """A file shared in a DM, as the message event describes it (every part may be missing)."""

    id: str = ""
    name: str = ""
    mimetype: str = ""
    filetype: str = ""
    size: Annotated[int, Field(ge=0)] = 0
    url_private: str = ""
    url_private_download: str = ""


class MessageEvent(Part):
    type: Literal["message"]
    channel: Id
    channel_type: str = ""
    # Slack's own messages (edits, joins, deletions) come without a user.
    user: Id | None = None
    bot_id: str | None = None
    subtype: str | None = None
    text: str | None = None
    ts: Id
    # Written in a thread: the ts of the thread's first message.
    thread_ts: str | None = None
    files: list[SharedFile] = []


class HomeOpened(Part):
    type: Literal["app_home_opened"]
    user: Id
    # The person's DM with the bot (Slack sends it with the home tab too).
    channel: str = ""
    tab: str = ""


class EventCallback(Part):
    type: Literal["event_callback"]
    team_id: Id
    event_id: Id
    event: Annotated[MessageEvent | HomeOpened, Field(discriminator="type")]


class UrlVerification(Part):
    type: Literal["url_verification"]
    challenge: Id


class SslCheck(Part):
    """Slack checking the certificate of a slash command's URL (Bolt answers it)."""

    ssl_check: Literal["1"]


Interaction = BlockActions | BlockSuggestion | ViewSubmission | EventCallback | UrlVerification
Typed = Annotated[Interaction, Field(discriminator="type")]
Request = SlashCommand | SslCheck | Interaction
_TYPED: TypeAdapter[Interaction] = TypeAdapter(Typed)


class Malformed(ValueError):
    """A request that is not one the adapter can handle; the message says why, in one line."""


def read(body: object) -> Request:
    """The request ``body`` (a parsed JSON object or form) checked as the kind it says it is."""
    if not isinstance(body, dict):
        raise Malformed(f"the body is a {type(body).__name__}, not an object")
    try:
        if "command" in body:
            return SlashCommand.model_validate(body)
        if "ssl_check" in body:
            return SslCheck.model_validate(body)
        return _TYPED.validate_python(body)
    except ValidationError as error:
        raise Malformed(reason(error)) from None


def reason(error: ValidationError) -> str:
    """The first problem pydantic found, and where, without the value it found there."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "the body"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    # Keys and tags come from the request: one line, however they are written.
    return " ".join(f"{where}: {first['msg']}{more}".split())[:MAX_REASON]


P = TypeVar("P", bound=Part)


def signed(secret: str, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    """Whether Slack signed ``body``: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}"), at most
    five minutes ago (an older request may be a recorded one played again). On the raw bytes,
    so that what is not even text is refused as unsigned, without being read."""
    if not re.fullmatch(r"[0-9]{1,12}", timestamp) or abs(now - int(timestamp)) > MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode(errors="replace"))


class Refusals:
    """Requests refused for their signature: anyone can send them, so they are counted and
    reported in one line at most once a minute, never one line each."""

    def __init__(
        self, every: float = 60.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self.monotonic = monotonic
        self.count = 0
        self._reported_at: float | None = None

    def note(self) -> None:
        self.count += 1
        now = self.monotonic()
        if self._reported_at is None or now - self._reported_at >= self.every:
            log.warning(
                "refused %d Slack request(s) without a valid signature (one line a minute at most)",
                self.count,
            )
            self.count, self._reported_at = 0, now


def checked_request(
    body: str | dict[str, Any], content_type: str | None = None, **options: Any
) -> AsyncBoltRequest:
    """Bolt's request for ``body`` (the raw text, or Socket Mode's payload), with its checked
    parts in the context for the listeners; ``Malformed`` if any of it cannot be read."""
    try:
        payload = parse_body(body, content_type) if isinstance(body, str) else body
        checked = read(payload)
        return AsyncBoltRequest(body=body, context={CHECKED: checked}, **options)
    except Malformed:
        raise
    except Exception as error:
        # Not JSON or a form, or a part that only Bolt reads (authorizations, enterprise) is
        # not what Slack sends: Bolt's reading fails with whatever the part made it raise.
        raise Malformed(f"unreadable ({type(error).__name__})") from None


def parsed(context: AsyncBoltContext, kind: type[P]) -> P:
    """The checked request a listener was matched for."""
    request = context[CHECKED]
    assert isinstance(request, kind), f"{kind.__name__} expected, got {type(request).__name__}"
    return request
