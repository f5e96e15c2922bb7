"""The Slack adapter: slack-bolt's AsyncApp around the core, in HTTP mode or Socket Mode.

Every request is acknowledged at once and the work runs after, in a task this adapter owns:
Slack retries whatever is not acknowledged within 3 seconds, and a retried event must not be
answered twice. Each event, slash command and button click reaches the core with a stable
event id (the event's ``event_id``, the command's or click's ``trigger_id``), so a delivery that
arrives twice, in this process or another, is applied once. Work for one person runs in order,
different people concurrently (``bot.ordering``); the core runs in a worker thread.

Everything the bot says goes to the person's direct message with the bot, whose channel id is
their account's chat id: button clicks, dialogs and outbox messages all live there.

Two Slack-only front doors lead into the same core flows: ``/announce`` (or ``/oppbot
announce``) opens a modal whose text becomes "/announce TEXT", and a teacher's post in the
announcements channel gets a "Send to students" button, visible to them alone, that does the same
with the post's text. A command with a ``Form`` (``/publish``) opens it as a modal
(``bot.slack.forms``). Errors in either come back in the DM, like every other answer.

The App Home is the member's ``Dashboard`` (``bot.slack.home``), published when they open it,
after they press a button on it, and, rate-limited, after the outbox sent them a message.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

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
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import logs
from bot.config import Settings
from bot.core import MAX_FILE_BYTES, Attachment, Core, Form, Incoming, Reply, file_too_big
from bot.i18n import N_, _, _p, language
from bot.ordering import InTurn
from bot.slack.files import NOT_DOWNLOADED, download
from bot.slack.forms import (
    ANNOUNCE,
    FORM_SOURCE,
    MODAL_PREFIX,
    OPTIONS_PREFIX,
    PREVIEW_PREFIX,
    field_errors,
    form_view,
    metadata,
    option_list,
    own_choices,
    preview_view,
    submitted_text,
    unpacked,
)
from bot.slack.home import SHORTCUT_PREFIX, home_view
from bot.slack.render import (
    ACTION_PREFIX,
    CAPABILITIES,
    Renderer,
    command_text,
    from_mrkdwn,
    sections,
)
from bot.slack.requests import (
    BlockActions,
    BlockSuggestion,
    EventCallback,
    HomeOpened,
    Malformed,
    MessageEvent,
    Refusals,
    SharedFile,
    ShownView,
    SlashCommand,
    View,
    ViewSubmission,
    checked_request,
    parsed,
    signed,
)
from bot.slack.transport import PLATFORM, SlackTransport, post, web_client
from storage.outbox import MessageRef

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# The button offered under a teacher's post in the announcements channel; its value is the
# post's ts (the text itself is read back when pressed, as it may have been edited since).
FORWARD_ACTION = "forward_to_students"
FORWARD_OFFER = N_("Send this message to students? You'll choose who gets it in our DM.")
FORWARDED = N_("Choose who gets it in our direct messages.")
ANSWERED_IN_DM = N_("I've answered you in our direct messages (under Apps in the sidebar).")
# An App Home is published again at most this often (seconds) when something for its owner
# changes; a burst of messages to one person becomes one refresh at the end of the interval.
HOME_EVERY = 10.0


@dataclass(frozen=True)
class Profile:
    name: str
    language: str | None


class SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with the requests checked first: a malformed one is
    acknowledged (or Slack sends it again) and dropped with one log line."""

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        logs.request_id.set(req.envelope_id)
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

    # Long because it wires every bolt listener to the core in one place, each a few lines.
    def __init__(
        self,
        core: Core,
        settings: Settings,
        *,
        on_queued: Callable[[], None] = lambda: None,
        concurrency: int = 16,
        home_every: float = HOME_EVERY,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        token = settings.slack_bot_token
        if not token:
            raise ValueError("OPPBOT_SLACK_BOT_TOKEN is not set")
        if settings.slack_mode == "http" and not settings.slack_signing_secret:
            raise ValueError("HTTP mode needs OPPBOT_SLACK_SIGNING_SECRET")
        self.core = core
        self.settings = settings
        self.on_queued = on_queued
        core.capabilities[PLATFORM] = CAPABILITIES
        # Answers wait out a rate limit; the outbox's messages are paced by its sender instead.
        self.client = web_client(token, settings.slack_api_url, wait_out_rate_limits=True)
        self._outbox_client = web_client(token, settings.slack_api_url, wait_out_rate_limits=False)
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
        self.app.view(re.compile(rf"^{re.escape(PREVIEW_PREFIX)}"))(self._on_preview)
        self.app.options(re.compile(rf"^{re.escape(OPTIONS_PREFIX)}"))(self._on_options)
        self.app.action(FORWARD_ACTION)(self._on_forward)
        self.app.action(re.compile(rf"^{re.escape(SHORTCUT_PREFIX)}"))(self._on_shortcut)
        # Last, as Bolt runs the first listener that matches: any other action is a live
        # input of a modal changing.
        self.app.action(re.compile(""))(self._on_input)
        self.home_every = home_every
        # Whose App Home was published (by their DM's id), and when: only those are refreshed.
        self._home_chats: dict[str, str] = {}
        self._home_at: dict[str, float] = {}
        self._home_timers: dict[str, asyncio.TimerHandle] = {}
        self.port: int | None = None  # the HTTP port, once listening
        self.refusals = Refusals()
        self._turns: InTurn[str] = InTurn(concurrency)
        # Who may open a modal is looked up here, not behind the core's work in the default
        # pool: the modal's trigger expires 3 seconds after the command.
        self._lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-lookup")
        self._tasks: set[asyncio.Task[None]] = set()
        self._dms: dict[str, str] = {}
        self._profiles: dict[str, Profile] = {}
        self._runner: web.AppRunner | None = None
        self._socket: SocketModeHandler | None = None
        self._routes = list(routes)  # served beside the events endpoint (health, metrics)

    async def start(self) -> None:
        # One connection pool for every Web API call (the default is a session per call).
        self.client.session = self._outbox_client.session = aiohttp.ClientSession()
        # A wrong token fails here, at start, rather than on the first person's message.
        identity = await self.client.auth_test()
        if self.settings.slack_mode == "socket":
            self._socket = SocketModeHandler(self.app, self.settings.slack_app_token)
            # slack_bolt leaves connect_async and close_async unannotated.
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        else:
            web_app = web.Application()
            web_app.router.add_post(EVENTS_PATH, self._serve)
            web_app.add_routes(self._routes)
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
            # Unannotated in slack_bolt, like connect_async.
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for timer in self._home_timers.values():
            timer.cancel()
        self._home_timers.clear()
        await self.idle()
        self._lookups.shutdown()
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = self._outbox_client.session = None

    async def idle(self) -> None:
        """Wait until every acknowledged request has been handled and answered."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def transport(self) -> SlackTransport:
        return SlackTransport(self._outbox_client, self.renderer, on_sent=self._sent_to)

    def _sent_to(self, chat_id: str) -> None:
        user = self._home_chats.get(chat_id)
        if user is not None:
            self.refresh_home(user)

    def refresh_home(self, user: str) -> None:
        """Publish ``user``'s App Home again: now, or once ``home_every`` seconds have passed
        since the last time (one refresh however many changes came in between)."""
        if user in self._home_timers:
            return
        wait = self._home_at.get(user, -math.inf) + self.home_every - time.monotonic()
        if wait <= 0:
            self._later(user, self._home(user))
            return

        def due() -> None:
            del self._home_timers[user]
            self.refresh_home(user)

        self._home_timers[user] = asyncio.get_running_loop().call_later(wait, due)

    async def _serve(self, request: web.Request) -> web.Response:
        """The HTTP endpoint: the signature is checked on the raw bytes before anything reads
        them, then the request is checked as a whole before Bolt dispatches it."""
        # Every log line about this request and the work it schedules carries this id.
        logs.request_id.set(uuid.uuid4().hex[:16])
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
        form = self._form(name)
        if form is None:
            self._later(command.user_id, self._command(command, text, respond))
        else:
            # A trigger opens a modal only within 3 seconds: it cannot wait for this person's
            # other requests to be answered.
            self._track(self._open(command, text, form, respond))

    async def _on_button(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        click = parsed(context, BlockActions)
        await ack()
        opened = self._button_form(click.action.value)
        if opened is None:
            self._later(click.user.id, self._button(click))
        else:
            # Like a command's modal, it must open within the trigger's 3 seconds.
            self._track(self._open_button_form(click, *opened))

    def _button_form(self, payload: str) -> tuple[str, Form, str] | None:
        """The command, form and given lines a button opens as a modal (its action names a
        form, and the payload's parts fill the form's first fields), or None."""
        name, *parts = payload.split(":")
        action = self.core.registry.actions.get(name)
        command = action.form if action is not None else None
        form = self._form(command) if command is not None else None
        if command is None or form is None:
            return None
        given = dict(zip((f.name for f in form.fields), parts, strict=False))
        return command, form, form.write(given)

    async def _open_button_form(
        self, click: BlockActions, command: str, form: Form, given: str
    ) -> None:
        """The button's form as a modal; pressed as in a chat if its summary refuses (the
        thing it is about is gone, done, or not this person's) or the person may not."""
        user = click.user.id
        summary = await self._lookup(user, form.summary, given) if form.summary else None
        refused = summary is not None and bool(summary.field_errors)
        if refused or not await self._may_run(user, command):
            self._later(user, self._button(click))
            return
        text = summary.text if summary is not None else ""
        # In the language of the person who pressed, as the core answers them.
        with language(await self._language(user)):
            view = form_view(command, form, summary=text, metadata=metadata("", given) or "")
        await self.client.views_open(trigger_id=click.trigger_id, view=view)

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
            if event.channel:
                self._home_chats[event.channel] = event.user
            self._later(event.user, self._home(event.user))

    async def _on_modal(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        submission = parsed(context, ViewSubmission)
        view, user = submission.view, submission.user.id
        command = view.callback_id.removeprefix(MODAL_PREFIX)
        form = self._form(command)
        if form is None:
            await ack()
            return
        # Fields a button filled in travel in the metadata, not on the form.
        given = unpacked(view.private_metadata)[1]
        text = "\n".join(t for t in (given, submitted_text(form, view.state)) if t)
        if form.preview:
            await self._preview(ack, user, view, form, text)
            return
        # A form's problems belong on its own fields, with what was typed kept: the core runs
        # before the answer to Slack, which keeps the modal open with them shown.
        channel = await self._dm(user)
        replies = await self._handle(user, channel, f"view:{view.id}", text=f"/{command} {text}")
        errors = {name: problem for r in replies for name, problem in r.field_errors}
        if errors:
            await ack(response_action="errors", errors=field_errors(errors))
            return
        await ack()
        self._track(self._say_all(channel, replies))
        if user in self._home_at:
            # What the form did may change what their Home shows (a question answered).
            self.refresh_home(user)

    async def _preview(self, ack: AsyncAck, user: str, view: View, form: Form, text: str) -> None:
        """The form's preview pushed over it (Back returns to the form as it was), or its
        problems on its fields; nothing is sent yet."""
        command = view.callback_id.removeprefix(MODAL_PREFIX)
        reply = await self._lookup(user, form.preview, text)
        if reply is None:  # not theirs to send (any more): the core says so
            await ack()
            self._later(user, self._run(user, f"view:{view.id}", f"/{command}"))
            return
        errors = dict(reply.field_errors)
        carried = metadata(unpacked(view.private_metadata)[0], text)
        if carried is None:
            with language(await self._language(user)):
                errors.setdefault(form.fields[0].name, _("Please shorten it a little."))
        if errors or carried is None:
            await ack(response_action="errors", errors=field_errors(errors))
            return
        blocks = sections(self.renderer.wording(reply.text))
        with language(await self._language(user)):
            pushed = preview_view(command, form, blocks, carried)
        await ack(response_action="push", view=pushed)

    async def _on_preview(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        """Send from a form's preview: done, every view closed and the result posted where
        the command was typed; or the problem shown in place of the preview (Back to fix)."""
        submission = parsed(context, ViewSubmission)
        view, user = submission.view, submission.user.id
        command = view.callback_id.removeprefix(PREVIEW_PREFIX)
        form = self._form(command)
        where, text = unpacked(view.private_metadata)
        if form is None or not text:
            await ack()
            return
        channel = await self._dm(user)
        replies = await self._handle(user, channel, f"view:{view.id}", text=f"/{command} {text}")
        problems = [r for r in replies if r.field_errors]
        if problems:
            with language(await self._language(user)):
                wording = self.renderer.wording(
                    problems[0].text + "\n\n" + _("Press Back to change it.")
                )
                refused = preview_view(command, form, sections(wording), "", send=False)
            await ack(response_action="update", view=refused)
            return
        await ack(response_action="clear")
        self._track(self._say_where(where, channel, replies))

    async def _say_where(self, where: str, dm: str, replies: list[Reply]) -> None:
        """Post ``replies`` in the channel ``where`` a command was typed, or in the DM if the
        bot may not post there (not a member, or a channel of its own kind)."""
        for reply in replies:
            if where and where != dm:
                try:
                    await self._say(where, reply)
                    continue
                except SlackApiError as error:
                    log.info("could not answer in the command's channel: %s", error)
                    where = ""
            await self._say(dm, reply)

    async def _on_input(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        """A live input of a form changed: the form is shown again with its summary anew."""
        change = parsed(context, BlockActions)
        await ack()
        view = change.view
        if view is None or not view.callback_id.startswith(MODAL_PREFIX):
            return
        command = view.callback_id.removeprefix(MODAL_PREFIX)
        form = self._form(command)
        if form is not None and form.summary:
            self._later(change.user.id, self._summarise(change.user.id, command, form, view))

    async def _summarise(self, user: str, command: str, form: Form, view: ShownView) -> None:
        reply = await self._lookup(user, form.summary, submitted_text(form, view.state))
        if reply is None:
            return
        with language(await self._language(user)):
            shown = form_view(command, form, summary=reply.text, metadata=view.private_metadata)
        try:
            # The hash makes Slack refuse this if the view changed since (a newer summary).
            await self.client.views_update(view_id=view.id, hash=view.hash, view=shown)
        except SlackApiError as error:
            log.info("could not update a form's summary: %s", error)

    async def _lookup(self, user: str, name: str, text: str) -> Reply | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._lookups, self.core.lookup, PLATFORM, user, name, text
        )

    async def _on_options(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        """A search field's choices for what was typed, answered at once (Slack waits)."""
        suggestion = parsed(context, BlockSuggestion)
        source = suggestion.action_id.removeprefix(OPTIONS_PREFIX)
        if source.startswith(FORM_SOURCE):
            command, _dot, field = source.removeprefix(FORM_SOURCE).partition(".")
            with language(await self._language(suggestion.user.id)):
                choices = own_choices(self._form(command), field, suggestion.value)
            await ack(options=option_list(choices))
            return
        loop = asyncio.get_running_loop()
        choices = await loop.run_in_executor(
            self._lookups,
            self.core.options,
            PLATFORM,
            suggestion.user.id,
            source,
            suggestion.value,
        )
        await ack(options=option_list(choices))

    async def _say_all(self, channel: str, replies: list[Reply]) -> None:
        for reply in replies:
            await self._say(channel, reply)

    async def _on_forward(
        self, ack: AsyncAck, context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        click = parsed(context, BlockActions)
        await ack()
        self._later(click.user.id, self._forward(click, respond))

    async def _on_shortcut(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        """A shortcut on the App Home: the command's modal if it has one, else the command
        run as if typed, answered in the DM."""
        click = parsed(context, BlockActions)
        await ack()
        user, name = click.user.id, click.action.value
        form = self._form(name)
        if form is not None and await self._may_run(user, name):
            self._track(self._open_form(user, click.trigger_id, name, form, ""))
        else:
            self._later(user, self._run(user, f"action:{click.trigger_id}", f"/{name}"))

    def _later(self, user_id: str, work: Coroutine[Any, Any, object]) -> None:
        """Do ``work`` after ``user_id``'s earlier requests (answers depend on their order)."""
        self._track(self._turns.run(user_id, work))

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

    # -- the work -------------------------------------------------------------------------------

    async def _message(self, user: str, event: MessageEvent, event_id: str) -> None:
        self._dms[user] = event.channel
        replies = await self._handle(
            user, event.channel, f"event:{event_id}", text=from_mrkdwn(event.text or "")
        )
        for reply in replies:
            # Answered where it was written: in its thread, if it was written in one.
            await self._say(event.channel, reply, thread_ts=event.thread_ts)

    async def _open(
        self, command: SlashCommand, text: str, form: Form, respond: AsyncRespond
    ) -> None:
        """Open the command's modal, or run it in turn for someone who may not (the core
        refuses it in its own words)."""
        name = text.removeprefix("/").lower()
        if await self._may_run(command.user_id, name):
            await self._open_form(
                command.user_id, command.trigger_id, name, form, command.channel_id
            )
        else:
            self._later(command.user_id, self._command(command, text, respond))

    async def _open_form(
        self, user: str, trigger_id: str, name: str, form: Form, channel: str
    ) -> None:
        """Open ``form`` as a modal that remembers ``channel`` (where the result goes)."""
        summary = ""
        if form.summary:
            reply = await self._lookup(user, form.summary, "")
            summary = reply.text if reply is not None else ""
        with language(await self._language(user)):
            view = form_view(name, form, summary=summary, metadata=metadata(channel) or "")
        await self.client.views_open(trigger_id=trigger_id, view=view)

    async def _command(self, command: SlashCommand, text: str, respond: AsyncRespond) -> None:
        channel = await self._run(command.user_id, f"command:{command.trigger_id}", text)
        if command.channel_id != channel:
            with language(await self._language(command.user_id)):
                await respond(text=_(ANSWERED_IN_DM), response_type="ephemeral")

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
        with language(await self._language(user)):
            label, offer = _p("button", "Send to students"), _(FORWARD_OFFER)
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": FORWARD_ACTION,
            "value": event.ts,
        }
        await self.client.chat_postEphemeral(
            channel=event.channel,
            user=user,
            text=offer,
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": offer}},
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
            with language(await self._language(click.user.id)):
                await respond(text=_("That message is gone."), replace_original=True)
            return
        text = from_mrkdwn(posts[0].get("text") or "")
        await self._run(click.user.id, f"action:{click.trigger_id}", f"/{ANNOUNCE} {text}")
        with language(await self._language(click.user.id)):
            await respond(text=_(FORWARDED), replace_original=True)

    async def _button(self, click: BlockActions) -> None:
        user, where, ts = click.user.id, click.channel_id, click.container.message_ts
        channel = where if where.startswith("D") else await self._dm(user)
        replies = await self._handle(
            user, channel, f"action:{click.trigger_id}", payload=click.action.value
        )
        for reply in replies:
            if reply.replace and ts and where == channel and await self._update(channel, ts, reply):
                continue
            # Pressed in a thread, answered there; pressed on a message whose answer belongs
            # with it (an application's notification), answered in its thread.
            thread = click.container.thread_ts or (ts if reply.in_thread else "")
            await self._say(channel, reply, thread_ts=thread if where == channel else None)
        if click.container.type == "view":
            # Pressed on the App Home, which shows what changed at once.
            await self._home(user)

    async def _home(self, user: str) -> None:
        """The App Home tab: the member's dashboard; for anyone without one, the commands they
        may use, worded as the DM's /help."""
        self._home_at[user] = time.monotonic()
        loop = asyncio.get_running_loop()
        dashboard = await loop.run_in_executor(self._lookups, self.core.dashboard, PLATFORM, user)
        lang = await self._language(user)
        if dashboard is not None:
            with language(lang):
                view = home_view(dashboard, self.renderer)
            await self.client.views_publish(user_id=user, view=view)
            return
        role = await loop.run_in_executor(self._lookups, self.core.role_of, PLATFORM, user)
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
        await self.client.views_publish(
            user_id=user, view={"type": "home", "blocks": sections(text)}
        )

    async def _language(self, user: str) -> str:
        """The language we speak with ``user``, for what the adapter says without the core."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._lookups, self.core.language_of, PLATFORM, user)

    async def _files(self, user: str, event: MessageEvent, event_id: str) -> None:
        """Each file shared in the DM reaches the core on its own (a retried event: none)."""
        channel = event.channel
        self._dms[user] = channel
        for shared in event.files:
            if shared.size > MAX_FILE_BYTES:
                with language(await self._language(user)):
                    too_big = file_too_big(shared.size)
                await self._say(channel, too_big)
                continue
            content = await self._download(shared)
            if content is None:
                with language(await self._language(user)):
                    await self._say(channel, Reply(_(NOT_DOWNLOADED)))
                continue
            file = Attachment(
                shared.name or "file", content, shared.mimetype or "application/octet-stream"
            )
            file_event = f"event:{event_id}:{shared.id}"
            for reply in await self._handle(user, channel, file_event, file=file):
                await self._say(channel, reply)

    async def _download(self, shared: SharedFile) -> bytes | None:
        """The file's bytes, fetched in the adapter's connection pool, or None."""
        session = self.client.session
        assert session is not None, "start() the adapter first"
        token = self.client.token or ""
        return await download(session, shared, token, self.settings.slack_api_url)

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
        handled = await asyncio.to_thread(self.core.respond, incoming)
        if handled.queued:
            self.on_queued()
        return handled.replies

    async def _say(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> None:
        """Post in the person's DM, with the reply's file (a calendar export) after the text.
        The person is waiting: ``self.client`` waits out a rate limit and tries again."""
        for n, message in enumerate(self.renderer.render(reply.text, reply.buttons)):
            ref = await post(self.client, channel, message, thread_ts=thread_ts or None)
            if n == 0:
                await self._shown(reply, ref)
        if reply.file is not None:
            file = reply.file
            await self.client.files_upload_v2(
                channel=channel, content=file.content, filename=file.filename, title=file.filename
            )

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
        await self._shown(reply, MessageRef(channel, ts))
        return True

    async def _shown(self, reply: Reply, ref: MessageRef) -> None:
        """Tell the core where a tracked reply went, so that it can be edited later."""
        if reply.track is not None:
            await asyncio.to_thread(self.core.shown, reply.track, ref)

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
