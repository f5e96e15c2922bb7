"""The Slack adapter: slack-bolt's AsyncApp around the core, in HTTP mode or Socket Mode.

Every request is acknowledged at once and the work runs after, in a task this adapter owns:
Slack retries whatever is not acknowledged within 3 seconds, and a retried event must not be
answered twice. Each event, slash command and button click reaches the core with a stable
event id (the event's ``event_id``, the command's or click's ``trigger_id``), so a delivery that
arrives twice, in this process or another, is applied once. Work for one person runs in order,
different people concurrently; the core runs in a worker thread.

Everything the bot says goes to the person's direct message with the bot, whose channel id is
their account's chat id: button clicks, dialogs and outbox messages all live there. Replies are
Block Kit sections of escaped mrkdwn with the plain text as the notification fallback.

Two Slack-only front doors lead into the same core flows: ``/announce`` (or ``/oppbot
announce``) opens a modal whose text becomes "/announce TEXT", and a teacher's post in the
announcements channel gets a "Send to students" button, visible to them alone, that does the same
with the post's text. A command with a ``Form`` (``/publish``) opens it as a modal of input
blocks, whose answers reach the core as the form's "field: value" lines. Errors in either come
back in the DM, like every other answer.

A file shared in the DM (a teacher's listings to import) is downloaded from its ``url_private``
with the bot token, which is only ever sent to Slack's file server (or the configured Web API
address), and reaches the core as ``Incoming.file``.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import hmac
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core import (
    MAX_FILE_BYTES,
    Attachment,
    Button,
    Capabilities,
    Core,
    Field,
    Form,
    Incoming,
    Registry,
    Reply,
    file_too_big,
)
from bot.delivery import Buttons, Outcome, Result
from bot.i18n import _, language
from bot.slack_input import (
    BlockActions,
    EventCallback,
    HomeOpened,
    Malformed,
    MessageEvent,
    Part,
    SharedFile,
    SlashCommand,
    ViewState,
    ViewSubmission,
    read,
)

log = logging.getLogger(__name__)

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
# The one slash command of the app manifest: "/oppbot browse" is the core's "/browse".
SLASH_COMMAND = "/oppbot"
# Block Kit limits (https://docs.slack.dev/reference/block-kit).
MAX_SECTION_TEXT = 3000
MAX_BLOCKS = 50
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_MODAL_TITLE = 24
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
# Radio buttons show every choice at once; a longer list reads better as a menu.
MAX_RADIO_OPTIONS = 5
# Several sections make one message, but a reader scrolls past a wall of text: longer replies
# continue in a further message. Far below Slack's 40,000-character message limit.
SECTIONS_PER_MESSAGE = 4
CAPABILITIES = Capabilities(max_text=MAX_SECTION_TEXT, max_button_label=MAX_BUTTON_TEXT)
# Action ids are unique within a message ("oppbot.<row>.<column>"); the value is the payload.
ACTION_PREFIX = "oppbot."
# The button offered under a teacher's post in the announcements channel; its value is the
# post's ts (the text itself is read back when pressed, as it may have been edited since).
FORWARD_ACTION = "forward_to_students"
# The core's command that drafts an announcement ("/announce TEXT" goes straight to the audience).
ANNOUNCE = "announce"
MODAL_PREFIX = "oppbot_modal:"
# Where a request's checked parts (``slack_input``) wait in Bolt's context for the listener.
CHECKED = "oppbot_request"
# How old a signed request may be, in seconds (Slack's advice).
MAX_AGE = 5 * 60
FORWARD_OFFER = "Send this message to students? You'll choose who gets it in our DM."
FORWARDED = "Choose who gets it in our direct messages."
NOT_DOWNLOADED = "I couldn't fetch that file from Slack. Please try sending it again."
# Where Slack serves files shared with the bot; the bot token is sent nowhere else.
SLACK_FILES = ("https", "files.slack.com")
ANSWERED_IN_DM = "I've answered you in our direct messages (under Apps in the sidebar)."
# Errors that mean the person can no longer be written to in that channel.
UNREACHABLE_ERRORS = frozenset(
    {"channel_not_found", "account_inactive", "is_archived", "not_in_channel", "user_disabled"}
)
# Our token or our app's configuration is wrong: not the message's fault, and fixable by
# whoever runs the bot, so the message waits instead of failing for good.
OUR_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "missing_scope"}
)
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_ESCAPED_WIDTH = {"&": len("&amp;"), "<": len("&lt;"), ">": len("&gt;")}
_SLACK_REFERENCE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def to_mrkdwn(text: str) -> str:
    """Slack's escaping: user text can never format as a mention, link or <!channel>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def from_mrkdwn(text: str) -> str:
    """What a person typed, from the encoded text Slack delivers: <@U1>, <url|label>, &amp;."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target[:1] in ("@", "#"):
            return target[0] + label if label else target
        if target.startswith("!"):  # <!here>, <!subteam^S1|@team>
            return label or "@" + target[1:].split("^")[0]
        return label or target.removeprefix("mailto:")

    text = _SLACK_REFERENCE.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_escaped(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Escape ``text`` and cut it into pieces of at most ``limit`` characters *after* escaping,
    at paragraph, line or word ends, never inside an escape sequence."""
    pieces: list[str] = []
    rest = text.strip()
    while len(to_mrkdwn(rest)) > limit:
        escaped_sizes = list(itertools.accumulate(_ESCAPED_WIDTH.get(ch, 1) for ch in rest[:limit]))
        fits = bisect.bisect_right(escaped_sizes, limit)
        window = rest[:fits]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= fits // 2:
            cut = fits
        pieces.append(to_mrkdwn(rest[:cut].rstrip()))
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(to_mrkdwn(rest))
    return pieces


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage or chat.update: the blocks and their notification fallback."""

    text: str
    blocks: list[dict[str, Any]]


class Renderer:
    """Turns the core's plain replies into Slack messages.

    Commands in the core's wording ("send /browse") become "/oppbot browse": on Slack a bare
    "/join" would run Slack's own channel command, and "/browse" is no command at all.
    """

    def __init__(self, registry: Registry, slash_command: str = SLASH_COMMAND) -> None:
        words = sorted(
            {w.lower() for c in registry.commands.values() for w in (c.name, *c.aliases)},
            key=len,
            reverse=True,
        )
        names = "|".join(re.escape(w) for w in words if re.fullmatch(r"\w+", w))
        # Only a command word on its own: never "/b" in "</b>" or "/browse" inside a web address.
        self._commands = (
            re.compile(rf"(?<![^\s(\"'“‘])/({names})\b", re.IGNORECASE) if names else None
        )
        self.slash_command = slash_command

    def wording(self, text: str) -> str:
        if self._commands is None:
            return text
        return self._commands.sub(lambda m: f"{self.slash_command} {m.group(1)}", text)

    def render(self, text: str, buttons: Sequence[Sequence[Button]] = ()) -> list[SlackMessage]:
        """Sections of escaped mrkdwn, then the buttons, split over as few messages as fit."""
        sections = [
            {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
            for piece in split_escaped(self.wording(text))
        ]
        blocks = sections + action_blocks(buttons)
        messages: list[list[dict[str, Any]]] = [[]]
        for block in blocks:
            current = messages[-1]
            in_current = sum(b["type"] == "section" for b in current)
            if len(current) == MAX_BLOCKS or (
                block["type"] == "section" and in_current == SECTIONS_PER_MESSAGE
            ):
                messages.append(current := [])
            current.append(block)
        return [SlackMessage(_fallback(m), m) for m in messages if m]


def action_blocks(rows: Sequence[Sequence[Button]]) -> list[dict[str, Any]]:
    """One actions block per row of buttons (a row over 25 buttons continues in the next)."""
    blocks: list[dict[str, Any]] = []
    for r, row in enumerate(rows):
        elements = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": b.label[:MAX_BUTTON_TEXT], "emoji": True},
                "action_id": f"{ACTION_PREFIX}{r}.{c}",
                "value": b.payload,
            }
            for c, b in enumerate(row)
        ]
        for start in range(0, len(elements), MAX_ACTIONS):
            blocks.append({"type": "actions", "elements": elements[start : start + MAX_ACTIONS]})
    return blocks


def _fallback(blocks: list[dict[str, Any]]) -> str:
    """The text notifications and old clients show: the sections, or else the button labels."""
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    if not texts:
        texts = [", ".join(e["text"]["text"] for b in blocks for e in b["elements"])]
    return "\n\n".join(texts)[:MAX_SECTION_TEXT]


def as_buttons(rows: Buttons | None) -> tuple[tuple[Button, ...], ...]:
    """Outbox buttons ([[label, payload], ...] rows) as the core's ``Button`` rows."""
    return tuple(tuple(Button(label, payload) for label, payload in row) for row in rows or ())


def classify(error: SlackApiError) -> Result:
    """What the outbox sender should do after Slack refused a message."""
    response = error.response
    # A 5xx from a proxy has a plain-text body, not Slack's JSON.
    code = str(response.data.get("error") or "") if isinstance(response.data, dict) else ""
    if response.status_code == 429 or code in ("ratelimited", "rate_limited"):
        retry_after = float(response.headers.get("Retry-After", 1) or 1)
        return Result(Outcome.RETRY_AFTER, retry_after, code or "ratelimited")
    if code in UNREACHABLE_ERRORS:
        return Result(Outcome.UNREACHABLE, error=code)
    if response.status_code >= 500 or code in TRANSIENT_ERRORS:
        return Result(Outcome.TRANSIENT, error=f"HTTP {response.status_code} {code}".strip())
    if code in OUR_ERRORS:
        log.error("Slack refused our token or scopes (%s): check the app's installation", code)
        return Result(Outcome.TRANSIENT, error=code)
    return Result(Outcome.PERMANENT, error=code or f"HTTP {response.status_code}")


async def post(client: AsyncWebClient, channel: str, message: SlackMessage) -> None:
    await client.chat_postMessage(
        channel=channel,
        text=message.text,
        blocks=message.blocks,
        unfurl_links=False,
        unfurl_media=False,
    )


class SlackTransport:
    """Sends outbox messages with chat.postMessage; see ``bot.delivery``."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, renderer: Renderer) -> None:
        self.client = client
        self.renderer = renderer

    async def send(self, chat_id: str, text: str, buttons: Buttons | None) -> Result:
        try:
            for message in self.renderer.render(text, as_buttons(buttons)):
                await post(self.client, chat_id, message)
        except SlackApiError as error:
            return classify(error)
        except (aiohttp.ClientError, TimeoutError, SlackClientError) as error:
            return Result(Outcome.TRANSIENT, error=f"{type(error).__name__}: {error}")
        return Result(Outcome.SENT)


@dataclass(frozen=True)
class Modal:
    """A command whose free text is better written in a Slack modal than in a chat message.

    Run without arguments by someone allowed to, the command opens the modal; what they submit
    reaches the core as "/<command> <text>", exactly as if typed.
    """

    title: str  # at most 24 characters
    label: str
    placeholder: str
    max_length: int = 2000  # the longest text the core reads

    def view(self, command: str) -> dict[str, Any]:
        return {
            "type": "modal",
            "callback_id": f"{MODAL_PREFIX}{command}",
            "title": {"type": "plain_text", "text": self.title},
            "submit": {"type": "plain_text", "text": "Next"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "text",
                    "label": {"type": "plain_text", "text": self.label},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "text",
                        "multiline": True,
                        "max_length": self.max_length,
                        "placeholder": {"type": "plain_text", "text": self.placeholder},
                    },
                }
            ],
        }


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit]}


def form_view(command: str, form: Form) -> dict[str, Any]:
    """The modal that asks for ``form``'s fields, one input block each."""
    return {
        "type": "modal",
        "callback_id": f"{MODAL_PREFIX}{command}",
        "title": _plain(form.title, MAX_MODAL_TITLE),
        "submit": _plain(form.submit, MAX_MODAL_TITLE),
        "close": _plain("Cancel", MAX_MODAL_TITLE),
        "blocks": [_input_block(f) for f in form.fields],
    }


def _input_block(f: Field) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": f.name,
        "optional": f.optional,
        "label": _plain(f.label, MAX_LABEL),
        "element": _element(f),
    }
    if f.hint and "placeholder" not in block["element"]:
        block["hint"] = _plain(f.hint, MAX_LABEL)
    return block


def _element(f: Field) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": f.name}
    if f.kind in ("choice", "choices"):
        options = [
            {"text": _plain(label, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}
            for value, label in f.options[:MAX_OPTIONS]
        ]
        if f.kind == "choices":
            element["type"] = "multi_static_select"
        else:
            radio = len(options) <= MAX_RADIO_OPTIONS
            element["type"] = "radio_buttons" if radio else "static_select"
        element["options"] = options
        initial = [o for o in options if o["value"] == f.initial]
        if initial:
            element["initial_option"] = initial[0]
    elif f.kind == "date":
        element["type"] = "datepicker"
    elif f.kind == "number":
        element.update(type="number_input", is_decimal_allowed=False)
        if f.bounds is not None:
            element.update(min_value=str(f.bounds[0]), max_value=str(f.bounds[1]))
    elif f.kind == "url":
        element["type"] = "url_text_input"
    else:
        element["type"] = "plain_text_input"
        element["multiline"] = f.kind == "long_text"
        if f.max_length is not None:
            element["max_length"] = f.max_length
    if f.hint and element["type"] not in ("radio_buttons", "multi_static_select"):
        element["placeholder"] = _plain(f.hint, MAX_PLACEHOLDER)
    return element


def submitted(state: ViewState) -> dict[str, str]:
    """A submitted view's answers by block id, as the text a person would type for them."""
    return {
        block_id: element.answer
        for block_id, elements in state.values.items()
        for element in elements.values()
    }


MODALS = {
    ANNOUNCE: Modal(
        "New announcement",
        "Your message for students",
        "The careers fair is on Friday from 10:00 in the main hall…",
    )
}


@dataclass(frozen=True)
class Profile:
    name: str
    language: str | None


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
    """The checked request a listener was matched for (see ``slack_input``)."""
    request = context[CHECKED]
    assert isinstance(request, kind), f"{kind.__name__} expected, got {type(request).__name__}"
    return request


class SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with the requests checked first: a malformed one is
    acknowledged (or Slack sends it again) and dropped with one log line."""

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        try:
            bolt_request = checked_request(
                req.payload, mode="socket_mode", headers=build_headers(req)
            )
        except Malformed as error:
            log.warning("dropped a malformed Slack request: %s", error)
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
            return
        response = await self.app.async_dispatch(bolt_request)
        await send_async_response(client, req, response, started)


class SlackAdapter:
    """slack-bolt's AsyncApp, served inside our own event loop."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        *,
        on_handled: Callable[[], None] = lambda: None,
        concurrency: int = 16,
    ) -> None:
        if not settings.slack_bot_token:
            raise ValueError("OPPBOT_SLACK_BOT_TOKEN is not set")
        if settings.slack_mode == "http" and not settings.slack_signing_secret:
            raise ValueError("HTTP mode needs OPPBOT_SLACK_SIGNING_SECRET")
        self.core = core
        self.settings = settings
        self.on_handled = on_handled
        core.capabilities[PLATFORM] = CAPABILITIES
        self.client = AsyncWebClient(
            token=settings.slack_bot_token, base_url=settings.slack_api_url
        )
        self.renderer = Renderer(core.registry)
        # process_before_response: each listener below only acknowledges and schedules its
        # work, so the HTTP answer goes out as soon as it returns, and Bolt starts no
        # untracked background tasks of its own.
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret or "",
            process_before_response=True,
            name="oppbot",
        )
        self.app.command(re.compile(r"^/"))(self._on_command)
        self.app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}"))(self._on_button)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.view(re.compile(rf"^{re.escape(MODAL_PREFIX)}"))(self._on_modal)
        self.app.action(FORWARD_ACTION)(self._on_forward)
        self.port: int | None = None  # the HTTP port, once listening
        self.refusals = Refusals()
        self._concurrency = asyncio.Semaphore(concurrency)
        # Who may open a modal is looked up here, not behind the core's work in the default
        # pool: the modal's trigger expires 3 seconds after the command.
        self._lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-lookup")
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._dms: dict[str, str] = {}
        self._profiles: dict[str, Profile] = {}
        self._runner: web.AppRunner | None = None
        self._socket: SocketModeHandler | None = None

    async def start(self) -> None:
        # One connection pool for every Web API call (the default is a session per call).
        self.client.session = aiohttp.ClientSession()
        # A wrong token fails here, at start, rather than on the first person's message.
        identity = await self.client.auth_test()
        if self.settings.slack_mode == "socket":
            self._socket = SocketModeHandler(self.app, self.settings.slack_app_token)
            await self._socket.connect_async()
        else:
            web_app = web.Application()
            web_app.router.add_post(EVENTS_PATH, self._serve)
            self._runner = web.AppRunner(web_app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.slack_listen, self.settings.slack_port)
            await site.start()
            self.port = self._runner.addresses[0][1]
        log.info(
            "slack adapter running (%s mode) as %s in %s",
            self.settings.slack_mode,
            identity.get("user"),
            identity.get("team"),
        )

    async def stop(self) -> None:
        """Stop taking requests, finish the work already acknowledged, then close."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.idle()
        self._lookups.shutdown()
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None

    async def idle(self) -> None:
        """Wait until every acknowledged request has been handled and answered."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def transport(self) -> SlackTransport:
        return SlackTransport(self.client, self.renderer)

    async def _serve(self, request: web.Request) -> web.Response:
        """The HTTP endpoint: the signature is checked on the raw bytes before anything reads
        them, then the request is checked as a whole before Bolt dispatches it."""
        body = await request.read()
        if not signed(
            self.settings.slack_signing_secret or "",
            body,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
            time.time(),
        ):
            self.refusals.note()
            return web.Response(status=401, text="invalid signature")
        try:
            bolt_request = checked_request(
                body.decode(),
                request.content_type,
                query=request.query_string,
                headers=dict(request.headers),
            )
        except UnicodeDecodeError:
            log.warning("refused a malformed Slack request: not UTF-8")
            return web.Response(status=400, text="malformed request")
        except Malformed as error:
            log.warning("refused a malformed Slack request: %s", error)
            return web.Response(status=400, text="malformed request")
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    # -- listeners: acknowledge, then schedule ------------------------------------------------

    async def _on_command(
        self, ack: AsyncAck, context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        command = parsed(context, SlashCommand)
        await ack()
        text = command_text(command.command, command.text)
        name = text.removeprefix("/").lower()
        modal, form = MODALS.get(name), self._form(name)
        view = modal.view(name) if modal else form_view(name, form) if form else None
        if view is None:
            self._later(command.user_id, self._command(command, text, respond))
        else:
            # A trigger opens a modal only within 3 seconds: it cannot wait for this person's
            # other requests to be answered.
            self._track(self._open(command, text, view, respond))

    async def _on_button(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        click = parsed(context, BlockActions)
        await ack()
        self._later(click.user.id, self._button(click))

    async def _on_message(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        callback = parsed(context, EventCallback)
        event, user = callback.event, callback.event.user
        await ack()
        assert isinstance(event, MessageEvent)
        # Only what people write; our own messages, edits and joins arrive as events too.
        if event.bot_id or user is None:
            return
        if event.channel_type != "im":
            announcements = self.settings.slack_announce_channel
            if event.subtype is None and announcements and event.channel == announcements:
                self._later(user, self._offer_forward(user, event, callback.event_id))
        elif event.subtype == "file_share":
            self._later(user, self._files(user, event, callback.event_id))
        elif event.subtype is None:
            self._later(user, self._message(user, event, callback.event_id))

    async def _on_home_opened(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        event = parsed(context, EventCallback).event
        await ack()
        assert isinstance(event, HomeOpened)
        if event.tab == "home":
            self._later(event.user, self._home(event.user))

    async def _on_modal(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        submission = parsed(context, ViewSubmission)
        await ack()  # closes the modal; the answer comes in the DM
        view, user = submission.view, submission.user.id
        command = view.callback_id.removeprefix(MODAL_PREFIX)
        answers = submitted(view.state)
        form = self._form(command)
        text = form.write(answers) if form is not None else answers.get("text", "")
        self._later(user, self._run(user, f"view:{view.id}", f"/{command} {text}"))

    async def _on_forward(
        self, ack: AsyncAck, context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        click = parsed(context, BlockActions)
        await ack()
        self._later(click.user.id, self._forward(click, respond))

    def _later(self, user_id: str, work: Coroutine[Any, Any, object]) -> None:
        """Do ``work`` after ``user_id``'s earlier requests (answers depend on their order)."""
        self._track(self._in_turn(user_id, work))

    def _track(self, work: Coroutine[Any, Any, object]) -> None:
        """Do ``work`` now, in a task ``idle()`` waits for; a failure is logged, not raised."""

        async def logged() -> None:
            try:
                await work
            except Exception:
                log.exception("failed to answer a slack request")

        task = asyncio.create_task(logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _in_turn(self, user_id: str, work: Coroutine[Any, Any, object]) -> None:
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] = self._waiting.get(user_id, 0) + 1
        try:
            async with lock, self._concurrency:
                await work
        finally:
            self._waiting[user_id] -= 1
            if not self._waiting[user_id]:
                del self._waiting[user_id], self._locks[user_id]

    # -- the work -------------------------------------------------------------------------------

    async def _message(self, user: str, event: MessageEvent, event_id: str) -> None:
        self._dms[user] = event.channel
        replies = await self._handle(
            user, event.channel, f"event:{event_id}", text=from_mrkdwn(event.text or "")
        )
        for reply in replies:
            await self._say(event.channel, reply)

    async def _open(
        self, command: SlashCommand, text: str, view: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Open the command's modal, or run it in turn for someone who may not (the core
        refuses it in its own words)."""
        if await self._may_run(command.user_id, text.removeprefix("/").lower()):
            await self.client.views_open(trigger_id=command.trigger_id, view=view)
        else:
            self._later(command.user_id, self._command(command, text, respond))

    async def _command(self, command: SlashCommand, text: str, respond: AsyncRespond) -> None:
        channel = await self._run(command.user_id, f"command:{command.trigger_id}", text)
        if command.channel_id != channel:
            await respond(text=ANSWERED_IN_DM, response_type="ephemeral")

    async def _run(self, user: str, event_id: str, text: str) -> str:
        """Run ``text`` for ``user``, answer in their DM, and return the DM's channel id."""
        channel = await self._dm(user)
        for reply in await self._handle(user, channel, event_id, text=text):
            await self._say(channel, reply)
        return channel

    def _form(self, command: str) -> Form | None:
        """The form of ``command`` if it has one (and is the command's own name)."""
        registered = self.core.registry.commands.get(command)
        return registered.form if registered is not None else None

    async def _may_run(self, user: str, command: str) -> bool:
        """Whether ``user``'s role may run ``command`` (so that nobody fills in a modal only
        to be refused); the core checks again when the command runs."""
        registered = self.core.registry.find(command)
        loop = asyncio.get_running_loop()
        role = await loop.run_in_executor(self._lookups, self.core.role_of, PLATFORM, user)
        return registered is not None and role in registered.roles

    async def _offer_forward(self, user: str, event: MessageEvent, event_id: str) -> None:
        """Under a teacher's post in the announcements channel, a button only they can see."""
        if not await self._may_run(user, ANNOUNCE):
            return
        # The core never sees this event, so the adapter records it: a retried delivery, here
        # or in another process, offers the button once.
        if not await asyncio.to_thread(self.core.first_delivery, PLATFORM, f"offer:{event_id}"):
            return
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Send to students"},
            "action_id": FORWARD_ACTION,
            "value": event.ts,
        }
        await self.client.chat_postEphemeral(
            channel=event.channel,
            user=user,
            text=FORWARD_OFFER,
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": FORWARD_OFFER}},
                {"type": "actions", "elements": [button]},
            ],
        )

    async def _forward(self, click: BlockActions, respond: AsyncRespond) -> None:
        ts = click.action.value
        history = await self.client.conversations_history(
            channel=click.channel_id, latest=ts, inclusive=True, limit=1
        )
        posts = [m for m in history["messages"] if m.get("ts") == ts]
        if not posts:
            await respond(text="That message is gone.", replace_original=True)
            return
        text = from_mrkdwn(posts[0].get("text") or "")
        await self._run(click.user.id, f"action:{click.trigger_id}", f"/{ANNOUNCE} {text}")
        await respond(text=FORWARDED, replace_original=True)

    async def _button(self, click: BlockActions) -> None:
        user, where, ts = click.user.id, click.channel_id, click.container.message_ts
        channel = where if where.startswith("D") else await self._dm(user)
        replies = await self._handle(
            user, channel, f"action:{click.trigger_id}", payload=click.action.value
        )
        for reply in replies:
            if reply.replace and ts and where == channel and await self._update(channel, ts, reply):
                continue
            await self._say(channel, reply)

    async def _home(self, user: str) -> None:
        """The App Home tab: the commands this person may use, worded as the DM's /help."""
        loop = asyncio.get_running_loop()
        role = await loop.run_in_executor(self._lookups, self.core.role_of, PLATFORM, user)
        lang = await loop.run_in_executor(self._lookups, self.core.language_of, PLATFORM, user)
        with language(lang):
            intro = (
                _("Write to me in the Messages tab, or use these commands anywhere:")
                if role is not None
                else _(
                    "You haven't joined yet. Use /join with the invite code from your school, "
                    "or /start if you are a student."
                )
            )
            lines = self.core.registry.help_lines(role)
        text = self.renderer.wording("\n".join([intro, "", *lines]))
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
            for piece in split_escaped(text)
        ]
        await self.client.views_publish(user_id=user, view={"type": "home", "blocks": blocks})

    async def _files(self, user: str, event: MessageEvent, event_id: str) -> None:
        """Each file shared in the DM reaches the core on its own (a retried event: none)."""
        channel = event.channel
        self._dms[user] = channel
        for shared in event.files:
            if shared.size > MAX_FILE_BYTES:
                await self._say(channel, file_too_big(shared.size))
                continue
            content = await self._download(shared)
            if content is None:
                await self._say(channel, Reply(NOT_DOWNLOADED))
                continue
            file = Attachment(
                shared.name or "file", content, shared.mimetype or "application/octet-stream"
            )
            file_event = f"event:{event_id}:{shared.id}"
            for reply in await self._handle(user, channel, file_event, file=file):
                await self._say(channel, reply)

    async def _download(self, shared: SharedFile) -> bytes | None:
        """A shared file's bytes (a little over ``MAX_FILE_BYTES`` at most), or None."""
        url = shared.url_private_download or shared.url_private
        if not self._slacks(url):
            log.warning("not downloading shared file %s: not on Slack's hosts", shared.id)
            return None
        session = self.client.session
        assert session is not None, "start() the adapter first"
        token = self.settings.slack_bot_token
        content = bytearray()
        try:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                # aiohttp drops the token when a redirect leaves the host; what another host
                # serves is not the file that was shared.
                if not self._slacks(str(response.url)):
                    log.warning("not downloading %s: redirected away from Slack", shared.id)
                    return None
                # Without files:read Slack answers with its login page, not an error.
                if response.status != 200 or (
                    response.content_type == "text/html" and shared.filetype != "html"
                ):
                    log.error(
                        "could not download %s (HTTP %s, %s): has the app the files:read scope?",
                        shared.id,
                        response.status,
                        response.content_type,
                    )
                    return None
                async for chunk in response.content.iter_chunked(64 * 1024):
                    content += chunk
                    if len(content) > MAX_FILE_BYTES:
                        break  # the core refuses it; the rest need not be read
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not download %s: %s", shared.id, error)
            return None
        return bytes(content)

    def _slacks(self, url: str) -> bool:
        """Whether ``url`` is on Slack's file server or the configured Web API's host: the only
        places the bot token is sent."""
        target, api = urlsplit(url), urlsplit(self.settings.slack_api_url)
        return (target.scheme, target.hostname) == SLACK_FILES or (
            target.scheme,
            target.netloc,
        ) == (api.scheme, api.netloc)

    async def _handle(
        self, user: str, channel: str, event_id: str, **what: str | Attachment
    ) -> list[Reply]:
        profile = await self._profile(user)
        incoming = Incoming(
            platform=PLATFORM,
            user_id=user,
            chat_id=channel,
            display_name=profile.name,
            language=profile.language,
            event_id=event_id,
            **what,  # type: ignore[arg-type]
        )
        replies = await asyncio.to_thread(self.core.handle, incoming)
        self.on_handled()
        return replies

    async def _say(self, channel: str, reply: Reply) -> None:
        """Post in the person's DM, with the reply's file (a calendar export) after the text."""
        for message in self.renderer.render(reply.text, reply.buttons):
            await self._patiently(lambda m=message: post(self.client, channel, m))
        if reply.file is not None:
            file = reply.file
            await self._patiently(
                lambda: self.client.files_upload_v2(
                    channel=channel,
                    content=file.content,
                    filename=file.filename,
                    title=file.filename,
                )
            )

    @staticmethod
    async def _patiently(call: Callable[[], Awaitable[Any]], attempts: int = 3) -> None:
        """Make a Web API call; when Slack asks us to slow down, wait as asked and retry."""
        for attempt in range(1, attempts + 1):
            try:
                await call()
                return
            except SlackApiError as error:
                result = classify(error)
                if result.outcome is not Outcome.RETRY_AFTER or attempt == attempts:
                    raise
                await asyncio.sleep(result.retry_after)

    async def _update(self, channel: str, ts: str, reply: Reply) -> bool:
        """Replace the clicked message; False if it cannot be (too long, deleted)."""
        messages = self.renderer.render(reply.text, reply.buttons)
        if len(messages) != 1:
            return False
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=messages[0].text, blocks=messages[0].blocks
            )
        except SlackApiError as error:
            log.info("could not update message %s: %s", ts, error)
            return False
        return True

    async def _dm(self, user: str) -> str:
        """The id of the person's DM with the bot, where every answer goes."""
        if user not in self._dms:
            response = await self.client.conversations_open(users=user)
            self._dms[user] = response["channel"]["id"]
        return self._dms[user]

    async def _profile(self, user: str) -> Profile:
        """Name and language from users.info; the core uses them when it meets someone new."""
        if user not in self._profiles:
            try:
                response = await self.client.users_info(user=user, include_locale=True)
            except SlackApiError as error:
                log.warning("users.info failed: %s", error)
                return Profile("", None)
            info = response["user"]
            profile = info.get("profile") or {}
            name = profile.get("real_name") or profile.get("display_name") or info.get("name")
            locale = info.get("locale")
            self._profiles[user] = Profile(name or "", locale.split("-")[0] if locale else None)
        return self._profiles[user]


def command_text(command: str, text: str) -> str:
    """The core's command for a slash command: "/oppbot invite x" is "/invite x"."""
    words = from_mrkdwn(text).strip()
    if command.lower() != SLASH_COMMAND:
        return f"{command} {words}".strip()
    if not words:
        return "/help"
    return "/" + words.removeprefix("/")
